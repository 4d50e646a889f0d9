import Foundation
import PlanModel
import Testing
import TestSupport

@testable import MemoryEstimation

/// One measured case of docs/calibration/families/params.json: a config and the parameters
/// transformers 5.24 instantiates for it (measure_params.py; meta device, `model.parameters()`).
struct FamilyCase: Sendable, CustomTestStringConvertible {
    var name: String
    var config: JSONValue
    var parameters: Int
    var testDescription: String { name }

    static let all: [FamilyCase] = {
        let url = repositoryRoot.appendingPathComponent("docs/calibration/families/params.json")
        let doc = try! JSONValue.parse(try! Data(contentsOf: url))
        guard case .array(let cases)? = doc["cases"] else { fatalError("no cases") }
        return cases.map { c in
            guard case .string(let n)? = c["name"], case .int(let p)? = c["parameters"], let cfg = c["config"] else { fatalError("bad case") }
            return FamilyCase(name: n, config: cfg, parameters: p)
        }
    }()
}

@Suite struct FamilyTests {
    @Test(arguments: FamilyCase.all)
    func parametersAreExactlyWhatTransformersInstantiates(_ c: FamilyCase) throws {
        let a = try ModelArchitecture(config: c.config, origin: c.name)
        #expect(ParameterCount(a).total == c.parameters, "\(c.name): \(ParameterCount(a).total) vs \(c.parameters)")
        // On one GPU the shard is the whole model, so weights agree with the count.
        #expect(ParamShard(a, tp: 1, pp: 1).total == c.parameters)
    }

    @Test func theIssuesNumbersAreReproduced() throws {
        // issue 10's table: what transformers instantiates for these published configs.
        let expected = [
            "deepseek-v3": 671_026_404_352, "kimi-k2": 1_026_408_209_408, "qwen3-235b-a22b": 235_093_634_560,
            "qwen1.5-moe-a2.7b": 14_315_784_192, "llama4-maverick": 400_711_848_960,
        ]
        for (name, n) in expected {
            let c = try #require(FamilyCase.all.first { $0.name == name })
            #expect(ParameterCount(try ModelArchitecture(config: c.config)).total == n, "\(name)")
        }
    }

    @Test func activeParametersLeaveOutTheExpertsATokenSkips() throws {
        // DeepSeek-V3: 58 sparse layers of 256 routed experts (3 x 7168 x 2048 each), 8 routed per
        // token: 58 x 248 x 44,040,192 parameters are idle for a token.
        let c = try #require(FamilyCase.all.first { $0.name == "deepseek-v3" })
        let a = try ModelArchitecture(config: c.config)
        #expect(ParameterCount.active(a) == c.parameters - 58 * 248 * 3 * 7168 * 2048)
        #expect(a.mtpLayers == 1)
    }

    @Test func tensorAndPipelineShardsAddUpToAtLeastTheModel() throws {
        for c in FamilyCase.all {
            let a = try ModelArchitecture(config: c.config)
            // Splits a serving engine accepts: tp divides the KV heads or is a multiple of them (vLLM).
            for tp in [2, 4, 8] where a.heads % tp == 0 && (a.kvHeads % tp == 0 || tp % a.kvHeads == 0) {
                let shard = ParamShard(a, tp: tp, pp: 1)
                // Replicated norms, routers and KV heads make tp shards add up to more than the model, never less.
                #expect(shard.total * tp >= c.parameters && shard.total < c.parameters, "\(c.name) tp=\(tp)")
            }
            let first = ParamShard(a, tp: 1, pp: 2, stage: .first)
            let last = ParamShard(a, tp: 1, pp: 2, stage: .last)
            let tiedCopy = a.tiedEmbeddings ? a.vocabSize * a.hiddenSize : 0
            #expect(first.total + last.total == c.parameters + tiedCopy, "\(c.name) pp=2")
        }
    }

    @Test func latentAttentionCachesTheLatentOncePerRank() throws {
        let c = try #require(FamilyCase.all.first { $0.name == "deepseek-v3" })
        let a = try ModelArchitecture(config: c.config)
        // kv_lora_rank 512 + qk_rope_head_dim 64 values per token per layer, 61 layers, bf16.
        #expect(KVCache.bytes(a, batch: 1, tokens: 1000, bytesPerElement: 2, windowed: false) == 576 * 2 * 61 * 1000)
        #expect(KVCache.bytes(a, batch: 1, tokens: 1000, bytesPerElement: 2, tp: 8, windowed: false) == 576 * 2 * 61 * 1000)
    }

    @Test(arguments: [
        (#"{"model_type": "qwen3_next", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#, "qwen3_next"),
        (#"{"model_type": "jamba", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#, "jamba"),
        (#"{"model_type": "acme_moe", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "n_routed_experts": 8}"#, "'n_routed_experts'"),
        (#"{"model_type": "acme_mla", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "kv_lora_rank": 16}"#, "'kv_lora_rank'"),
        (#"{"model_type": "acme_ssm", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "mamba_d_state": 16}"#, "'mamba_d_state'"),
        // Gemma 4's text model (published 2026): shared KV layers plan does not model.
        (#"{"model_type": "gemma4", "text_config": {"model_type": "gemma4_text", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "num_kv_shared_layers": 0, "attention_k_eq_v": true}, "vision_config": {}}"#, "'num_kv_shared_layers'"),
    ])
    func unknownStructureIsRefusedNamingWhatIsNotUnderstood(config: String, needle: String) throws {
        let json = try JSONValue.parse(Data(config.utf8))
        #expect {
            try ModelArchitecture(config: json)
        } throws: { error in
            "\(error)".contains(needle)
        }
    }

    /// Published multimodal configs, as their repositories ship them (the fields below are the ones
    /// that set the language model's structure): the language model is counted exactly, the vision
    /// tower is named as left out. Expected counts: transformers 5.24 on the meta device
    /// (params.json: gemma-3-4b-text 3,880,263,168 = 4,300,079,472 for the whole
    /// Gemma3ForConditionalGeneration less its 419,816,304 vision parameters; Qwen2.5-VL-7B's decoder is
    /// Qwen2.5-7B's, 7,615,616,512).
    @Test(arguments: [
        (#"{"model_type": "gemma3", "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text", "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024}, "vision_config": {"hidden_size": 1152, "model_type": "siglip_vision_model"}}"#, 3_880_263_168),
        (#"{"model_type": "qwen2_5_vl", "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 128000, "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "sliding_window": 32768, "tie_word_embeddings": false, "use_sliding_window": false, "vocab_size": 152064, "vision_config": {"depth": 32, "hidden_size": 1280}}"#, 7_615_616_512),
    ])
    func multimodalConfigsCountTheLanguageModelAndSaySo(config: String, parameters: Int) throws {
        let a = try ModelArchitecture(config: try JSONValue.parse(Data(config.utf8)))
        #expect(ParameterCount(a).total == parameters)
        #expect(a.notes.contains { $0.contains("vision tower") && $0.contains("left out") })
    }

    @Test func crossAttentionLanguageModelsAreRefused() throws {
        // Llama-3.2-Vision's text model has cross-attention layers that plan does not model.
        let json = try JSONValue.parse(Data(#"{"model_type": "mllama", "text_config": {"model_type": "mllama_text_model", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_hidden_layers": 4, "vocab_size": 100, "cross_attention_layers": [1, 3]}, "vision_config": {}}"#.utf8))
        #expect { try ModelArchitecture(config: json) } throws: { "\($0)".contains("'cross_attention_layers'") }
    }

    @Test func falconsNewDecoderCachesEveryHeadInTransformers() throws {
        // kv.json measures falcon_new_decoder (4 heads, 2 KV heads) holding 4 heads' keys and values;
        // the 40B model then caches 128 heads, 16x its 8 KV heads, and says so.
        let c = try #require(FamilyCase.all.first { $0.name == "falcon-40b" })
        let a = try ModelArchitecture(config: c.config)
        #expect(a.cachedKVHeads == 128 && a.kvHeads == 8)
        #expect(KVCache.bytes(a, batch: 1, tokens: 10, bytesPerElement: 2, windowed: false) == 2 * 128 * 64 * 2 * 10 * 60)
        #expect(a.notes.contains { $0.contains("16x") })
    }

    @Test func configErrorsAreValuesNamingTheField() throws {
        let json = try JSONValue.parse(Data(#"{"model_type": "acme_moe", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "n_routed_experts": 8}"#.utf8))
        #expect(throws: ConfigError.unknownStructure(origin: "c.json", modelType: "acme_moe", field: "n_routed_experts", signals: "routed experts")) {
            try ModelArchitecture(config: json, origin: "c.json")
        }
        let typed = try JSONValue.parse(Data(#"{"model_type": "llama", "vocab_size": "many", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#.utf8))
        #expect(throws: ConfigError.wrongType(origin: "c.json", field: "vocab_size", expected: "an integer", got: "a string")) {
            try ModelArchitecture(config: typed, origin: "c.json")
        }
    }

    @Test func assumeDenseEstimatesAnUnknownFamilyWithANote() throws {
        let json = try JSONValue.parse(Data(#"{"model_type": "acme_moe", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "n_routed_experts": 8}"#.utf8))
        let a = try ModelArchitecture(config: json, assumeDense: true)
        #expect(a.notes.contains { $0.contains("--assume-dense") })
        // The dense reading: embedding + lm_head + 2 x (4 x 64 x 64 + 3 x 64 x 128 + 2 x 64) + 64.
        #expect(ParameterCount(a).total == 2 * 100 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 128) + 64 - (a.tiedEmbeddings ? 100 * 64 : 0))
    }
}

@Suite struct FamilyCatalogTests {
    /// Every catalog model whose source line cites the measured parameters states them exactly.
    @Test func catalogModelsHaveTheParametersTheirSourceLinesState() throws {
        let doc = try JSONValue.parse(try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/models.json")))
        guard case .array(let models) = doc else { Issue.record("models.json is not an array"); return }
        var checked = 0
        for m in models {
            guard case .string(let source)? = m["source"], source.contains("families/params.json"), let config = m["config"] else { continue }
            // "..., 671,026,404,352 parameters as transformers ..."
            let digits = source.components(separatedBy: " parameters as")[0].split(separator: " ").last!.replacingOccurrences(of: ",", with: "")
            let stated = try #require(Int(digits))
            #expect(ParameterCount(try ModelArchitecture(config: config)).total == stated, "\(m["id"]!)")
            checked += 1
        }
        #expect(checked >= 20)
    }
}

@Suite struct FamilyKVCacheTests {
    struct KVCase: Sendable, CustomTestStringConvertible {
        var name: String
        var config: JSONValue
        var batch, seq, bytes: Int
        var testDescription: String { "\(name) s=\(seq)" }
    }

    static let cases: [KVCase] = {
        let doc = try! JSONValue.parse(try! Data(contentsOf: repositoryRoot.appendingPathComponent("docs/calibration/families/kv.json")))
        guard case .array(let items)? = doc["cases"] else { fatalError("no cases") }
        return items.map { c in
            guard case .string(let n)? = c["name"], case .int(let b)? = c["batch"], case .int(let s)? = c["seq"],
                case .int(let bytes)? = c["kv_cache_bytes"], let cfg = c["config"]
            else { fatalError("bad case") }
            return KVCase(name: n, config: cfg, batch: b, seq: s, bytes: bytes)
        }
    }()

    /// What transformers' cache holds after a prefill (fp32), measured: MLA's latent for
    /// DeepSeek-V3, every token on sliding-window and chunked layers (gpt-oss, Gemma-3, Llama-4).
    @Test(arguments: cases)
    func kvCacheIsWhatTransformersHolds(_ c: KVCase) throws {
        let a = try ModelArchitecture(config: c.config, origin: c.name)
        #expect(KVCache.bytes(a, batch: c.batch, tokens: c.seq, bytesPerElement: 4, windowed: false) == c.bytes)
    }
}

@Suite struct QuantizationConfigTests {
    static func config(_ name: String, quantization: String) throws -> JSONValue {
        let c = try #require(FamilyCase.all.first { $0.name == name })
        guard case .object(var o) = c.config else { throw ConfigError.notAnObject(origin: name) }
        o["quantization_config"] = try JSONValue.parse(Data(quantization.utf8))
        return .object(o)
    }

    @Test func mxfp4QuantizesOnlyTheExperts() throws {
        let cfg = try Self.config("gpt-oss-120b", quantization: #"{"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}"#)
        let a = try ModelArchitecture(config: cfg)
        let q = try #require(try QuantizedWeights.from(config: cfg))
        // 36 layers x 128 experts x (2880 x 5760 + 2880 x 2880) weights at 4 bits + one byte per 32;
        // the other 2,167,371,072 parameters (attention, router, biases, embeddings, head) in bf16.
        let experts = 36 * 128 * (2880 * 5760 + 2880 * 2880)
        #expect(q.bytes(a) == experts * 17 / 32 + (116_829_156_672 - experts) * 2)
        #expect(q.bytes(a) == 65_248_815_744)
    }

    @Test func fp8BlocksAddAnFP32ScalePerBlock() throws {
        let cfg = try Self.config("deepseek-v3", quantization: #"{"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}"#)
        let a = try ModelArchitecture(config: cfg)
        let q = try #require(try QuantizedWeights.from(config: cfg))
        let p = ParameterCount(a)
        #expect(q.bytesPerWeight == 1 + 4.0 / 16384)
        #expect(q.bytes(a) == Int((Double(p.linearWeights) * (1 + 4.0 / 16384)).rounded(.up)) + (p.total - p.linearWeights) * 2)
        // With the MTP module, the whole checkpoint: within 1% of its published ~688.6 GB.
        #expect(abs(Double(q.bytes(a, includeMTP: true)) / 688.6e9 - 1) < 0.01)
    }

    @Test func gptqAwqAndUnknownMethods() throws {
        let gptq = try Self.config("qwen3-8b", quantization: #"{"quant_method": "gptq", "bits": 4, "group_size": 128}"#)
        let q = try #require(try QuantizedWeights.from(config: gptq))
        #expect(q.bytesPerWeight == 0.5 + 2.5 / 128)
        let odd = try Self.config("qwen3-8b", quantization: #"{"quant_method": "hqq"}"#)
        #expect(
            throws: ConfigError.quantization(
                "quant_method 'hqq' is not one plan sizes; known: fp8, mxfp4, gptq, awq, bitsandbytes, compressed-tensors "
                    + "(or pass --dtype to size the weights yourself)")
        ) { try QuantizedWeights.from(config: odd) }
    }
}
