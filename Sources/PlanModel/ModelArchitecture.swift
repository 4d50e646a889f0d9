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
    public var isMoE: Bool { experts > 1 }
    /// Width of the query projection output (heads x head_dim).
    public var queryWidth: Int { heads * headDim }
    /// Width of one of the k or v projections' outputs (kv heads x head_dim).
    public var kvWidth: Int { kvHeads * headDim }
}

/// Why a `config.json` cannot be used; each message names the field and what would be valid.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ModelArchitecture {
    /// Reads a Hugging Face `config.json` document.
    ///
    /// Known `model_type`s (llama, mistral, mixtral, qwen2, gemma2, phi3, gpt2) get their class defaults
    /// from `transformers`; any other type with the standard fields is read as a Llama-style decoder
    /// (gated MLP, RMSNorm, two norms per layer), which is what most current decoders are.
    public init(config: JSONValue, origin: String = "config.json") throws {
        guard case .object = config else {
            throw ConfigError("\(origin) is not a JSON object; expected a Hugging Face config.json")
        }
        // Multimodal wrappers keep the language model in `text_config`.
        if config["vocab_size"] == nil, config["hidden_size"] == nil, let text = config["text_config"] {
            try self.init(config: text, origin: origin + " text_config")
            return
        }
        let r = ConfigReader(config: config, origin: origin)
        let type = try r.string("model_type") ?? "llama"
        let isGPT2 = type == "gpt2"
        let hidden = try r.requiredInt(["hidden_size", "n_embd", "d_model"], why: "the hidden size")
        let layers = try r.requiredInt(["num_hidden_layers", "n_layer", "num_layers"], why: "the number of layers")
        let heads = try r.requiredInt(["num_attention_heads", "n_head"], why: "the number of attention heads")
        let vocab = try r.requiredInt(["vocab_size"], why: "the vocabulary size")
        var kv = try r.int(["num_key_value_heads", "num_kv_heads"]) ?? heads
        if try r.bool("multi_query") == true { kv = 1 }
        let explicitHeadDim = try r.int(["head_dim"])
        let inter: Int
        if isGPT2 {
            try ConfigReader.check(hidden, "n_embd", origin: origin, range: 1...1_048_576)
            inter = try r.int(["n_inner"]) ?? 4 * hidden
        } else {
            inter = try r.requiredInt(
                ["intermediate_size", "ffn_dim", "n_inner"], why: "the MLP width (intermediate_size)")
        }
        let tiedDefault: Bool =
            switch type {
            case "gpt2", "gemma", "gemma2", "gemma3_text": true
            case "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "phi3": false
            default: true  // transformers' PretrainedConfig default
            }
        let tied = try r.bool("tie_word_embeddings") ?? tiedDefault
        let maxPos = try r.int(["max_position_embeddings", "n_positions", "n_ctx"]) ?? 4096

        try ConfigReader.check(hidden, "hidden_size", origin: origin, range: 1...1_048_576)
        try ConfigReader.check(layers, "num_hidden_layers", origin: origin, range: 1...10_000)
        try ConfigReader.check(heads, "num_attention_heads", origin: origin, range: 1...65_536)
        try ConfigReader.check(vocab, "vocab_size", origin: origin, range: 1...100_000_000)
        try ConfigReader.check(inter, "intermediate_size", origin: origin, range: 1...16_777_216)
        try ConfigReader.check(maxPos, "max_position_embeddings", origin: origin, range: 1...1_073_741_824)
        guard kv >= 1, kv <= heads, heads % kv == 0 else {
            throw ConfigError(
                "\(origin): num_key_value_heads \(kv) must divide num_attention_heads \(heads) (1 ... \(heads))")
        }
        let headDim: Int
        if let d = explicitHeadDim {
            try ConfigReader.check(d, "head_dim", origin: origin, range: 1...65_536)
            headDim = d
        } else {
            guard hidden % heads == 0 else {
                throw ConfigError(
                    "\(origin): num_attention_heads \(heads) does not divide hidden_size \(hidden); "
                        + "give head_dim or use a head count that divides \(hidden)")
            }
            headDim = hidden / heads
        }

        var experts = try r.int(["num_local_experts", "num_experts"]) ?? 1
        if experts < 1 { experts = 1 }
        let perToken = try r.int(["num_experts_per_tok", "moe_topk"]) ?? (experts > 1 ? 2 : 1)
        if experts > 1 {
            try ConfigReader.check(experts, "num_local_experts", origin: origin, range: 1...4096)
            guard perToken >= 1, perToken <= experts else {
                throw ConfigError(
                    "\(origin): num_experts_per_tok \(perToken) must be between 1 and num_local_experts \(experts)")
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
        } else if type == "gemma2" || type == "gemma3_text", window != nil {
            sliding = (0..<layers).map { $0 % 2 == 0 }
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
            throw ConfigError(
                "\(origin): the configuration describes about \(String(format: "%.1e", roughParams)) parameters; "
                    + "plan handles models up to 10^14 parameters (check num_hidden_layers, hidden_size and vocab_size)")
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
        default: throw ConfigError("\(origin): field '\(k)' must be an integer, got \(v.typeName)")
        }
    }

    func requiredInt(_ keys: [String], why: String) throws -> Int {
        guard let i = try int(keys) else {
            throw ConfigError("\(origin): missing field '\(keys[0])' (\(why)); a Hugging Face config.json has it")
        }
        return i
    }

    func double(_ keys: [String]) throws -> Double? {
        guard let (k, v) = value(keys) else { return nil }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw ConfigError("\(origin): field '\(k)' must be a number, got \(v.typeName)")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        guard let (k, v) = value([key]) else { return nil }
        guard case .bool(let b) = v else {
            throw ConfigError("\(origin): field '\(k)' must be true or false, got \(v.typeName)")
        }
        return b
    }

    func string(_ key: String) throws -> String? {
        guard let (k, v) = value([key]) else { return nil }
        guard case .string(let s) = v else {
            throw ConfigError("\(origin): field '\(k)' must be a string, got \(v.typeName)")
        }
        return s
    }

    static func check(_ v: Int, _ name: String, origin: String, range: ClosedRange<Int>) throws {
        guard range.contains(v) else {
            throw ConfigError(
                "\(origin): \(name) \(v) is out of range; expected \(range.lowerBound) ... \(range.upperBound)")
        }
    }
}
