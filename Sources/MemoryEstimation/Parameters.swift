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

    /// `inventory`: `LayerInventory.layers(a)` when the caller already has it (the recommendation
    /// search estimates one architecture thousands of times).
    public init(_ a: ModelArchitecture, inventory given: [LayerParams]? = nil) {
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
            let all = given ?? LayerInventory.layers(a)
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
///
/// Target names are the `target_modules` one would give PEFT, and they mean what PEFT 0.21 does with
/// them on transformers 5.24 (docs/calibration/lora/experts.md). On MoE models the routed experts are
/// fused 3-D parameters (`experts.gate_up_proj`, `experts.down_proj`), which PEFT adapts with a
/// `ParamWrapper`: one rank-r adapter per expert, `r·E·(in + out)` (peft/tuners/lora/layer.py, the
/// `lora_A`/`lora_B` of `ParamWrapper.update_layer`). PEFT's v4-to-v5 conversion
/// (peft/utils/transformers_weight_conversion.py, `_convert_peft_config_moe`) rewrites the MLP names:
/// - Qwen2-MoE-pattern families (qwen3_moe, deepseek_v2/v3, glm4_moe): `gate_proj`+`up_proj` become
///   `target_parameters` `gate_up_proj` at rank 2r (both or neither), `down_proj` becomes `down_proj`;
///   the names leave `target_modules`, so dense layers' and shared experts' MLPs are not adapted.
/// - Mixtral: its v4 names `w1`+`w3` become `gate_up_proj` at rank 2r, `w2` becomes `down_proj`;
///   `gate_proj`/`up_proj`/`down_proj` match nothing there.
/// - qwen2_moe itself (and gpt_oss, llama4_text) are not converted: the names reach only the
///   `nn.Linear` MLPs (dense layers, the shared expert), never the routed experts.
public enum LoRA {
    /// The valid target names of a dense Llama-style model.
    public static let targets = LoRATargets.llamaLinear

    /// How PEFT's conversion treats the MLP names of a family.
    enum ExpertNames { case linearOnly, fusedQwen2MoE, mixtral }

    static func expertNames(_ a: ModelArchitecture) -> ExpertNames {
        if a.modelType == "mixtral" && a.experts > 1 { return .mixtral }
        if a.moe != nil, ["qwen3_moe", "deepseek_v2", "deepseek_v3", "glm4_moe"].contains(a.modelType) { return .fusedQwen2MoE }
        return .linearOnly
    }

    /// Attention projection names of `a` (MLA: the latent projections; `q_proj` when `q_lora_rank` is null).
    public static func attentionTargets(_ a: ModelArchitecture) -> [String] {
        guard let m = a.latent else { return ["q_proj", "k_proj", "v_proj", "o_proj"] }
        return (m.qLoraRank != nil ? ["q_a_proj", "q_b_proj"] : ["q_proj"]) + ["kv_a_proj_with_mqa", "kv_b_proj", "o_proj"]
    }

    /// Every valid target name of `a`: its attention projections and MLP names (Mixtral: `w1, w2, w3`).
    public static func validTargets(_ a: ModelArchitecture) -> [String] {
        guard a.latent != nil || a.isMoE else { return targets }
        return attentionTargets(a) + (expertNames(a) == .mixtral ? ["w1", "w2", "w3"] : ["gate_proj", "up_proj", "down_proj"])
    }

    /// Every name any model accepts (for completing short names: `q` -> `q_proj`).
    public static let knownNames = targets + ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "w1", "w2", "w3"]

    /// A user-typed name: known names as they are, otherwise with `_proj` appended (`q` -> `q_proj`).
    public static func normalizedName(_ n: String) -> String { knownNames.contains(n) || n.hasSuffix("_proj") ? n : n + "_proj" }

    /// The target names for `a`: all-linear is every valid name of `a`.
    public static func resolvedTargets(_ a: ModelArchitecture, _ t: LoRATargets) -> [String] {
        switch t {
        case .allLinear: validTargets(a)
        case .modules(let m): m
        }
    }

    /// Why `t` (already resolved) is not a valid target list for `a`, or nil.
    public static func invalidTargets(_ a: ModelArchitecture, _ t: [String]) -> EstimateError? {
        let valid = validTargets(a)
        let bad = t.filter { !valid.contains($0) }
        if !bad.isEmpty || t.isEmpty { return .loraTargets(t, modelType: a.modelType, valid: valid) }
        let pair: [String]
        switch expertNames(a) {
        case .fusedQwen2MoE: pair = ["gate_proj", "up_proj"]
        case .mixtral: pair = ["w1", "w3"]
        case .linearOnly: pair = []
        }
        if !pair.isEmpty, Set(t).intersection(pair).count == 1 {
            return .loraHalfOfFusedPair(pair, modelType: a.modelType)
        }
        return nil
    }

    /// Trainable parameters for rank `r` on `targets` (Hugging Face module names). Fused projections
    /// carry one adapter (Phi-3 `qkv_proj`/`gate_up_proj`, GPT-2 `c_attn`), as PEFT does.
    public static func trainableParameters(_ a: ModelArchitecture, rank r: Int, targets: [String]) -> Int {
        if a.latent != nil || a.moe != nil || expertNames(a) == .mixtral {
            return moeTrainableParameters(a, rank: r, targets: Set(targets))
        }
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

    /// Layer by layer, for latent attention and experts (exact against PEFT 0.21, experts.md).
    static func moeTrainableParameters(_ a: ModelArchitecture, rank r: Int, targets t: Set<String>) -> Int {
        let h = a.hiddenSize
        var attention = 0
        if let m = a.latent {
            let qk = a.heads * m.qkHeadDim
            if let qr = m.qLoraRank {
                if t.contains("q_a_proj") { attention += h + qr }
                if t.contains("q_b_proj") { attention += qr + qk }
            } else if t.contains("q_proj") {
                attention += h + qk
            }
            if t.contains("kv_a_proj_with_mqa") { attention += h + m.kvLoraRank + m.qkRopeHeadDim }
            if t.contains("kv_b_proj") { attention += m.kvLoraRank + a.heads * (m.qkNopeHeadDim + m.vHeadDim) }
            if t.contains("o_proj") { attention += a.heads * m.vHeadDim + h }
        } else {
            let q = a.queryWidth
            let kv = a.kvWidth
            if t.contains("q_proj") { attention += h + q }
            if t.contains("k_proj") { attention += h + kv }
            if t.contains("v_proj") { attention += h + kv }
            if t.contains("o_proj") { attention += q + h }
        }
        // Names looked up once (this runs for every candidate split of the recommendation search).
        let gate = t.contains("gate_proj")
        let up = t.contains("up_proj")
        let down = t.contains("down_proj")
        let w1w3 = t.contains("w1") && t.contains("w3")
        let w2 = t.contains("w2")
        // An nn.Linear gated MLP of width i: one adapter per projection.
        func linearMLP(_ i: Int) -> Int { (gate ? h + i : 0) + (up ? h + i : 0) + (down ? i + h : 0) }
        // Fused experts (ParamWrapper): r per expert; gate_up_proj at rank 2r after PEFT's conversion.
        func experts(_ e: Int, _ i: Int, gateUp: Bool, down: Bool) -> Int {
            (gateUp ? 2 * e * (h + 2 * i) : 0) + (down ? e * (i + h) : 0)
        }
        let names = expertNames(a)
        var total = 0
        for l in 0..<a.layers {
            var mlp = 0
            if names == .mixtral {
                mlp = experts(a.experts, a.intermediateSize, gateUp: w1w3, down: w2)
            } else if let moe = a.moe, l < moe.sparse.count, moe.sparse[l] {
                if names == .fusedQwen2MoE {
                    mlp = experts(moe.experts, moe.expertIntermediate, gateUp: gate && up, down: down)
                } else if moe.sharedIntermediate > 0 {
                    mlp = linearMLP(moe.sharedIntermediate)  // the shared expert; routed experts unreached
                }
            } else if names != .fusedQwen2MoE {
                mlp = linearMLP(a.intermediateSize)  // a dense layer (converted families drop these names)
            }
            total += attention + mlp
        }
        return r * total
    }
}
