import PlanModel

/// The parameters held by the most loaded GPU of a tensor x pipeline parallel layout.
///
/// Tensor parallelism (Megatron-LM, Shoeybi et al. 2019) splits q/o projections, the MLP and the
/// vocabulary-parallel embedding and output layer by `tp`; norms, biases after a row-parallel
/// projection and the MoE router are replicated. k and v projections hold `max(kv_heads / tp, 1)`
/// heads per GPU: with tp above the KV-head count the heads are replicated (cli99/llm-analysis
/// `get_memory_kv_cache_per_layer`; vLLM's `QKVParallelLinear`). Pipeline stages get
/// `ceil(L / pp)` layers on the first stages; the first stage also holds the embedding, the last the
/// final norm and output layer (a tied output layer needs its own copy there when pp > 1, as in Megatron).
public struct ParamShard: Sendable, Equatable {
    /// Parameters on the GPU.
    public var total: Int
    /// Of those, weights of linear layers inside decoder blocks (what weight quantization applies to).
    public var linear: Int
    /// Decoder layers on the GPU's pipeline stage.
    public var layers: Int
    /// Whether this stage holds the output layer (and so the logits).
    public var hasOutputLayer: Bool
    /// Whether this stage holds the input embedding.
    public var hasEmbedding: Bool
    /// KV heads per GPU.
    public var kvHeads: Int

    public var nonLinear: Int { total - linear }

    /// Which pipeline stage to describe: the heavier of the first and last (nil), or one of them.
    public enum Stage: Sendable { case first, last }

    public init(_ a: ModelArchitecture, tp: Int, pp: Int, stage: Stage? = nil, inventory given: [LayerParams]? = nil) {
        let tp = max(tp, 1)
        let pp = max(min(pp, a.layers), 1)
        let h = a.hiddenSize
        let q = a.queryWidth
        let kvHeads = max(a.kvHeads / tp, 1)
        let kvw = kvHeads * a.headDim
        let i = a.intermediateSize
        func ceilDiv(_ x: Int, _ y: Int) -> Int { (x + y - 1) / y }
        var attnLinear = ceilDiv(h * q + q * h, tp) + 2 * h * kvw
        var attnBias = 0
        if a.qkvBias { attnBias += ceilDiv(q, tp) + 2 * kvw }
        if a.outputBias { attnBias += h }
        let mlpMats = a.mlp == .gated ? 3 : 2
        let mlpLinear = ceilDiv(mlpMats * h * i, tp) * a.experts
        var mlpBias = 0
        if a.mlpBias { mlpBias = (ceilDiv((mlpMats - 1) * i, tp) + h) * a.experts }
        let normSize = a.norm == .rms ? h : 2 * h
        let router = a.isMoE ? h * a.experts : 0
        let perLayerLinear = attnLinear + mlpLinear
        attnLinear = 0
        let perLayer = perLayerLinear + attnBias + mlpBias + router + a.normsPerLayer * normSize

        let perStage = ceilDiv(a.layers, pp)
        let lastLayers = a.layers - perStage * (pp - 1)
        let vocabShard = ceilDiv(a.vocabSize, tp) * h
        let embedding = vocabShard + a.learnedPositions * h
        let head = (a.tiedEmbeddings && pp == 1) ? 0 : vocabShard
        if a.usesInventory {
            // Layers differ: sum the stage's own layers (LayerInventory).
            let inventory = given ?? LayerInventory.layers(a)
            let kvLinearPerHead = a.latent == nil ? 2 * h * a.headDim : 0
            func sum(_ r: Range<Int>) -> (Int, Int) {
                r.reduce((0, 0)) { acc, l in
                    let p = inventory[l]
                    return (acc.0 + p.perGPU(kvHeads: a.kvHeads, tp: tp),
                            acc.1 + p.linearPerGPU(kvHeads: a.kvHeads, tp: tp, linearKVPerHead: kvLinearPerHead))
                }
            }
            let firstRange = 0..<(pp == 1 ? a.layers : perStage)
            let lastRange = (a.layers - max(lastLayers, 0))..<a.layers
            let (firstLayers, firstLinear) = sum(firstRange)
            let first = firstLayers + embedding + (pp == 1 ? head + normSize : 0)
            if pp == 1 {
                total = first
                layers = a.layers
                hasOutputLayer = true
                hasEmbedding = true
                linear = firstLinear
            } else {
                let (lastLayersParams, lastLinear) = sum(lastRange)
                let last = lastLayersParams + head + normSize
                let pickFirst = stage.map { $0 == .first } ?? (first >= last)
                total = pickFirst ? first : last
                layers = pickFirst ? perStage : max(lastLayers, 0)
                hasOutputLayer = !pickFirst
                hasEmbedding = pickFirst
                linear = pickFirst ? firstLinear : lastLinear
            }
            self.kvHeads = kvHeads
            return
        }
        if pp == 1 {
            total = a.layers * perLayer + embedding + head + normSize
            layers = a.layers
            hasOutputLayer = true
            hasEmbedding = true
        } else {
            let first = perStage * perLayer + embedding
            let last = max(lastLayers, 0) * perLayer + head + normSize
            let pickFirst = stage.map { $0 == .first } ?? (first >= last)
            if pickFirst {
                total = first
                layers = perStage
                hasOutputLayer = false
                hasEmbedding = true
            } else {
                total = last
                layers = max(lastLayers, 0)
                hasOutputLayer = true
                hasEmbedding = false
            }
        }
        linear = layers * perLayerLinear
        self.kvHeads = kvHeads
    }
}

/// Bytes of stored weights for a format (reference: estimator-anchors.md §2.1).
public enum WeightStorage {
    /// NF4 with double quantization (Dettmers et al. 2023, §3): 4 bits + an 8-bit constant per
    /// 64 weights + an fp32 constant per 256 blocks = 0.5 + 1/64 + 4/16384 bytes per weight.
    public static let nf4BytesPerWeight = 0.5 + 1.0 / 64 + 4.0 / (64 * 256)

    /// Bytes of one weight of a packed integer or fp8 format, scales aside: 0.5 for int4, 1 for
    /// int8 and fp8 (nil for the others).
    public static func packedBytesPerWeight(_ dtype: WeightDType) -> Double? {
        switch dtype {
        case .int4: 0.5
        case .int8, .fp8: 1
        default: nil
        }
    }

    /// Bytes for `shard`'s weights stored as `dtype`.
    ///
    /// - fp32/bf16/fp16: every parameter at 4/2/2 bytes.
    /// - fp8, int8, int4 without a group size: every parameter at 1, 1, 0.5 bytes (the packed
    ///   convention of `accelerate estimate-memory`: fp32 size / 4 or / 8).
    /// - with `groupSize` (GPTQ/AWQ style): linear weights at 1 or 0.5 bytes plus an fp16 scale and
    ///   a packed zero-point per group; embeddings, output layer and norms stay 16-bit.
    /// - nf4 (bitsandbytes, QLoRA): linear weights at `nf4BytesPerWeight`, the rest 16-bit.
    public static func bytes(_ shard: ParamShard, dtype: WeightDType, groupSize: Int? = nil) -> Int {
        let all = Double(shard.total)
        switch dtype {
        case .fp32: return shard.total * 4
        case .bf16, .fp16: return shard.total * 2
        case .nf4:
            return Int((Double(shard.linear) * nf4BytesPerWeight).rounded(.up)) + shard.nonLinear * 2
        case .fp8, .int8, .int4:
            let base = packedBytesPerWeight(dtype)!
            guard let g = groupSize, g > 0 else { return Int((all * base).rounded(.up)) }
            // An fp16 scale and a zero point packed at the weight's width per group.
            let perWeight = base + (2 + base) / Double(g)
            return Int((Double(shard.linear) * perWeight).rounded(.up)) + shard.nonLinear * 2
        }
    }
}

/// The KV cache: `2 x layers x kv_heads x head_dim x bytes x tokens x batch`, per GPU with
/// `max(kv_heads / tp, 1)` heads (reference: estimator-anchors.md §2.2; llama.cpp logs match it
/// to the byte). Sliding-window layers hold at most `window` tokens when `windowed` is set.
public enum KVCache {
    public static func bytes(
        _ a: ModelArchitecture, batch: Int, tokens: Int, bytesPerElement: Int, tp: Int = 1, pp: Int = 1,
        windowed: Bool, stage: ParamShard.Stage? = nil, inventory: [LayerParams]? = nil
    ) -> Int {
        let shard = ParamShard(a, tp: tp, pp: pp, stage: stage, inventory: inventory)
        let kvHeads = shard.kvHeads
        // The stage's layers: the first `shard.layers` (or the last, for the output stage) — their
        // window flags decide the token counts.
        let range: Range<Int> =
            (pp <= 1 || shard.hasEmbedding) ? 0..<shard.layers : (a.layers - shard.layers)..<a.layers
        var tokenLayers = 0
        for l in range {
            let sliding = windowed && l < a.slidingLayers.count && a.slidingLayers[l]
            tokenLayers += sliding ? min(tokens, a.slidingWindow ?? tokens) : tokens
        }
        // MLA keeps one latent (kv_lora_rank + qk_rope_head_dim) per token per layer, the same on
        // every tensor-parallel rank (vLLM MLACommonBackend; transformers 5.x DeepseekV3 cache).
        let cached = a.cachedKVHeads.map { max($0 / tp, 1) } ?? kvHeads
        let perToken = a.latent != nil ? a.kvValuesPerToken : 2 * cached * a.headDim
        return perToken * bytesPerElement * batch * tokenLayers
    }
}
