import PlanModel

/// Activation memory of one micro-batch, by where it is kept.
public struct ActivationBytes: Sendable, Equatable {
    /// Input ids kept by the embedding (and GPT-2's position ids and embedding dropout mask).
    public var embedding: Int = 0
    /// All decoder layers on the GPU together.
    public var layers: Int = 0
    /// One decoder layer (the largest), for the recompute working memory of checkpointing.
    public var largestLayer: Int = 0
    public var finalNorm: Int = 0
    /// The output layer's input and what the loss keeps of the logits.
    public var outputAndLoss: Int = 0
    /// Tensors shared by all layers (rotary cos/sin).
    public var shared: Int = 0

    public var total: Int { embedding + layers + finalNorm + outputAndLoss + shared }
}

/// Bytes PyTorch autograd keeps for the backward pass after a training forward pass with labels,
/// for Hugging Face `transformers` decoders.
///
/// Calibrated term by term against real measurements (torch 2.15, transformers 5.24, CPU,
/// `saved_tensors_hooks`, each storage counted once, parameters excluded): see
/// docs/calibration/findings.md and docs/estimator.md. Symbols: T = b·s tokens, h hidden, a and k
/// the query and KV heads on this GPU, d head_dim, i intermediate, V vocabulary, e bytes per
/// element of the compute dtype. fp32 upcasts inside norms and the loss are always 4 bytes.
public enum Activations {
    public struct Shape: Sendable {
        public var batch: Int
        public var seq: Int
        /// Bytes per element of the compute dtype (bf16/fp16 2, fp32 4).
        public var elementBytes: Int
        public var attention: AttentionImplementation
        public var checkpointing: Bool
        public var tp: Int
        /// Whether the forward creates a KV cache (transformers' default `use_cache=True`; off with checkpointing).
        public var useCache: Bool
        /// A fused/compiled cross-entropy that keeps 16-bit logits and an fp32 logsumexp.
        public var fusedLoss: Bool
        /// transformers' per-expert loop (`experts_implementation="eager"`) instead of grouped GEMMs.
        public var eagerExperts: Bool
        /// LoRA adapters on a frozen base (PEFT), if any.
        public var lora: LoRASpec?

        public init(
            batch: Int, seq: Int, elementBytes: Int, attention: AttentionImplementation, checkpointing: Bool, tp: Int = 1,
            useCache: Bool? = nil
        ) {
            self.batch = batch
            self.seq = seq
            self.elementBytes = elementBytes
            self.attention = attention
            self.checkpointing = checkpointing
            self.tp = max(tp, 1)
            self.useCache = useCache ?? !checkpointing
            self.fusedLoss = false
            self.eagerExperts = false
            self.lora = nil
        }
    }

    /// PEFT LoRA on a frozen base: rank, adapted modules, and the adapters' dtype (PEFT keeps them
    /// in fp32 on a 16-bit model by default, `autocast_adapter_dtype=True`).
    public struct LoRASpec: Sendable, Equatable {
        public var rank: Int
        public var targets: Set<String>
        public var adapterBytes: Int
        public init(rank: Int, targets: Set<String>, adapterBytes: Int) {
            self.rank = rank
            self.targets = targets
            self.adapterBytes = adapterBytes
        }
    }

    enum Family { case llama, gemma2, gpt2 }

    static func family(_ a: ModelArchitecture) -> Family {
        switch a.modelType {
        case "gpt2": .gpt2
        case "gemma2", "gemma3_text": .gemma2
        default: .llama
        }
    }

    /// Saved-for-backward bytes for the layers `layerRange` (a pipeline stage), with or without the
    /// embedding and the output layer.
    public static func training(
        _ a: ModelArchitecture, _ x: Shape, layerRange: Range<Int>? = nil, embedding: Bool = true, output: Bool = true
    ) -> ActivationBytes {
        let range = layerRange ?? 0..<a.layers
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let h = a.hiddenSize
        let v = (a.vocabSize + x.tp - 1) / x.tp
        let fam = family(a)
        var r = ActivationBytes()

        // Loss (ForCausalLMLoss): log_softmax of fp32 logits 4TV; the shifted int64 labels (for b = 1 the
        // padded (1, s+1) storage); nll_loss's fp32 total_weight.
        let labels = (b > 1 ? 8 * t : 8 * (s + 1)) + 4
        let loss = x.fusedLoss ? e * t * v + 4 * t + labels : 4 * t * v + labels
        let norm: Int
        switch fam {
        case .llama:
            // LlamaRMSNorm: fp32 copy of the input 4Th, rsqrt 4T, normalized input in the model dtype eTh.
            norm = 4 * t * h + 4 * t + e * t * h
            if embedding { r.embedding = 8 * t }
            r.shared = 2 * s * a.headDim * e  // rotary cos and sin, shared by every layer
        case .gemma2:
            // Gemma2RMSNorm computes in fp32: input copy 4Th, rsqrt 4T, normalized 4Th, (1 + weight) 4h.
            norm = 8 * t * h + 4 * t + 4 * h
            if embedding { r.embedding = 8 * t }
            r.shared = 2 * s * a.headDim * e
        case .gpt2:
            // LayerNorm keeps its input, mean and rstd.
            norm = e * t * h + 2 * e * t
            let drop = a.dropout > 0 ? e * t * h : 0
            if embedding { r.embedding = 8 * t + 8 * s + drop }
        }
        // A frozen embedding keeps no ids; a frozen output layer keeps no input, so the final
        // RMSNorm's normalized output is not kept either (measured with PEFT).
        let frozen = x.lora != nil && fam == .llama
        if frozen { r.embedding = 0 }
        if output {
            r.finalNorm = frozen ? norm - e * t * h : norm
            let softcap = (fam == .gemma2 && a.finalLogitSoftcap != nil) ? e * t * v : 0
            r.outputAndLoss = (frozen ? 0 : e * t * h) + softcap + loss
        }
        // Layers differ only by whether they use the sliding window: compute each kind once.
        var slidingCount = 0
        for l in range where l < a.slidingLayers.count && a.slidingLayers[l] { slidingCount += 1 }
        let kinds = [(range.count - slidingCount, false), (slidingCount, true)].filter { $0.0 > 0 }
        var sum = 0
        var largest = 0
        for (count, sliding) in kinds {
            let index = sliding ? a.slidingLayers.firstIndex(of: true)! : (a.slidingLayers.firstIndex(of: false) ?? 0)
            let full = layer(a, x, index: index, norm: norm)
            largest = max(largest, full)
            // Full recomputation keeps only each layer's input hidden state.
            sum += count * (x.checkpointing ? e * t * h : full)
        }
        if frozen, !x.checkpointing, range.contains(0), let lora = x.lora {
            sum -= loraFirstLayerSavings(a, x, lora, norm: norm)
        }
        if frozen, !x.checkpointing, a.moe != nil, let lora = x.lora {
            // Per-layer MoE layouts (dense and sparse layers differ): each layer's MLP under LoRA.
            let i = (a.intermediateSize + x.tp - 1) / x.tp
            for l in range { sum += loraMoEMLPDelta(a, x, lora, layer: l, i: i) }
        }
        r.layers = sum
        r.largestLayer = largest
        if x.checkpointing { r.shared = 0 }
        return r
    }

    /// Layer 0's input (the embedding output) needs no gradient under LoRA, so what only its
    /// gradient needed is not kept (measured with PEFT, docs/calibration/lora/findings.md).
    static func loraFirstLayerSavings(_ a: ModelArchitecture, _ x: Shape, _ lora: LoRASpec, norm: Int) -> Int {
        let t = x.batch * x.seq
        let h = a.hiddenSize
        let normGrad = 4 * t * h + 4 * t
        let qkv = !lora.targets.isDisjoint(with: [
            "q_proj", "k_proj", "v_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj",
        ])
        if qkv {
            let heads = max(a.heads / x.tp, 1)
            let qUnsaved = x.attention == .eager && !lora.targets.contains("k_proj") ? x.elementBytes * t * heads * a.headDim : 0
            return normGrad + qUnsaved
        }
        if lora.targets.contains("o_proj") { return normGrad }
        // Only the MLP is adapted: nothing in attention needs a gradient.
        let heads = max(a.heads / x.tp, 1)
        let kv = max(a.kvHeads / x.tp, 1)
        let core: Int
        if x.attention == .eager {
            core = 3 * x.elementBytes * t * heads * a.headDim + 4 * x.batch * heads * x.seq * x.seq
                + (x.elementBytes != 4 ? x.elementBytes * x.batch * heads * x.seq * x.seq : 0)
        } else {
            core = 2 * x.elementBytes * t * heads * a.headDim + 2 * x.elementBytes * t * kv * a.headDim + 4 * x.batch * heads * x.seq
        }
        return 2 * normGrad + core
    }

    /// One decoder layer without checkpointing.
    static func layer(_ a: ModelArchitecture, _ x: Shape, index: Int, norm: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let h = a.hiddenSize
        let d = a.headDim
        let heads = max(a.heads / x.tp, 1)
        let kv = max(a.kvHeads / x.tp, 1)
        let i = (a.intermediateSize + x.tp - 1) / x.tp
        let scores = b * heads * s * s
        switch family(a) {
        case .llama:
            let full = 2 * norm + e * t * h + llamaAttention(a, x, index: index, heads: heads, kv: kv) + llamaMLP(a, x, i: i)
            guard let lora = x.lora else { return full }
            return full + loraDelta(a, x, lora, heads: heads, i: i)
        case .gemma2:
            var attn = 4 * e * t * heads * d + 4 * scores + (e != 4 ? e * scores : 0)
            if a.attentionSoftcap != nil { attn += e * scores }  // tanh of the soft-capped scores
            return 4 * norm + e * t * h + attn + e * t * h + 4 * e * t * i
        case .gpt2:
            let p = a.dropout > 0
            let drop = p ? e * t * h : 0
            let attn: Int
            switch x.attention {
            case .eager:
                // q, k, v operands of the two bmm's (copies made by matmul's reshape); for b = 1 with a
                // cache, q stays a view of the fused c_attn output (its whole 3h storage) and k/v are the
                // cache's copies. GPT-2 does not upcast the softmax; with dropout, mask and dropped probs.
                let qkv = (b == 1 && x.useCache) ? 5 * e * t * h : 3 * e * t * h
                attn = qkv + e * scores + (p ? 2 * e * scores : 0) + e * t * h
            case .sdpa where p:
                // PyTorch's fused kernels cannot apply dropout on this path: the math fallback
                // upcasts to fp32 and keeps q, k, v, the softmax, the mask and the dropped probabilities.
                attn = 12 * t * h + 12 * scores + e * t * h
            default:
                // q, k and v are views of the fused c_attn output (its whole 3h storage is kept); the
                // cache hands back contiguous k/v copies; the output is shared with c_proj's input.
                attn = 3 * e * t * h + (x.useCache ? 2 * e * t * h : 0) + e * t * h + 4 * b * heads * s
            }
            let ln = norm
            return 2 * ln + e * t * h + attn + drop + e * t * h + 5 * e * t * i + drop
        }
    }

    /// A LoRA layer minus the fully trained one (PEFT, measured): the frozen projections no longer
    /// keep their inputs (4eTh: two norm outputs and the q/k/v and gate/up inputs; eTi: down's input;
    /// eager: o_proj's input copy); each adapted group keeps its input once (adapters in the model
    /// dtype) or each adapter its own cast copy (fp32 adapters); lora_B keeps lora_A's output.
    static func loraDelta(_ a: ModelArchitecture, _ x: Shape, _ lora: LoRASpec, heads: Int, i: Int) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        let ad = heads * a.headDim
        let ea = lora.adapterBytes
        let cast = ea != e
        func input(_ group: [String], width: Int, freeWhenShared: Bool = false) -> Int {
            let m = group.filter { lora.targets.contains($0) }.count
            guard m > 0 else { return 0 }
            if !cast { return freeWhenShared ? 0 : e * t * width }
            return m * ea * t * width
        }
        if a.isMoE || a.latent != nil {
            return loraMoEDelta(a, x, lora, heads: heads, i: i) { input($0, width: $1, freeWhenShared: $2) }
        }
        var delta = -(x.attention == .eager ? e * t * ad : 0)
        delta += input(["q_proj", "k_proj", "v_proj"], width: h)
        delta += input(["o_proj"], width: ad, freeWhenShared: x.attention != .eager)
        let n = lora.targets.count
        delta += -4 * e * t * h - e * t * i
        delta += input(["gate_proj", "up_proj"], width: h)
        delta += input(["down_proj"], width: i)
        delta += n * ea * t * lora.rank
        return delta
    }

    /// `loraDelta` for MoE and latent-attention models (measured with PEFT 0.21 on Mixtral, Qwen3-MoE,
    /// Qwen2-MoE and DeepSeek-V3, docs/calibration/lora/experts.md): norms and attention here; the
    /// MLP of Mixtral's uniform layers here too, the MLP of per-layer layouts in `loraMoEMLPDelta`.
    static func loraMoEDelta(
        _ a: ModelArchitecture, _ x: Shape, _ lora: LoRASpec, heads: Int, i: Int, input: ([String], Int, Bool) -> Int
    ) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        // The two RMSNorms' normalized outputs (kept only for their weight gradients).
        var delta = -2 * e * t * h
        if let m = a.latent {
            // MLA: the frozen projections drop their inputs: q_a/kv_a (or q/kv_a) read the norm output
            // eTh; q_b reads q_a_layernorm's output and kv_b kv_a_layernorm's, whose normalized
            // outputs go too (2e·T·q_lora_rank, 2e·T·kv_lora_rank); o_proj's input is a reshaped copy
            // of the attention output, e·T·a·v_head_dim (not shared with SDPA's saved output).
            let ov = heads * m.vHeadDim
            delta += -e * t * h - 2 * e * t * m.kvLoraRank - e * t * ov
            if let qr = m.qLoraRank {
                delta += -2 * e * t * qr
                delta += input(["q_a_proj", "kv_a_proj_with_mqa"], h, false)
                delta += input(["q_b_proj"], qr, false)
            } else {
                delta += input(["q_proj", "kv_a_proj_with_mqa"], h, false)
            }
            delta += input(["kv_b_proj"], m.kvLoraRank, false)
            delta += input(["o_proj"], ov, false)
        } else {
            let ad = heads * a.headDim
            // q/k/v input (the norm output); eager: o_proj's input copy.
            delta += -e * t * h - (x.attention == .eager ? e * t * ad : 0)
            delta += input(["q_proj", "k_proj", "v_proj"], h, false)
            delta += input(["o_proj"], ad, x.attention != .eager)
            // Qwen3-style q_norm/k_norm over head_dim: their normalized outputs, e·T·(a + k)·d.
            if a.qkNormPerLayer > 0 { delta += -e * t * (heads + max(a.kvHeads / x.tp, 1)) * a.headDim }
        }
        // Each attention adapter's lora_B keeps lora_A's output, ea·T·r.
        let attention = lora.targets.intersection(LoRA.attentionTargets(a)).count
        delta += attention * lora.adapterBytes * t * lora.rank
        if a.moe == nil { delta += loraMoEMLPDelta(a, x, lora, layer: 0, i: i) }
        return delta
    }

    /// The MLP of layer `l` under LoRA minus fully trained (PEFT 0.21; experts.md §3). Which modules
    /// the names adapt follows `LoRA.trainableParameters`: converted families (Qwen3-MoE, DeepSeek)
    /// adapt the routed experts only, qwen2_moe its shared expert and dense MLPs only, Mixtral its
    /// experts through `w1`/`w2`/`w3`.
    static func loraMoEMLPDelta(_ a: ModelArchitecture, _ x: Shape, _ lora: LoRASpec, layer l: Int, i dense: Int) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        let ea = lora.adapterBytes
        let cast = ea != e
        let tg = lora.targets
        let names = LoRA.expertNames(a)
        // Inputs kept by nn.Linear adapters of a gated MLP: the group's input once (adapters in the
        // model dtype) or each adapter's own cast copy; plus lora_A's output for each lora_B.
        func linearMLP(width w: Int) -> Int {
            let up = names == .linearOnly ? ["gate_proj", "up_proj"].filter { tg.contains($0) }.count : 0
            let down = names == .linearOnly && tg.contains("down_proj") ? 1 : 0
            var d = -e * t * w  // down_proj's input (the SwiGLU product)
            if up > 0 { d += cast ? up * ea * t * h : e * t * h }
            if down > 0 { d += cast ? ea * t * w : e * t * w }
            return d + (up + down) * ea * t * lora.rank
        }
        // The norm output (gate/up, router, shared expert inputs), e·T·h, kept only for weight gradients.
        var delta = -e * t * h
        let experts: Int
        let k: Int
        let w: Int
        if let moe = a.moe {
            guard l < moe.sparse.count, moe.sparse[l] else { return delta + linearMLP(width: dense) }
            experts = moe.experts
            k = moe.expertsPerToken
            w = (moe.expertIntermediate + x.tp - 1) / x.tp
            if moe.sharedIntermediate > 0 { delta += linearMLP(width: (moe.sharedIntermediate + x.tp - 1) / x.tp) }
        } else {
            experts = a.experts
            k = a.expertsPerToken
            w = dense
        }
        // DeepSeek's router multiplies in fp32: the fp32 copy of its input, 4Th (a 16-bit model only;
        // in fp32 the copy is the norm output itself).
        if e != 4, ["deepseek_v2", "deepseek_v3", "glm4_moe"].contains(a.modelType) { delta += -4 * t * h }
        let gateUp: Bool
        let down: Bool
        switch names {
        case .mixtral: (gateUp, down) = (tg.contains("w1") && tg.contains("w3"), tg.contains("w2"))
        case .fusedQwen2MoE: (gateUp, down) = (tg.contains("gate_proj") && tg.contains("up_proj"), tg.contains("down_proj"))
        case .linearOnly: (gateUp, down) = (false, false)
        }
        let routed = t * k
        if gateUp {
            // The wrapped gate_up_proj is W + ΔW, a fresh tensor grouped_mm keeps for the input
            // gradient, E·2i·h·e; fp32 adapters: the bf16 copies of the factors, e·E·2r·(h + 2i)
            // (rank 2r after PEFT's conversion). The gathered tokens stay saved, as in full training.
            delta += experts * 2 * w * h * e + (cast ? e * experts * 2 * lora.rank * (h + 2 * w) : 0)
        } else {
            delta += -e * routed * h  // the gathered tokens (grouped_mm #1 input, its weight gradient only)
        }
        if down {
            delta += experts * w * h * e + (cast ? e * experts * lora.rank * (h + w) : 0)
        } else {
            delta += -e * routed * w  // the SwiGLU product (grouped_mm #2 input)
        }
        return delta
    }

    static func llamaAttention(_ a: ModelArchitecture, _ x: Shape, index: Int, heads: Int, kv: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let d = a.headDim
        var bytes: Int
        if x.attention == .eager {
            // q, the repeated k and v (repeat_kv copies), o_proj's input copy; the fp32 softmax and its
            // cast to the model dtype.
            bytes = 4 * e * t * heads * d + 4 * b * heads * s * s + (e != 4 ? e * b * heads * s * s : 0)
        } else {
            let sliding = index < a.slidingLayers.count && a.slidingLayers[index]
            let masked = x.attention == .sdpa && sliding && s >= (a.slidingWindow ?? Int.max)
            if !masked {
                // Fused kernel with GQA support (no repeat): q, k, v, the output (shared with o_proj's
                // input) and the fp32 logsumexp.
                bytes = e * t * heads * d + 2 * e * t * kv * d + e * t * heads * d + 4 * b * heads * s
            } else {
                // A sliding-window mask is materialized: k and v are repeated to all heads and the
                // mask becomes a float (b, 1, s, s) tensor that the kernel keeps.
                bytes = 4 * e * t * heads * d + 4 * b * heads * s + e * b * s * s
            }
        }
        if a.modelType == "phi3" && x.attention != .eager {
            // Phi-3's partial rotary concatenates q, so o_proj's input is a separate copy.
            bytes += e * t * heads * d
            if !x.useCache {
                // v stays a strided view of the fused qkv output: that whole storage is kept.
                bytes += e * t * (heads + 2 * kv) * d - e * t * kv * d
            }
        }
        return bytes
    }

    static func llamaMLP(_ a: ModelArchitecture, _ x: Shape, i: Int) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        guard a.isMoE else {
            // gate/up input eTh; SiLU input (gate output), SiLU output, up output, product (down's input).
            return e * t * h + 4 * e * t * i
        }
        let experts = a.experts
        let k = a.expertsPerToken
        let routed = t * k
        // Router: input eTh, fp32 softmax 4TE, top-k indices (int64) and values (fp32), their fp32 sum.
        let router = e * t * h + 4 * t * experts + 8 * t * k + 4 * t * k + 4 * t
        // Grouped experts (transformers' default): 3 int64 permutation indices, gathered input, gate_up
        // output (2i), SiLU output, product, fp32 routing weights, down output, int32 offsets. The eager
        // per-expert loop keeps int64 nonzero() indices, the gathered input, gate_up, SiLU, product,
        // routing weight, down output and index_add source.
        let expertBytes =
            x.eagerExperts
            ? routed * (16 + 4 + 3 * e * h + 4 * e * i)
            : routed * (24 + 4 + 2 * e * h + 4 * e * i) + 4 * experts
        return router + expertBytes
    }
}
