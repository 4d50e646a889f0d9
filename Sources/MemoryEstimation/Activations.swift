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

    /// `olmo2` also stands for gpt-oss: both norms multiply the weight in fp32 before casting back.
    /// `gpt2` also stands for GPT-BigCode (GPT-2's block with multi-query attention); `classic` is the
    /// LayerNorm decoders with a plain GELU MLP and rotary or ALiBi positions: GPT-NeoX, StarCoder2, Falcon.
    enum Family { case llama, gemma2, gpt2, olmo2, classic }

    static func family(_ a: ModelArchitecture) -> Family {
        switch a.modelType {
        case "gpt2", "gpt_bigcode": .gpt2
        case "gpt_neox", "starcoder2", "falcon": .classic
        case "gemma2", "gemma3_text": .gemma2
        case "olmo2", "gpt_oss": .olmo2
        default: .llama
        }
    }

    /// The families whose activations were measured (docs/calibration/findings.md and
    /// docs/calibration/families/activations.md); others get the Llama/Mixtral terms.
    public static let calibratedTypes: Set<String> = [
        "llama", "mistral", "mixtral", "qwen2", "gemma2", "phi3", "gpt2",
        "qwen3", "olmo2", "gemma3_text", "qwen2_moe", "qwen3_moe", "deepseek_v3", "gpt_oss", "glm4_moe", "llama4_text",
        "gpt_neox", "starcoder2", "falcon", "gpt_bigcode", "deepseek_v2",
    ]

    /// Rotary cos and sin (one pair per rotary embedding the layers use), shared by every layer.
    static func rotary(_ a: ModelArchitecture, _ x: Shape, range: Range<Int>) -> Int {
        let s = x.seq
        let e = x.elementBytes
        switch a.modelType {
        case "olmo2":
            // Olmo2RotaryEmbedding returns cos/sin in fp32 (modeling_olmo2.py applies RoPE in fp32).
            return 2 * s * a.headDim * 4
        case "llama4_text":
            // Llama-4 rotates with complex freqs_cis (complex64: 8 bytes per d/2 pair), one tensor.
            return 4 * s * a.headDim
        case "deepseek_v2":
            // DeepSeek-V2 rotates q_pe/k_pe with complex freqs_cis (complex64 per rope pair), one tensor.
            return 4 * s * (a.latent?.qkRopeHeadDim ?? a.headDim)
        case "falcon" where a.alibi:
            // No rotary. With sdpa, FalconModel adds the ALiBi biases to the causal mask: one float
            // (b, a, s, s) mask in the model dtype that every layer's kernel keeps; eager adds them in fp32
            // scores that are not kept.
            return x.attention == .eager ? 0 : e * x.batch * max(a.heads / x.tp, 1) * s * s
        case "gpt_oss":
            // GptOssRotaryEmbedding keeps half-width cos/sin (the two halves are rotated, not interleaved).
            return 2 * s * (a.headDim / 2) * e
        case "gemma3_text":
            // Gemma-3 has a local (sliding layers) and a global rotary embedding: a pair each when both kinds are present.
            let sliding = range.filter { $0 < a.slidingLayers.count && a.slidingLayers[$0] }.count
            let kinds = (sliding > 0 ? 1 : 0) + (sliding < range.count ? 1 : 0)
            return kinds * 2 * s * a.headDim * e
        default:
            if let mla = a.latent { return 2 * s * mla.qkRopeHeadDim * e }  // only the rope part of q/k is rotated
            return 2 * s * rotaryDim(a) * e
        }
    }

    /// Rotated width of a head (GLM-4.5 rotates half of it).
    static func rotaryDim(_ a: ModelArchitecture) -> Int {
        a.rotaryFraction >= 1 ? a.headDim : Int(Double(a.headDim) * a.rotaryFraction)
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
            r.shared = rotary(a, x, range: range)  // rotary cos and sin, shared by every layer
        case .gemma2:
            // Gemma2RMSNorm computes in fp32: input copy 4Th, rsqrt 4T, normalized 4Th, (1 + weight) 4h.
            norm = 8 * t * h + 4 * t + 4 * h
            if embedding { r.embedding = 8 * t }
            r.shared = rotary(a, x, range: range)
        case .olmo2:
            // Olmo2RMSNorm / GptOssRMSNorm: `(weight * hidden_states).to(input_dtype)` multiplies in fp32, so
            // the fp32 input copy 4Th, rsqrt 4T and the fp32 normalized input 4Th are kept.
            norm = 8 * t * h + 4 * t
            if embedding { r.embedding = 8 * t }
            r.shared = rotary(a, x, range: range)
        case .classic:
            // nn.LayerNorm keeps its input, mean and rstd (both in the model dtype).
            norm = e * t * h + 2 * e * t
            if embedding { r.embedding = 8 * t }
            r.shared = rotary(a, x, range: range)  // rotary cos/sin of the rotated width, or Falcon's ALiBi mask
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
        // Layers differ only by whether they use the sliding window and whether their MLP is sparse:
        // compute each kind once.
        // (This runs for every candidate split of the recommendation search: count kinds by a 3-bit
        // code in two small arrays rather than a dictionary.)
        var counts = [Int](repeating: 0, count: 8)
        var firsts = [Int](repeating: -1, count: 8)
        let sparse = a.moe?.sparse ?? []
        for l in range {
            var code = 0
            if l < a.slidingLayers.count && a.slidingLayers[l] { code |= 1 }
            if l < sparse.count && sparse[l] { code |= 2 }
            if l < a.noRopeLayers.count && a.noRopeLayers[l] { code |= 4 }
            if firsts[code] < 0 { firsts[code] = l }
            counts[code] += 1
        }
        var sum = 0
        var largest = 0
        for code in (0..<8).filter({ firsts[$0] >= 0 }).sorted(by: { firsts[$0] < firsts[$1] }) {
            let kind = (count: counts[code], index: firsts[code])
            let full = layer(a, x, index: kind.index, norm: norm)
            largest = max(largest, full)
            // Full recomputation keeps only each layer's input hidden state.
            sum += kind.count * (x.checkpointing ? e * t * h : full)
        }
        if frozen, !x.checkpointing, range.contains(0), let lora = x.lora {
            sum -= loraFirstLayerSavings(a, x, lora, norm: norm)
        }
        if frozen, !x.checkpointing, a.moe != nil, let lora = x.lora {
            // Per-layer MoE layouts (dense and sparse layers differ): each layer's MLP under LoRA. The
            // delta depends only on whether the layer is sparse, so once per layer kind, times its count.
            let i = (a.intermediateSize + x.tp - 1) / x.tp
            for code in 0..<8 where firsts[code] >= 0 { sum += counts[code] * loraMoEMLPDelta(a, x, lora, layer: firsts[code], i: i) }
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
        case .llama, .olmo2:
            // Llama: two norms, the q/k/v input (the input norm's output) and the MLP. OLMo-2 has no input
            // norm but two post-norms, and q/k/v read the layer input itself: the same terms.
            let full = 2 * norm + e * t * h + attention(a, x, index: index, heads: heads, kv: kv) + mlp(a, x, index: index, i: i)
            guard let lora = x.lora else { return full }
            return full + loraDelta(a, x, lora, heads: heads, i: i)
        case .gemma2 where a.modelType == "gemma3_text":
            // Gemma-3: Gemma-2's four norms, the q/k/v input, per-head q/k norms, Llama's attention (sdpa is
            // supported; no score soft-capping), the gate/up input and the GELU-gated MLP (modeling_gemma3.py).
            return 4 * norm + e * t * h + attention(a, x, index: index, heads: heads, kv: kv) + e * t * h + 4 * e * t * i
        case .gemma2:
            var attn = 4 * e * t * heads * d + 4 * scores + (e != 4 ? e * scores : 0)
            if a.attentionSoftcap != nil { attn += e * scores }  // tanh of the soft-capped scores
            return 4 * norm + e * t * h + attn + e * t * h + 4 * e * t * i
        case .classic:
            return classicLayer(a, x, index: index, heads: heads, kv: kv, i: i, norm: norm)
        case .gpt2 where a.modelType == "gpt_bigcode":
            return bigCodeLayer(a, x, heads: heads, kv: kv, i: i, norm: norm)
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

    /// GPT-NeoX, StarCoder2 and Falcon layers (modeling_gpt_neox.py, modeling_starcoder2.py,
    /// modeling_falcon.py; measured in docs/calibration/families/activations.md): LayerNorms, fused or
    /// separate q/k/v, a plain MLP `act(dense_h_to_4h(x))` with GELU (GeluBackward0 keeps only its input).
    static func classicLayer(_ a: ModelArchitecture, _ x: Shape, index: Int, heads: Int, kv: Int, i: Int, norm: Int) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        // The input norm (input, mean, rstd) and the q/k/v projection's input (the norm's output).
        var bytes = norm + e * t * h
        if a.modelType == "falcon" {
            if a.normsPerLayer == 2 {
                // ln_mlp (new decoder) reads the layer input too, so only its mean and rstd are new; the
                // sequential block's post_attention_layernorm reads the attention residual (its whole norm).
                // Either way dense_h_to_4h's input is that norm's output.
                bytes += (a.parallelResidual ? 2 * e * t : norm) + e * t * h
            }
            // With one norm the MLP reads the attention norm's output, already counted.
            if a.indexedKV { bytes += 16 }  // the int64 index lists [-2] and [-1] of _split_heads
            bytes += falconAttention(a, x, heads: heads, kv: kv)
        } else {
            // post_attention_layernorm: with GPT-NeoX's parallel residual it normalizes the layer input (its
            // input is the input norm's, only mean and rstd are new); then the MLP's input (its output).
            bytes += (a.parallelResidual ? 2 * e * t : norm) + e * t * h
            bytes +=
                a.modelType == "gpt_neox"
                ? neoxAttention(a, x, heads: heads) : llamaAttention(a, x, index: index, heads: heads, kv: kv)
        }
        // The GELU's input (dense_h_to_4h / c_fc output) and dense_4h_to_h / c_proj's input (its output).
        return bytes + 2 * e * t * i
    }

    /// GPTNeoXAttention: q and k are new tensors (the partial rotary concatenates the rotated and passed
    /// parts), v is the cache's copy; the output is transposed, so `dense` reads a contiguous copy.
    static func neoxAttention(_ a: ModelArchitecture, _ x: Shape, heads: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let ad = heads * a.headDim
        let scores = b * heads * s * s
        if x.attention == .eager {
            // The two matmuls' operands (k transposed, q, v, copies made by matmul's reshape), the fp32
            // softmax and its cast to the model dtype (the second matmul's operand), dense's input.
            return 3 * e * t * ad + 4 * scores + (e != 4 ? e * scores : 0) + e * t * ad
        }
        // Fused kernel: q, k, v, output, fp32 logsumexp; dense's input.
        return 4 * e * t * ad + 4 * b * heads * s + e * t * ad
    }

    /// FalconAttention (modeling_falcon.py l. 290-400). k and v as the kernel reads them have the cached
    /// heads (the new decoder broadcasts them to every head before the cache, `cachedKVHeads`).
    static func falconAttention(_ a: ModelArchitecture, _ x: Shape, heads: Int, kv: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let d = a.headDim
        let ad = heads * d
        let kvc = max((a.cachedKVHeads ?? a.kvHeads) / x.tp, 1)
        let scores = b * heads * s * s
        // Without rotary (ALiBi) q stays a strided view of the fused query_key_value output: its whole
        // (a + 2k)·d storage is kept.
        let fusedQ = e * t * (heads + 2 * kv) * d
        if x.attention == .eager {
            // `query @ key.transpose`, softmax in the model dtype (dtype=hidden_states.dtype, also the
            // second matmul's operand; ALiBi's fp32 scores are not kept), `@ value`, dense's input copy.
            // matmul broadcasts k and v to all heads and copies them (and q) for b > 1; for b = 1 the
            // folded operands stay views: k and v keep the cache's kvc heads, ALiBi's q the fused storage.
            let q = (b == 1 && a.alibi) ? fusedQ : e * t * ad
            let kvBytes = b == 1 ? 2 * e * t * kvc * d : 2 * e * t * ad
            return q + kvBytes + e * scores + e * t * ad
        }
        // sdpa: q, k and v (the cache's kvc heads), the fp32 logsumexp, the output (also dense's input).
        var bytes = 2 * e * t * kvc * d + 4 * b * heads * s + e * t * ad
        if a.alibi {
            bytes += fusedQ  // the ALiBi mask is shared by every layer (`rotary`)
        } else {
            // The rotated q, and the (b, 1, s, s) causal mask FalconModel always passes (no is_causal path).
            bytes += e * t * ad + e * b * s * s
        }
        return bytes
    }

    /// GPTBigCodeBlock (modeling_gpt_bigcode.py): GPT-2's block with multi-query attention through the
    /// shared `eager_attention_forward` (fp32 softmax) or sdpa, and a `gelu_pytorch_tanh` MLP
    /// (GeluBackward0: its input only). Dropout (0.1 by default, `attn_pdrop` standing for all three):
    /// the masks of the attention probabilities, resid_dropout and the MLP's dropout.
    static func bigCodeLayer(_ a: ModelArchitecture, _ x: Shape, heads: Int, kv: Int, i: Int, norm: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let h = a.hiddenSize
        let d = a.headDim
        let ad = heads * d
        let scores = b * heads * s * s
        let p = a.dropout > 0
        let drop = p ? e * t * h : 0
        // q is a view of the fused c_attn output (a + 2k heads); k and v are the cache's copies.
        let fusedQ = e * t * (ad + 2 * kv * d)
        let cacheKV = x.useCache ? 2 * e * t * kv * d : 0
        let attn: Int
        switch x.attention {
        case .eager:
            // The matmuls' operands: for b > 1 copies of q and of k, v repeated to every head; for b = 1
            // views (the fused storage and the cache's k/v). The fp32 softmax; with dropout its mask and the
            // dropped probabilities (model dtype), without it the cast (fp32: the softmax itself). c_proj's input.
            let qkv = (b == 1 && x.useCache) ? fusedQ + cacheKV : 3 * e * t * ad
            attn = qkv + 4 * scores + (p ? 2 * e * scores : (e != 4 ? e * scores : 0)) + e * t * ad
        case .sdpa where p:
            // Dropout keeps sdpa off its fused kernels: the math path upcasts to fp32 and keeps k and v
            // repeated to all heads, q, the softmax, the dropout mask and the dropped probabilities.
            attn = 12 * t * ad + 12 * scores + e * t * ad
        default:
            // Fused kernel: q (the fused storage), k, v, fp32 logsumexp, the output (also c_proj's input).
            attn = fusedQ + cacheKV + 4 * b * heads * s + e * t * ad
        }
        // ln_1, ln_2, c_attn's input, resid_dropout's mask, c_fc's input, GELU input and c_proj's input,
        // the MLP dropout's mask.
        return 2 * norm + e * t * h + attn + drop + e * t * h + 2 * e * t * i + drop
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

    /// Attention of one layer, with the q/k norms of the families that have them.
    static func attention(_ a: ModelArchitecture, _ x: Shape, index: Int, heads: Int, kv: Int) -> Int {
        if let mla = a.latent { return latentAttention(a, x, mla, heads: heads) }
        if a.modelType == "llama4_text" { return llama4Attention(a, x, index: index, heads: heads, kv: kv) }
        let t = x.batch * x.seq
        let e = x.elementBytes
        let d = a.headDim
        var bytes = a.sinksPerLayer > 0 ? sinkAttention(a, x, heads: heads, kv: kv) : llamaAttention(a, x, index: index, heads: heads, kv: kv)
        if a.qkNormPerLayer > 0 {
            switch family(a) {
            case .olmo2:
                // Olmo2RMSNorm over the whole q (a·d) and k (k·d) projections: fp32 input copy, rsqrt per
                // token, fp32 normalized input (modeling_olmo2.py, q_norm/k_norm before the head split).
                bytes += 8 * t * heads * d + 4 * t + 8 * t * kv * d + 4 * t
            case .gemma2:
                // Gemma3RMSNorm per head on q and k: fp32 input copy, rsqrt per head, fp32 normalized, (1 + w).
                bytes += 8 * t * heads * d + 4 * t * heads + 4 * d + 8 * t * kv * d + 4 * t * kv + 4 * d
            default:
                // Qwen3/GLM-4.5 RMSNorm per head on q and k: fp32 input copy, rsqrt per head, normalized
                // input in the model dtype (it replaces the plain q/k as what RoPE and the kernel read).
                bytes += (4 + e) * t * heads * d + 4 * t * heads + (4 + e) * t * kv * d + 4 * t * kv
            }
        }
        if rotaryDim(a) < d, x.attention != .eager {
            // Partial rotary (GLM-4.5) concatenates q and k: the kernel's output is not o_proj's input,
            // which is a separate contiguous copy (as with Phi-3).
            bytes += e * t * heads * d
        }
        return bytes
    }

    /// Llama-4 attention (modeling_llama4.py Llama4TextAttention). RoPE layers: L2 q/k norm without
    /// weight (fp32 input copy and rsqrt per head, for q and k) and chunked attention; NoPE layers: the
    /// fp32 temperature scales (b, s, 1, 1) multiplied into q, and full causal attention.
    static func llama4Attention(_ a: ModelArchitecture, _ x: Shape, index: Int, heads: Int, kv: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let d = a.headDim
        let rope = !(index < a.noRopeLayers.count && a.noRopeLayers[index])
        var bytes = rope ? 4 * t * heads * d + 4 * t * heads + 4 * t * kv * d + 4 * t * kv : 4 * t
        if x.attention == .eager {
            // q, the repeated k and v, o_proj's input copy, and the softmax in the model dtype (Llama-4's
            // eager path does not upcast it), which the second bmm reads.
            bytes += 4 * e * t * heads * d + e * b * heads * s * s
        } else if rope, s > (a.attentionChunk ?? Int.max) {
            // A chunked mask is materialized once a chunk boundary falls inside the sequence: k and v are
            // repeated to all heads and the (b, 1, s, s) mask is kept, as for a sliding window.
            bytes += 4 * e * t * heads * d + 4 * b * heads * s + e * b * s * s
        } else {
            bytes += 2 * e * t * heads * d + 2 * e * t * kv * d + 4 * b * heads * s
        }
        return bytes
    }

    /// gpt-oss attention (eager; GptOssForCausalLM refuses sdpa in transformers 5.24, so sdpa falls
    /// back to this): repeated k (matmul's operand), q, repeated v, o_proj's input; the scores with
    /// the sink logit concatenated go through `max` (int64 indices, b·a·s) and a softmax over s + 1
    /// columns kept in the model dtype (no fp32 upcast); the bmm reads a slice of that softmax.
    static func sinkAttention(_ a: ModelArchitecture, _ x: Shape, heads: Int, kv: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let e = x.elementBytes
        let t = b * s
        return 4 * e * t * heads * a.headDim + 8 * b * heads * s + e * b * heads * s * (s + 1)
    }

    /// DeepSeek multi-head latent attention (modeling_deepseek_v3.py DeepseekV3Attention). q through
    /// q_a_proj → q_a_layernorm → q_b_proj (or a plain q_proj, which shares the layer's q/k/v input);
    /// the compressed kv through kv_a_layernorm → kv_b_proj; k_pe is expanded to every head.
    static func latentAttention(_ a: ModelArchitecture, _ x: Shape, _ mla: ModelArchitecture.LatentAttention, heads: Int) -> Int {
        let b = x.batch
        let s = x.seq
        let t = b * s
        let e = x.elementBytes
        let dq = mla.qkHeadDim
        let dv = mla.vHeadDim
        let c = mla.kvLoraRank
        let scores = b * heads * s * s
        var bytes = 0
        if let q = mla.qLoraRank {
            // q_a_layernorm (fp32 input copy, rsqrt, normalized in the model dtype) and q_b_proj's input.
            bytes += 4 * t * q + 4 * t + e * t * q + e * t * q
        }
        // kv_a_layernorm reads the first kvLoraRank columns of kv_a_proj_with_mqa's output: in 16-bit
        // the fp32 copy has that width, in fp32 the (strided) view keeps the whole c + rope storage.
        bytes += 4 * t * (c + (e == 4 ? mla.qkRopeHeadDim : 0)) + 4 * t + e * t * c
        bytes += e * t * c  // kv_b_proj's input
        if x.attention == .eager {
            // q and the expanded k (copies made by matmul), the fp32 softmax and its cast, v, o_proj's input.
            bytes += 2 * e * t * heads * dq + 4 * scores + (e != 4 ? e * scores : 0) + latentValue(a, x, mla, heads: heads, bytes: e)
                + e * t * heads * dv
        } else if x.attention == .sdpa && dq != dv {
            // sdpa with a v head dim different from the q/k one: on CPU (where this was measured) the
            // fused kernel refuses it and the math path runs in fp32, keeping q, k, v, the softmax (also
            // the bmm operand), and the output cast back to the model dtype as o_proj's input. CUDA's
            // memory-efficient kernel accepts dq != dv and keeps far less (the CLI says so).
            bytes += 4 * t * heads * dq * 2 + 4 * scores + latentValue(a, x, mla, heads: heads, bytes: 4) + e * t * heads * dv
        } else {
            // --attention flash, or equal head dims (not measured: no fused kernel on CPU takes dq != dv):
            // the fused kernel as for Llama: q, k, v, the output (shared with o_proj's input), logsumexp.
            bytes += 2 * e * t * heads * dq + 2 * e * t * heads * dv + 4 * b * heads * s
        }
        return bytes
    }

    /// v as the attention's second matmul keeps it. v is a slice of kv_b_proj's output (nope + v per
    /// head): matmul copies it for b > 1 (and the fp32 math path casts a 16-bit v), but for b = 1 in the
    /// model dtype the reshape is a view and the whole kv_b_proj output storage is kept.
    static func latentValue(_ a: ModelArchitecture, _ x: Shape, _ mla: ModelArchitecture.LatentAttention, heads: Int, bytes: Int) -> Int {
        let t = x.batch * x.seq
        let view = x.batch == 1 && bytes == x.elementBytes
        return bytes * t * heads * (view ? mla.qkNopeHeadDim + mla.vHeadDim : mla.vHeadDim)
    }

    /// The MLP of layer `index`: dense, Mixtral's uniform experts, or a per-layer `MoELayout`.
    static func mlp(_ a: ModelArchitecture, _ x: Shape, index: Int, i: Int) -> Int {
        guard let moe = a.moe else { return llamaMLP(a, x, i: i) }
        guard index < moe.sparse.count, moe.sparse[index] else {
            // A dense layer of a MoE model (first_k_dense_replace, mlp_only_layers, decoder_sparse_step).
            return x.elementBytes * x.batch * x.seq * a.hiddenSize + 4 * x.elementBytes * x.batch * x.seq * i
        }
        return moeMLP(a, x, moe)
    }

    /// A sparse layer: router, routed experts (transformers' grouped GEMMs by default), shared experts.
    /// TP: the expert and shared widths are split like `intermediate_size`; every expert's tokens stay.
    static func moeMLP(_ a: ModelArchitecture, _ x: Shape, _ moe: ModelArchitecture.MoELayout) -> Int {
        let t = x.batch * x.seq
        let e = x.elementBytes
        let h = a.hiddenSize
        let n = moe.experts
        let k = moe.expertsPerToken
        let routed = t * k
        let i = (moe.expertIntermediate + x.tp - 1) / x.tp
        let shared = (moe.sharedIntermediate + x.tp - 1) / x.tp
        // The MLP input (post-attention norm output) is kept once, by the router or the shared expert.
        var bytes = e * t * h
        // Routing weights as the experts multiply them: fp32 for the sigmoid routers, model dtype otherwise.
        var weightBytes = e
        // int64 permutation indices the grouped experts keep (3; gpt-oss's 4) and bytes per routed row
        // of the gated activation (gate_up 2i, SiLU output i, product i; gpt-oss's clamp/sigmoid GLU 7i).
        var indexBytes = 24
        var act = 4 * e * i
        switch a.modelType {
        case "deepseek_v2", "deepseek_v3", "glm4_moe":
            // (DeepSeek-V2's greedy router, DeepseekV2TopkRouter with topk_method "greedy": the same fp32
            // input copy and 4TE scores, a softmax instead of a sigmoid, top-k over all experts, no groups;
            // norm_topk_prob false by default, so the fp32 top-k softmax values are the routing weights.)
            // DeepseekV3TopkRouter: an fp32 copy of the input (16-bit only), the sigmoid scores 4TE, the
            // top-k indices of the gather; with norm_topk_prob the fp32 weights and their sum. The group
            // selection (per-group top-2, kept groups, bool mask) is packed too, but nothing with a
            // gradient uses it, so autograd frees it after the forward (the allocator shows it gone).
            // (The measured 16-bit models also copy the router weight to fp32, 4Eh: from_pretrained keeps
            // it fp32 via _keep_in_fp32_modules_strict, so it is left out.)
            bytes += (e != 4 ? 4 * t * h : 0) + 4 * t * n + 8 * t * k
            if moe.normalizeTopK { bytes += 4 * t * k + 4 * t }
            weightBytes = 4
        case "llama4_text":
            // Llama4Router: top-k indices (also the scatter's index) and the fp32 sigmoid of the scattered
            // (T, E) scores. Llama4TextMoe then runs every expert on every token (bmm over E copies of the
            // input): per expert and token the repeated input, the score in the model dtype, the scaled
            // input (bmm operand), gate_up 2i, SiLU output, product (modeling_llama4.py Llama4TextMoe).
            bytes += 8 * t * k + 4 * t * n
            bytes += n * t * (2 * e * h + e + 4 * e * i)
            if shared > 0 { bytes += 4 * e * t * shared }
            return bytes
        case "gpt_oss":
            // GptOssTopKRouter: top-k indices, then a softmax over the k kept logits in the model dtype.
            bytes += 8 * t * k + e * t * k
            indexBytes = 32
            // gate_up output (both clamps read strided views of it) 2i, sigmoid, clamped gate, (up + 1),
            // GLU, product: 7i per routed row (modeling_gpt_oss.py GptOssExperts._apply_gate).
            act = 7 * e * i
        default:
            // Qwen-MoE TopKRouter: fp32 softmax 4TE, top-k indices; with norm_topk_prob the fp32 top-k
            // values and their sum (in-place division).
            bytes += 4 * t * n + 8 * t * k
            if moe.normalizeTopK { bytes += 4 * t * k + 4 * t }
        }
        // Grouped experts: permutation indices, int32 offsets per expert, gathered input, the activation,
        // routing weight, down output. The eager loop (not measured for these families) keeps two int64
        // nonzero() indices and an index_add source instead, as measured on Mixtral.
        bytes +=
            x.eagerExperts
            ? routed * (16 + weightBytes + 3 * e * h + act)
            : routed * (indexBytes + weightBytes + 2 * e * h + act) + 4 * n
        if shared > 0 {
            // Shared expert MLP (its input is the MLP input above): SiLU input, SiLU output, up, product.
            bytes += 4 * e * t * shared
            if moe.sharedGate {
                // Qwen2-MoE: sigmoid(shared_expert_gate(x)) * shared_output keeps the sigmoid (e·T) and the output.
                bytes += e * t + e * t * h
            }
        }
        return bytes
    }
}
