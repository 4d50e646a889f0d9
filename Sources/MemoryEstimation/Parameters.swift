import PlanModel

/// Parameter counts of a decoder, module by module (reference: estimator-anchors.md §1.1; the same
/// arithmetic as Megatron-LM `theoretical_memory_usage.py` and `cli99/llm-analysis`, with tied
/// embeddings counted once as `nn.Module.parameters()` does).
public struct ParameterCount: Sendable, Equatable {
    public var embedding: Int
    /// Learned absolute position embeddings (GPT-2).
    public var positions: Int
    public var attentionPerLayer: Int
    /// All experts' MLPs of one layer (the dense MLP for a dense model).
    public var mlpPerLayer: Int
    /// One expert's (or the dense) MLP.
    public var mlpPerExpert: Int
    public var routerPerLayer: Int
    public var normsPerLayer: Int
    public var finalNorm: Int
    /// The untied output projection (0 when tied to the embedding).
    public var lmHead: Int
    public var layers: Int
    /// Weights of the linear layers inside the decoder blocks (what QLoRA/bitsandbytes quantize).
    public var linearWeightsPerLayer: Int
    /// For families counted layer by layer (`LayerInventory`): all decoder layers, their linear
    /// weights, and the routed-expert parameters a token does not use.
    var inventoryLayers: Int? = nil
    var inventoryLinear = 0
    var inventoryInactive = 0
    /// Routed experts' projection weights, all layers (0 without experts).
    public var expertLinearWeights = 0
    /// Multi-token-prediction modules (`num_nextn_predict_layers`), which transformers does not build
    /// and so are not in `total`. Each is, as in DeepSeek-V3's checkpoint and vLLM's
    /// `deepseek_mtp.py`: a decoder layer like the last one, `enorm` and `hnorm` (h each), `eh_proj`
    /// (2h x h), its own embedding and a shared head (norm h, output vocab x h).
    public var mtp = 0

    public init(_ a: ModelArchitecture) {
        let h = a.hiddenSize
        let q = a.queryWidth
        let kv = a.kvWidth
        var attn = h * q + 2 * h * kv + q * h
        if a.qkvBias { attn += q + 2 * kv }
        if a.outputBias { attn += h }
        let i = a.intermediateSize
        var mlp: Int
        switch a.mlp {
        case .gated:
            mlp = 3 * h * i
            if a.mlpBias { mlp += 2 * i + h }
        case .plain:
            mlp = 2 * h * i
            if a.mlpBias { mlp += i + h }
        }
        let normSize = a.norm == .rms ? h : 2 * h
        embedding = a.vocabSize * h
        positions = a.learnedPositions * h
        attentionPerLayer = attn
        mlpPerExpert = mlp
        mlpPerLayer = mlp * a.experts
        routerPerLayer = a.isMoE ? h * a.experts : 0
        normsPerLayer = a.normsPerLayer * normSize
        finalNorm = normSize
        lmHead = a.tiedEmbeddings ? 0 : a.vocabSize * h
        layers = a.layers
        let mlpLinear = (a.mlp == .gated ? 3 : 2) * h * i * a.experts
        linearWeightsPerLayer = h * q + 2 * h * kv + q * h + mlpLinear
        if a.experts > 1 { expertLinearWeights = a.layers * mlpLinear }
        if a.usesInventory {
            let all = LayerInventory.layers(a)
            inventoryLayers = all.reduce(0) { $0 + $1.total(kvHeads: a.kvHeads) }
            inventoryLinear = all.reduce(0) { $0 + $1.linear }
            inventoryInactive = all.reduce(0) { $0 + $1.inactive }
            expertLinearWeights = all.reduce(0) { $0 + $1.expertLinear }
            if let m = a.moe {
                mlpPerExpert = 3 * h * m.expertIntermediate
                routerPerLayer = h * m.experts
            }
            if a.mtpLayers > 0, let last = all.last {
                mtp = a.mtpLayers * (last.total(kvHeads: a.kvHeads) + 2 * h + 2 * h * h + h + 2 * a.vocabSize * h)
            }
        }
    }

    /// One decoder layer (the average, for families whose layers differ).
    public var perLayer: Int {
        if let t = inventoryLayers { return t / max(layers, 1) }
        return attentionPerLayer + mlpPerLayer + routerPerLayer + normsPerLayer
    }

    /// Every parameter once.
    public var total: Int { embedding + positions + (inventoryLayers ?? layers * perLayer) + finalNorm + lmHead }

    /// Parameters used for one token: all but the experts a token is not routed to.
    public func active(expertsPerToken k: Int, experts: Int) -> Int {
        if inventoryLayers != nil { return total - inventoryInactive }
        guard experts > 1 else { return total }
        return total - layers * mlpPerExpert * (experts - k)
    }

    /// Parameters used for one token, for any architecture.
    public static func active(_ a: ModelArchitecture) -> Int {
        ParameterCount(a).active(expertsPerToken: a.expertsPerToken, experts: a.experts)
    }

    /// Linear weights inside the decoder blocks, all layers.
    public var linearWeights: Int { inventoryLayers != nil ? inventoryLinear : layers * linearWeightsPerLayer }

    /// Parameters kept in 16-bit by bitsandbytes/QLoRA: embeddings, lm_head, norms, biases, router.
    public var nonLinear: Int { total - linearWeights }

    /// The largest single module (DeepSpeed's "largest layer"): the embedding, the output head,
    /// or one decoder block.
    public var largestModule: Int { max(embedding, lmHead, perLayer) }
}

/// LoRA adapter sizes: `r x (in + out)` per adapted linear (Hu et al. 2021; PEFT `LoraLayer`).
public enum LoRA {
    /// The valid target names.
    public static let targets = Workload.allLinearTargets

    /// Trainable parameters for rank `r` on `targets` (Hugging Face module names). Fused projections
    /// carry one adapter (Phi-3 `qkv_proj`/`gate_up_proj`, GPT-2 `c_attn`), as PEFT does.
    public static func trainableParameters(_ a: ModelArchitecture, rank r: Int, targets: [String]) -> Int {
        let h = a.hiddenSize
        let q = a.queryWidth
        let kv = a.kvWidth
        let i = a.intermediateSize
        let t = Set(targets)
        var perLayer = 0
        let fusedQKV = a.modelType == "phi3" || a.modelType == "gpt2"
        if fusedQKV {
            if !t.isDisjoint(with: ["q_proj", "k_proj", "v_proj"]) { perLayer += h + q + 2 * kv }
        } else {
            if t.contains("q_proj") { perLayer += h + q }
            if t.contains("k_proj") { perLayer += h + kv }
            if t.contains("v_proj") { perLayer += h + kv }
        }
        if t.contains("o_proj") { perLayer += q + h }
        var mlp = 0
        if a.mlp == .plain {
            if t.contains("up_proj") { mlp += h + i }
            if t.contains("down_proj") { mlp += i + h }
        } else if a.modelType == "phi3" {
            if t.contains("gate_proj") || t.contains("up_proj") { mlp += h + 2 * i }
            if t.contains("down_proj") { mlp += i + h }
        } else {
            if t.contains("gate_proj") { mlp += h + i }
            if t.contains("up_proj") { mlp += h + i }
            if t.contains("down_proj") { mlp += i + h }
        }
        perLayer += mlp * a.experts
        return r * a.layers * perLayer
    }
}
