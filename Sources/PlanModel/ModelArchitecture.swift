/// The architecture of a decoder-only transformer, as read from a Hugging Face `config.json`.
///
/// Only what changes memory is kept. Family-specific conventions (Gemma-2's four norms per layer,
/// Qwen2's q/k/v bias, GPT-2's learned positions and LayerNorm biases) are resolved here once, so
/// the estimator works on plain numbers.
public struct ModelArchitecture: Sendable, Equatable {
    public enum Norm: String, Sendable { case rms, layer }
    public enum MLP: String, Sendable {
        /// gate, up and down projections with a SiLU/GELU gate (Llama, Mistral, Qwen2, Gemma-2, Phi-3).
        case gated
        /// up and down projections (GPT-2: 4h GELU).
        case plain
    }

    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var tiedEmbeddings: Bool
    public var maxPositions: Int
    /// Bias on the q, k and v projections (Qwen2, GPT-2).
    public var qkvBias: Bool
    /// Bias on the attention output projection (GPT-2).
    public var outputBias: Bool
    /// Bias on the MLP projections (GPT-2).
    public var mlpBias: Bool
    public var norm: Norm
    /// Norm modules per decoder layer (2; Gemma-2 has 4).
    public var normsPerLayer: Int
    public var mlp: MLP
    /// Experts per MoE layer (1 for a dense model).
    public var experts: Int
    /// Experts each token is routed to.
    public var expertsPerToken: Int
    /// Learned absolute position embeddings (GPT-2's `n_positions`), 0 when rotary.
    public var learnedPositions: Int
    /// Sliding-window length, if any layer uses one.
    public var slidingWindow: Int?
    /// For each layer, whether it uses the sliding window.
    public var slidingLayers: [Bool]
    /// Dropout probability applied to attention weights and residuals in training (GPT-2: 0.1).
    public var dropout: Double
    /// Gemma-2 style tanh soft-capping of the final logits.
    public var finalLogitSoftcap: Double?
    /// Gemma-2 style tanh soft-capping of the attention scores.
    public var attentionSoftcap: Double?

    /// q/k norm weights per layer (Qwen3, Gemma-3: `head_dim` each; OLMo-2: the full q and k widths).
    public var qkNormPerLayer: Int = 0
    /// Learned attention-sink logits per layer (gpt-oss: one per head).
    public var sinksPerLayer: Int = 0
    /// Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2), when the model uses it.
    public var latent: LatentAttention? = nil
    /// A mixture of experts with per-layer placement, shared experts and biases (DeepSeek, Qwen-MoE,
    /// gpt-oss, Llama-4, GLM-4.5); nil for dense models and for Mixtral's uniform `experts`.
    public var moe: MoELayout? = nil
    /// Key/value heads the cache holds, when more than the projections produce: transformers' Falcon
    /// "new decoder" broadcasts each KV head to its query heads before the cache update
    /// (`FalconAttention._split_heads`), so the cache holds all `heads`. Nil: `kvHeads`.
    public var cachedKVHeads: Int? = nil
    /// Llama-4: the layers without RoPE (`no_rope_layers` 0; by default every 4th), which use full causal
    /// attention with temperature tuning; the others use chunked attention of `attentionChunk` tokens.
    public var noRopeLayers: [Bool] = []
    public var attentionChunk: Int? = nil
    /// Fraction of head_dim that is rotated (GLM-4.5's `partial_rotary_factor`, 0.5 by default; GPT-NeoX's
    /// `rotary_pct`, 0.25 by default; 1 elsewhere).
    public var rotaryFraction: Double = 1
    /// The MLP reads the layer input rather than the attention's residual output (GPT-NeoX
    /// `use_parallel_residual`, Falcon `parallel_attn` or its new decoder); only the activation terms use it.
    public var parallelResidual: Bool = false
    /// Falcon's ALiBi (`alibi: true`) instead of rotary positions.
    public var alibi: Bool = false
    /// Falcon's `_split_heads` picks k and v with index lists (`[-2]`, `[-1]`; new decoder or multi-query),
    /// which autograd keeps (two int64 indices per layer).
    public var indexedKV: Bool = false
    /// Multi-token-prediction layers in the checkpoint (`num_nextn_predict_layers`) that
    /// transformers does not build; reported apart from `parameters`.
    public var mtpLayers: Int = 0
    /// What the estimate leaves out or assumes for this family (the vision tower of a multimodal
    /// config, an unknown family estimated as dense with --assume-dense).
    public var notes: [String] = []

    /// DeepSeek's MLA: queries through an optional low-rank `q_lora_rank`, keys and values through the
    /// `kv_lora_rank` latent plus a shared rotary key of `qk_rope_head_dim`.
    public struct LatentAttention: Sendable, Equatable {
        public var qLoraRank: Int?
        public var kvLoraRank: Int
        public var qkNopeHeadDim: Int
        public var qkRopeHeadDim: Int
        public var vHeadDim: Int
        public var bias: Bool
        public var qkHeadDim: Int { qkNopeHeadDim + qkRopeHeadDim }
    }

    /// Experts as the modeling files build them.
    public struct MoELayout: Sendable, Equatable {
        public var experts: Int
        public var expertsPerToken: Int
        /// Width of one routed expert's gated MLP.
        public var expertIntermediate: Int
        /// Width of the shared experts' gated MLP, all of them together (0: none).
        public var sharedIntermediate: Int
        /// A sigmoid gate on the shared expert (Qwen2-MoE `shared_expert_gate`, `h x 1`).
        public var sharedGate: Bool
        /// A bias on the router (gpt-oss).
        public var routerBias: Bool
        /// DeepSeek-V3's `e_score_correction_bias`, one per expert: a buffer in transformers
        /// (`register_buffer`), so not among the parameters; 4 bytes per expert.
        public var correctionBias: Bool
        /// Biases on the experts' projections (gpt-oss: `gate_up_proj_bias`, `down_proj_bias`).
        public var expertBias: Bool
        /// Which layers are sparse; the others have a dense gated MLP of `intermediateSize`.
        public var sparse: [Bool]
        /// `norm_topk_prob`: the top-k routing weights are divided by their sum.
        public var normalizeTopK: Bool = false
    }

    public init(
        modelType: String = "llama", vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int,
        kvHeads: Int? = nil, headDim: Int? = nil, intermediateSize: Int, tiedEmbeddings: Bool = false,
        maxPositions: Int = 4096, qkvBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false,
        norm: Norm = .rms, normsPerLayer: Int = 2, mlp: MLP = .gated, experts: Int = 1, expertsPerToken: Int = 1,
        learnedPositions: Int = 0, slidingWindow: Int? = nil, slidingLayers: [Bool]? = nil, dropout: Double = 0,
        finalLogitSoftcap: Double? = nil, attentionSoftcap: Double? = nil
    ) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim ?? (heads > 0 ? hiddenSize / heads : 0)
        self.intermediateSize = intermediateSize
        self.tiedEmbeddings = tiedEmbeddings
        self.maxPositions = maxPositions
        self.qkvBias = qkvBias
        self.outputBias = outputBias
        self.mlpBias = mlpBias
        self.norm = norm
        self.normsPerLayer = normsPerLayer
        self.mlp = mlp
        self.experts = experts
        self.expertsPerToken = expertsPerToken
        self.learnedPositions = learnedPositions
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers ?? Array(repeating: slidingWindow != nil, count: layers)
        self.dropout = dropout
        self.finalLogitSoftcap = finalLogitSoftcap
        self.attentionSoftcap = attentionSoftcap
    }

    /// Whether this is a mixture-of-experts model.
    public var isMoE: Bool { experts > 1 || moe != nil }

    /// Whether parameters come from the per-layer inventory (`LayerInventory`) rather than the
    /// uniform-layer formula of the families plan was first calibrated on.
    public var usesInventory: Bool { latent != nil || moe != nil || qkNormPerLayer > 0 || sinksPerLayer > 0 }

    /// KV-cache values per token per layer: keys and values of every KV head, or MLA's latent plus
    /// its rotary key (what transformers 5.x and vLLM hold for DeepSeek-V3).
    public var kvValuesPerToken: Int {
        if let m = latent { return m.kvLoraRank + m.qkRopeHeadDim }
        return 2 * (cachedKVHeads ?? kvHeads) * headDim
    }
    /// Width of the query projection output (heads x head_dim).
    public var queryWidth: Int { heads * headDim }
    /// Width of one of the k or v projections' outputs (kv heads x head_dim).
    public var kvWidth: Int { kvHeads * headDim }
}

/// Why a `config.json` cannot be used; each message names the field and what would be valid.
public enum ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The document is not a JSON object.
    case notAnObject(origin: String)
    /// A required field is absent; `why` says what it gives.
    case missingField(origin: String, field: String, why: String)
    /// A field of the wrong JSON type: `expected` ("an integer", "a number", "true or false", "a string").
    case wrongType(origin: String, field: String, expected: String, got: String)
    case outOfRange(origin: String, name: String, value: Int, range: ClosedRange<Int>)
    case kvHeadsMustDivide(origin: String, kvHeads: Int, heads: Int)
    case headsMustDivideHidden(origin: String, heads: Int, hidden: Int)
    case expertsPerToken(origin: String, perToken: Int, experts: Int)
    /// Sizes whose arithmetic could overflow (about `parameters`).
    case tooLarge(origin: String, parameters: Double)
    /// A family with recurrent or state-space layers, which plan does not model.
    case stateSpace(origin: String, modelType: String)
    /// An unknown family with a field that signals structure plan would have to guess.
    case unknownStructure(origin: String, modelType: String, field: String, signals: String)
    /// A quantization_config plan cannot size.
    case quantization(String)

    public var description: String {
        switch self {
        case .notAnObject(let o): "\(o) is not a JSON object; expected a Hugging Face config.json"
        case .missingField(let o, let f, let why): "\(o): missing field '\(f)' (\(why)); a Hugging Face config.json has it"
        case .wrongType(let o, let f, let expected, let got): "\(o): field '\(f)' must be \(expected), got \(got)"
        case .outOfRange(let o, let name, let v, let r): "\(o): \(name) \(v) is out of range; expected \(r.lowerBound) ... \(r.upperBound)"
        case .kvHeadsMustDivide(let o, let kv, let heads):
            "\(o): num_key_value_heads \(kv) must divide num_attention_heads \(heads) (1 ... \(heads))"
        case .headsMustDivideHidden(let o, let heads, let hidden):
            "\(o): num_attention_heads \(heads) does not divide hidden_size \(hidden); give head_dim or use a head count that divides \(hidden)"
        case .expertsPerToken(let o, let k, let e): "\(o): num_experts_per_tok \(k) must be between 1 and the \(e) experts"
        case .tooLarge(let o, let p):
            "\(o): the configuration describes about \(String(format: "%.1e", p)) parameters; "
                + "plan handles models up to 10^14 parameters (check num_hidden_layers, hidden_size and vocab_size)"
        case .stateSpace(let o, let t):
            "\(o): model_type '\(t)' has recurrent or state-space layers (linear attention or Mamba); plan does not "
                + "model their state in place of a KV cache, so it gives no estimate rather than a dense-decoder guess"
        case .unknownStructure(let o, let t, let f, let what):
            "\(o): model_type '\(t)' is not a family plan knows, and its field '\(f)' signals \(what); "
                + "plan refuses to guess its structure (pass --assume-dense to estimate it as a dense decoder anyway)"
        case .quantization(let why): "quantization_config: \(why)"
        }
    }

    /// The one line a front end prints.
    public var message: String { description }
}

extension ModelArchitecture {
    /// Reads a Hugging Face `config.json` document.
    ///
    /// Known `model_type`s (llama, mistral, mixtral, qwen2, gemma2, phi3, gpt2) get their class defaults
    /// from `transformers`; any other type with the standard fields is read as a Llama-style decoder
    /// (gated MLP, RMSNorm, two norms per layer), which is what most current decoders are.
    public init(config: JSONValue, origin: String = "config.json", assumeDense: Bool = false) throws {
        guard case .object = config else {
            throw ConfigError.notAnObject(origin: origin)
        }
        // Multimodal wrappers keep the language model in `text_config`.
        if config["vocab_size"] == nil, config["hidden_size"] == nil, let text = config["text_config"] {
            try self.init(config: text, origin: origin + " text_config", assumeDense: assumeDense)
            let outer = (try? ConfigReader(config: config, origin: origin).string("model_type")) ?? nil
            if config["vision_config"] != nil {
                notes.append(
                    "\(outer.map { "'\($0)'" } ?? "this") is a multimodal config: the language model (text_config) is estimated; "
                        + "the vision tower and projector (vision_config) are left out of parameters and weights")
            }
            return
        }
        let declared = try ConfigReader(config: config, origin: origin).string("model_type") ?? "llama"
        // Qwen2-VL and Qwen2.5-VL: the language model is Qwen2's decoder (Qwen2_5_VLTextModel), its
        // fields at the top level in published configs or in a text_config of type "*_text".
        if let decoder = Self.languageModelOf[declared], case .object(var o) = config {
            o["model_type"] = .string(decoder)
            try self.init(config: .object(o), origin: origin, assumeDense: assumeDense)
            if config["vision_config"] != nil {
                notes.append(
                    "'\(declared)' is a multimodal config: its language model (a \(decoder) decoder) is estimated; "
                        + "the vision tower and projector (vision_config) are left out of parameters and weights")
            }
            return
        }
        let type = declared
        let r = ConfigReader(config: Self.withClassDefaults(config, type: type), origin: origin)
        try Self.checkFamily(type, r, config: config, assumeDense: assumeDense)
        // GPT-BigCode (SantaCoder, StarCoder 1) is GPT-2's block with multi-query attention.
        let isGPT2 = type == "gpt2" || type == "gpt_bigcode"
        let hidden = try r.requiredInt(["hidden_size", "n_embd", "d_model"], why: "the hidden size")
        let layers = try r.requiredInt(["num_hidden_layers", "n_layer", "num_layers"], why: "the number of layers")
        let heads = try r.requiredInt(["num_attention_heads", "n_head"], why: "the number of attention heads")
        let vocab = try r.requiredInt(["vocab_size"], why: "the vocabulary size")
        var kv = try r.int(["num_key_value_heads", "num_kv_heads", "n_head_kv"]) ?? heads
        if type == "falcon" {
            // FalconAttention: the new (40B) decoder has num_kv_heads; otherwise multi_query (default
            // true) means one key/value head (modeling_falcon.py, `qkv_out_dim`).
            if try r.bool("new_decoder_architecture") != true { kv = (try r.bool("multi_query") ?? true) ? 1 : heads }
        } else if try r.bool("multi_query") ?? (type == "gpt_bigcode") {
            kv = 1
        }
        let explicitHeadDim = try r.int(["head_dim"])
        let inter: Int
        if isGPT2 {
            try ConfigReader.check(hidden, "n_embd", origin: origin, range: 1...1_048_576)
            inter = try r.int(["n_inner"]) ?? 4 * hidden
        } else if type == "falcon" {
            inter = try r.int(["ffn_hidden_size"]) ?? 4 * hidden  // FalconConfig.__post_init__
        } else {
            inter = try r.requiredInt(
                ["intermediate_size", "ffn_dim", "n_inner"], why: "the MLP width (intermediate_size)")
        }
        let tiedDefault: Bool =
            switch type {
            case "gpt2", "gpt_bigcode", "falcon", "gemma", "gemma2", "gemma3_text", "starcoder2": true
            case "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "deepseek_v2", "deepseek_v3",
                "gpt_oss", "llama4_text", "glm4_moe", "olmo2", "gpt_neox":
                false
            default: true  // transformers' PretrainedConfig default
            }
        let tied = try r.bool("tie_word_embeddings") ?? tiedDefault
        let maxPos = try r.int(["max_position_embeddings", "n_positions", "n_ctx"]) ?? (type == "falcon" ? 2048 : 4096)

        try ConfigReader.check(hidden, "hidden_size", origin: origin, range: 1...1_048_576)
        try ConfigReader.check(layers, "num_hidden_layers", origin: origin, range: 1...10_000)
        try ConfigReader.check(heads, "num_attention_heads", origin: origin, range: 1...65_536)
        try ConfigReader.check(vocab, "vocab_size", origin: origin, range: 1...100_000_000)
        try ConfigReader.check(inter, "intermediate_size", origin: origin, range: 1...16_777_216)
        try ConfigReader.check(maxPos, "max_position_embeddings", origin: origin, range: 1...1_073_741_824)
        guard kv >= 1, kv <= heads, heads % kv == 0 else {
            throw ConfigError.kvHeadsMustDivide(origin: origin, kvHeads: kv, heads: heads)
        }
        let headDim: Int
        if let d = explicitHeadDim {
            try ConfigReader.check(d, "head_dim", origin: origin, range: 1...65_536)
            headDim = d
        } else {
            guard hidden % heads == 0 else {
                throw ConfigError.headsMustDivideHidden(origin: origin, heads: heads, hidden: hidden)
            }
            headDim = hidden / heads
        }

        var experts = try r.int(["num_local_experts", "num_experts"]) ?? 1
        if experts < 1 { experts = 1 }
        let perToken = try r.int(["num_experts_per_tok", "moe_topk"]) ?? (experts > 1 ? 2 : 1)
        if experts > 1 {
            try ConfigReader.check(experts, "num_local_experts", origin: origin, range: 1...4096)
            guard perToken >= 1, perToken <= experts else {
                throw ConfigError.expertsPerToken(origin: origin, perToken: perToken, experts: experts)
            }
        }

        // Sliding window: Qwen2 only uses it when use_sliding_window is true; Gemma-2 alternates
        // (even layers local); newer configs list `layer_types` explicitly.
        var window = try r.int(["sliding_window"])
        if type == "qwen2" || type == "qwen2_moe", try r.bool("use_sliding_window") != true { window = nil }
        if let w = window { try ConfigReader.check(w, "sliding_window", origin: origin, range: 1...1_073_741_824) }
        var sliding = Array(repeating: window != nil, count: layers)
        if let types = config["layer_types"], case .array(let items) = types, items.count == layers {
            sliding = items.map { $0 == .string("sliding_attention") }
            if window == nil { sliding = Array(repeating: false, count: layers) }
        } else if type == "gemma2", window != nil {
            sliding = (0..<layers).map { $0 % 2 == 0 }
        } else if type == "gemma3_text", window != nil {
            // Gemma3TextConfig: every `sliding_window_pattern`-th layer is global (5 local : 1 global).
            let pattern = try r.int(["sliding_window_pattern"]) ?? 6
            sliding = (0..<layers).map { pattern <= 0 || ($0 + 1) % pattern != 0 }
        } else if type == "gpt_oss", window != nil {
            // GptOssConfig: sliding and full attention alternate, starting with sliding.
            sliding = (0..<layers).map { ($0 + 1) % 2 != 0 }
        }

        let dropout: Double
        if isGPT2 {
            dropout = try r.double(["attn_pdrop"]) ?? 0.1
        } else {
            dropout = try r.double(["attention_dropout"]) ?? 0
        }

        // Absurd sizes are refused before any arithmetic can overflow: 10^14 parameters is 200x the
        // largest published dense model.
        let roughParams =
            Double(layers) * (4 * Double(hidden) * Double(heads * headDim) + 3 * Double(hidden) * Double(inter) * Double(experts))
            + 2 * Double(vocab) * Double(hidden)
        guard roughParams <= 1e14 else {
            throw ConfigError.tooLarge(origin: origin, parameters: roughParams)
        }
        let attentionBias = try r.bool("attention_bias") ?? false
        let mlpBias = try r.bool("mlp_bias") ?? false
        let finalSoftcap = try r.double(["final_logit_softcapping"])
        let attnSoftcap = try r.double(["attn_logit_softcapping"])
        self.init(
            modelType: type, vocabSize: vocab, hiddenSize: hidden, layers: layers, heads: heads, kvHeads: kv,
            headDim: headDim, intermediateSize: inter, tiedEmbeddings: tied, maxPositions: maxPos,
            qkvBias: isGPT2 || type.hasPrefix("qwen2") || attentionBias,
            outputBias: isGPT2 || attentionBias,
            mlpBias: isGPT2 || mlpBias,
            norm: isGPT2 ? .layer : .rms,
            normsPerLayer: (type == "gemma2" || type == "gemma3_text") ? 4 : 2,
            mlp: isGPT2 ? .plain : .gated,
            experts: experts, expertsPerToken: experts > 1 ? perToken : 1,
            learnedPositions: isGPT2 ? maxPos : 0,
            slidingWindow: window, slidingLayers: sliding, dropout: dropout,
            finalLogitSoftcap: finalSoftcap, attentionSoftcap: attnSoftcap)
        try applyFamily(type, r)
        if !Self.knownTypes.contains(type) {
            notes.append(
                assumeDense
                    ? "model_type '\(type)' is not a family plan knows and --assume-dense was given: estimated as a dense Llama-style decoder (gated MLP, RMSNorm, no biases); fields that signal other structure were ignored"
                    : "model_type '\(type)' is not a family plan knows: estimated as a dense Llama-style decoder (gated MLP, RMSNorm, no biases); its config has no field that signals experts, latent attention or a state space")
        }
    }
}

extension ModelArchitecture {
    /// The `model_type`s whose structure the estimator models, tensor by tensor.
    public static let knownTypes: [String] = [
        "deepseek_v2", "deepseek_v3", "falcon", "gemma", "gemma2", "gemma3_text", "glm4_moe", "gpt2", "gpt_bigcode", "gpt_neox",
        "gpt_oss", "llama", "llama4_text", "mistral", "mixtral", "olmo2", "phi3", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "starcoder2",
    ]

    /// Multimodal types whose language model is a known decoder under another name.
    static let languageModelOf: [String: String] = [
        "qwen2_vl": "qwen2", "qwen2_5_vl": "qwen2", "qwen2_vl_text": "qwen2", "qwen2_5_vl_text": "qwen2",
    ]

    /// Multimodal wrappers whose language model is read from `text_config`.
    public static let multimodalTypes: [String] = ["gemma3", "llama4", "mistral3", "qwen2_5_vl", "qwen2_vl", "llava"]

    /// Families with recurrent or state-space layers in place of (some) attention: their memory is
    /// not a KV cache, and plan does not model it yet.
    public static let hybridTypes: [String] = [
        "bamba", "falcon_h1", "falcon_mamba", "granitemoehybrid", "jamba", "lfm2", "mamba", "mamba2", "minimax", "nemotron_h",
        "qwen3_next", "recurrent_gemma", "rwkv", "xlstm", "zamba", "zamba2",
    ]

    /// Configuration-class defaults for the fields that published configs leave out (Gemma-3's
    /// multimodal `text_config` gives only a few: `Gemma3TextConfig` in transformers 5.24 supplies the rest).
    static let classDefaults: [String: [String: JSONValue]] = [
        "gemma3_text": [
            "vocab_size": .int(262_208), "hidden_size": .int(2304), "intermediate_size": .int(9216),
            "num_hidden_layers": .int(26), "num_attention_heads": .int(8), "num_key_value_heads": .int(4),
            "head_dim": .int(256), "max_position_embeddings": .int(131_072), "sliding_window": .int(4096),
        ]
    ]

    static func withClassDefaults(_ config: JSONValue, type: String) -> JSONValue {
        guard let defaults = classDefaults[type], case .object(var o) = config else { return config }
        for (k, v) in defaults where o[k] == nil { o[k] = v }
        return .object(o)
    }

    /// Config fields that change the structure of a decoder; in an unknown family each is refused.
    static let structureFields: [(String, String)] = [
        ("n_routed_experts", "routed experts"), ("num_experts", "experts"), ("num_local_experts", "experts"),
        ("moe_intermediate_size", "experts"), ("shared_expert_intermediate_size", "a shared expert"),
        ("kv_lora_rank", "latent attention"), ("q_lora_rank", "latent attention"),
        ("layers_block_type", "a state space"), ("mamba_d_state", "a state space"), ("ssm_cfg", "a state space"),
        ("state_size", "a state space"), ("linear_num_value_heads", "linear attention"), ("attn_layer_indices", "a state space"),
        ("num_nextn_predict_layers", "multi-token-prediction layers"),
        ("cross_attention_layers", "cross-attention layers"), ("parallel_attn", "parallel attention"),
        ("num_kv_shared_layers", "KV caches shared between layers"), ("attention_k_eq_v", "keys shared with values"),
        ("global_head_dim", "a different head size on global layers"),
    ]

    static func checkFamily(_ type: String, _ r: ConfigReader, config: JSONValue, assumeDense: Bool) throws {
        if hybridTypes.contains(type) {
            throw ConfigError.stateSpace(origin: r.origin, modelType: type)
        }
        guard !knownTypes.contains(type), !assumeDense else { return }
        for (field, what) in structureFields where config[field] != nil && config[field] != .null {
            throw ConfigError.unknownStructure(origin: r.origin, modelType: type, field: field, signals: what)
        }
    }

    /// Family structure beyond the Llama block, read as each family's modeling file builds it.
    mutating func applyFamily(_ type: String, _ r: ConfigReader) throws {
        let attentionBias = try r.bool("attention_bias")
        func moeLayout(
            experts: Int, perToken: Int, expertIntermediate: Int, shared: Int, sparse: [Bool], sharedGate: Bool = false,
            routerBias: Bool = false, correctionBias: Bool = false, expertBias: Bool = false
        ) throws -> MoELayout {
            try ConfigReader.check(experts, "the expert count", origin: r.origin, range: 1...4096)
            guard perToken >= 1, perToken <= experts else {
                throw ConfigError.expertsPerToken(origin: r.origin, perToken: perToken, experts: experts)
            }
            try ConfigReader.check(expertIntermediate, "moe_intermediate_size", origin: r.origin, range: 1...16_777_216)
            return MoELayout(
                experts: experts, expertsPerToken: perToken, expertIntermediate: expertIntermediate, sharedIntermediate: shared,
                sharedGate: sharedGate, routerBias: routerBias, correctionBias: correctionBias, expertBias: expertBias, sparse: sparse)
        }
        /// A non-gated MLP and LayerNorms, with a bias on every linear or on none.
        func classicBlock(bias: Bool) {
            mlp = .plain
            norm = .layer
            qkvBias = bias
            outputBias = bias
            mlpBias = bias
        }
        func uniformExpertsOff() {
            experts = 1
            expertsPerToken = 1
        }
        switch type {
        case "qwen3", "qwen3_moe", "qwen2_moe":
            if type != "qwen2_moe" {
                qkvBias = attentionBias ?? false
                outputBias = attentionBias ?? false
                qkNormPerLayer = 2 * headDim  // q_norm, k_norm over head_dim (modeling_qwen3.py)
            }
            if type != "qwen3", let e = try r.int(["num_experts"]), e > 0 {
                let step = try r.int(["decoder_sparse_step"]) ?? 1
                var only = Set<Int>()
                if case .array(let items)? = r.config["mlp_only_layers"] {
                    for case .int(let i) in items { only.insert(i) }
                }
                let sparse = (0..<layers).map { !only.contains($0) && step > 0 && ($0 + 1) % step == 0 }
                let shared = type == "qwen2_moe" ? (try r.int(["shared_expert_intermediate_size"]) ?? 0) : 0
                moe = try moeLayout(
                    experts: e, perToken: try r.int(["num_experts_per_tok"]) ?? (type == "qwen2_moe" ? 4 : 8),
                    expertIntermediate: try r.int(["moe_intermediate_size"]) ?? intermediateSize, shared: shared, sparse: sparse,
                    sharedGate: shared > 0)
                moe?.normalizeTopK = try r.bool("norm_topk_prob") ?? false
                uniformExpertsOff()
            }
        case "deepseek_v2", "deepseek_v3", "glm4_moe":
            if type != "glm4_moe" {
                let rope = try r.int(["qk_rope_head_dim"]) ?? 64
                let nope = try r.int(["qk_nope_head_dim"]) ?? 128
                latent = LatentAttention(
                    qLoraRank: try r.int(["q_lora_rank"]), kvLoraRank: try r.int(["kv_lora_rank"]) ?? 512, qkNopeHeadDim: nope,
                    qkRopeHeadDim: rope, vHeadDim: try r.int(["v_head_dim"]) ?? 128, bias: attentionBias ?? false)
                qkvBias = false
                outputBias = false
            } else {
                qkvBias = attentionBias ?? false  // q, k and v; o_proj has no bias (modeling_glm4_moe.py)
                outputBias = false
                if try r.bool("use_qk_norm") == true { qkNormPerLayer = 2 * headDim }
                rotaryFraction = try r.double(["partial_rotary_factor"]) ?? 0.5  // Glm4MoeConfig's default
            }
            if let e = try r.int(["n_routed_experts"]), e > 0 {
                let firstDense = try r.int(["first_k_dense_replace"]) ?? 0
                let freq = try r.int(["moe_layer_freq"]) ?? 1
                let moeWidth = try r.int(["moe_intermediate_size"]) ?? 1407
                let sharedCount = try r.int(["n_shared_experts"]) ?? 0
                moe = try moeLayout(
                    experts: e, perToken: try r.int(["num_experts_per_tok"]) ?? 8, expertIntermediate: moeWidth,
                    shared: sharedCount * moeWidth,
                    sparse: (0..<layers).map { $0 >= firstDense && freq > 0 && $0 % freq == 0 },
                    // DeepSeek-V3 and GLM-4.5 route with a learned correction bias (noaux_tc); V2 does not.
                    correctionBias: type != "deepseek_v2" || (try r.string("topk_method")) == "noaux_tc")
                moe?.normalizeTopK = try r.bool("norm_topk_prob") ?? (type != "deepseek_v2")
                uniformExpertsOff()
            }
            mtpLayers = try r.int(["num_nextn_predict_layers"]) ?? 0
        case "gpt_oss":
            qkvBias = attentionBias ?? true
            outputBias = attentionBias ?? true
            sinksPerLayer = heads
            let e = try r.int(["num_local_experts"]) ?? 128
            moe = try moeLayout(
                experts: e, perToken: try r.int(["num_experts_per_tok", "experts_per_token"]) ?? 4,
                expertIntermediate: intermediateSize, shared: 0, sparse: Array(repeating: true, count: layers), routerBias: true,
                expertBias: true)
            uniformExpertsOff()
        case "llama4_text":
            qkvBias = attentionBias ?? false
            outputBias = attentionBias ?? false
            let e = try r.int(["num_local_experts"]) ?? 16
            let step = try r.int(["interleave_moe_layer_step"]) ?? 1
            var sparse = (0..<layers).map { step > 0 && ($0 + 1) % step == 0 }
            if case .array(let items)? = r.config["moe_layers"] {
                let set = Set(items.compactMap { if case .int(let i) = $0 { return i } else { return nil } })
                sparse = (0..<layers).map { set.contains($0) }
            }
            let expertWidth = intermediateSize
            intermediateSize = try r.int(["intermediate_size_mlp"]) ?? intermediateSize
            let interval = try r.int(["no_rope_layer_interval"]) ?? 4
            noRopeLayers = (0..<layers).map { interval > 0 && ($0 + 1) % interval == 0 }
            if case .array(let items)? = r.config["no_rope_layers"], items.count >= layers {
                noRopeLayers = (0..<layers).map { items[$0] == .int(0) }
            }
            attentionChunk = try r.int(["attention_chunk_size"]) ?? 8192
            moe = try moeLayout(
                experts: e, perToken: try r.int(["num_experts_per_tok"]) ?? 1, expertIntermediate: expertWidth, shared: expertWidth,
                sparse: sparse)
            uniformExpertsOff()
        case "gemma3_text":
            qkNormPerLayer = 2 * headDim
        case "olmo2":
            // q_norm and k_norm over the full projections; post-attention and post-feedforward norms only.
            qkNormPerLayer = queryWidth + kvWidth
        case "gpt_neox":
            classicBlock(bias: true)
            // GPTNeoXConfig: rotary_pct (rope_parameters.partial_rotary_factor in transformers 5), 0.25 by default.
            var fraction = try r.double(["rotary_pct"])
            if fraction == nil, let rope = r.config["rope_parameters"]?["partial_rotary_factor"] {
                switch rope {
                case .double(let f): fraction = f
                case .int(let f): fraction = Double(f)
                default: break
                }
            }
            rotaryFraction = fraction ?? 0.25
            parallelResidual = try r.bool("use_parallel_residual") ?? true
        case "falcon":
            // FalconDecoderLayer: LayerNorms; a plain GELU MLP (dense_h_to_4h, dense_4h_to_h); every
            // linear has a bias iff `bias`. With parallel attention one input norm, or ln_attn and ln_mlp
            // (num_ln_in_parallel_attn, 2 by default on the new decoder); sequential: two norms.
            // ALiBi and rotary add no parameters.
            classicBlock(bias: try r.bool("bias") ?? false)
            let newDecoder = try r.bool("new_decoder_architecture") ?? false
            let parallel = try r.bool("parallel_attn") ?? true
            let inParallel = try r.int(["num_ln_in_parallel_attn"]) ?? (newDecoder ? 2 : 1)
            normsPerLayer = parallel && inParallel != 2 ? 1 : 2
            // FalconDecoderLayer adds the MLP output to the attention output on the new decoder whatever parallel_attn says.
            parallelResidual = parallel || newDecoder
            alibi = try r.bool("alibi") ?? false
            indexedKV = newDecoder || kvHeads == 1
            if newDecoder, kvHeads < heads {
                cachedKVHeads = heads
                notes.append(
                    "Falcon's new decoder: transformers caches keys and values broadcast to all \(heads) heads "
                        + "(modeling_falcon.py _split_heads), \(heads / kvHeads)x the \(kvHeads) KV heads a serving engine such as vLLM keeps")
            }
        case "starcoder2":
            classicBlock(bias: try r.bool("use_bias") ?? true)
        default:
            break
        }
    }
}

/// Typed access to config fields with messages that name the field.
struct ConfigReader {
    let config: JSONValue
    let origin: String

    func value(_ keys: [String]) -> (String, JSONValue)? {
        for k in keys {
            if let v = config[k], v != .null { return (k, v) }
        }
        return nil
    }

    func int(_ keys: [String]) throws -> Int? {
        guard let (k, v) = value(keys) else { return nil }
        switch v {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: throw ConfigError.wrongType(origin: origin, field: k, expected: "an integer", got: v.typeName)
        }
    }

    func requiredInt(_ keys: [String], why: String) throws -> Int {
        guard let i = try int(keys) else {
            throw ConfigError.missingField(origin: origin, field: keys[0], why: why)
        }
        return i
    }

    func double(_ keys: [String]) throws -> Double? {
        guard let (k, v) = value(keys) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw ConfigError.wrongType(origin: origin, field: k, expected: "a number", got: v.typeName)
        }
    }

    func bool(_ key: String) throws -> Bool? {
        guard let (k, v) = value([key]) else { return nil }
        guard case .bool(let b) = v else {
            throw ConfigError.wrongType(origin: origin, field: k, expected: "true or false", got: v.typeName)
        }
        return b
    }

    func string(_ key: String) throws -> String? {
        guard let (k, v) = value([key]) else { return nil }
        guard case .string(let s) = v else {
            throw ConfigError.wrongType(origin: origin, field: k, expected: "a string", got: v.typeName)
        }
        return s
    }

    static func check(_ v: Int, _ name: String, origin: String, range: ClosedRange<Int>) throws {
        guard range.contains(v) else {
            throw ConfigError.outOfRange(origin: origin, name: name, value: v, range: range)
        }
    }
}
