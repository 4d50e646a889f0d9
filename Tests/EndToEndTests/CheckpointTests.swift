import Foundation
import Testing
import TestSupport

/// `--model DIR` with safetensors files: weights are the exact tensor bytes from the headers.
/// The files are written here byte by byte from the safetensors format (8-byte little-endian
/// header length, JSON header, data), not by the code under test.
@Suite struct CheckpointTests {
    /// A tiny Llama: vocab 256, hidden 64, 2 layers, 4 heads (2 KV heads), MLP 128, untied.
    static let config = #"{"model_type": "llama", "vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "tie_word_embeddings": false}"#

    /// Every tensor transformers' LlamaForCausalLM has for that config, with its shape.
    static var tensors: [(String, [Int])] {
        var t: [(String, [Int])] = [("model.embed_tokens.weight", [256, 64]), ("model.norm.weight", [64]), ("lm_head.weight", [256, 64])]
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            t += [
                (p + "self_attn.q_proj.weight", [64, 64]), (p + "self_attn.k_proj.weight", [32, 64]), (p + "self_attn.v_proj.weight", [32, 64]),
                (p + "self_attn.o_proj.weight", [64, 64]), (p + "mlp.gate_proj.weight", [128, 64]), (p + "mlp.up_proj.weight", [128, 64]),
                (p + "mlp.down_proj.weight", [64, 128]), (p + "input_layernorm.weight", [64]), (p + "post_attention_layernorm.weight", [64]),
            ]
        }
        return t
    }

    /// The bytes of a safetensors file holding `tensors` in `dtype` (`size` bytes per element),
    /// with zeros as data; `truncate` drops that many bytes from the end.
    static func file(_ tensors: [(String, [Int])], dtype: String = "BF16", size: Int = 2, truncate: Int = 0) -> [UInt8] {
        var offset = 0
        var entries: [String] = []
        for (name, shape) in tensors {
            let n = shape.reduce(1, *) * size
            entries.append(#""\#(name)": {"dtype": "\#(dtype)", "shape": [\#(shape.map(String.init).joined(separator: ", "))], "data_offsets": [\#(offset), \#(offset + n)]}"#)
            offset += n
        }
        let header = Array(("{\"__metadata__\": {\"format\": \"pt\"}, " + entries.joined(separator: ", ") + "}").utf8)
        var bytes: [UInt8] = (0..<8).map { UInt8((UInt64(header.count) >> (8 * UInt64($0))) & 0xFF) }
        bytes += header
        bytes += [UInt8](repeating: 0, count: offset)
        return Array(bytes.dropLast(truncate))
    }

    static var expectedBytes: Int { tensors.reduce(0) { $0 + $1.1.reduce(1, *) * 2 } }

    func estimate(_ dir: String, _ extra: [String] = []) -> RunResult {
        runPlan(["estimate", "--model", dir, "--format", "json", "--max-recommendations", "0"] + extra, env: ["PLAN_DB": dir + "/none.sqlite"])
    }

    @Test func oneFileGivesTheExactTensorBytesAsWeights() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = dir.write("config.json", Self.config)
        _ = dir.write("model.safetensors", bytes: Self.file(Self.tensors))
        let r = estimate(dir.path(""))
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        let c = j["checkpoint"] as! [String: Any]
        #expect(c["bytes"] as? Int == Self.expectedBytes)
        #expect(c["tensors"] as? Int == Self.tensors.count)
        #expect((j["per_gpu"] as! [String: Any])["weights"] as? Int == Self.expectedBytes)
        #expect((j["warnings"] as! [Any]).isEmpty, "\(j["warnings"]!)")
        // An explicit --dtype estimates from the config instead (here fp32: twice the bytes).
        let fp32 = try jsonObject(estimate(dir.path(""), ["--dtype", "fp32"]).stdout)
        #expect((fp32["per_gpu"] as! [String: Any])["weights"] as? Int == 2 * Self.expectedBytes)
    }

    @Test func shardsNamedByTheIndexAreAddedUp() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = dir.write("config.json", Self.config)
        let half = Self.tensors.count / 2
        let a = Array(Self.tensors[..<half])
        let b = Array(Self.tensors[half...])
        _ = dir.write("model-00001-of-00002.safetensors", bytes: Self.file(a))
        _ = dir.write("model-00002-of-00002.safetensors", bytes: Self.file(b))
        let map = (a.map { "\"\($0.0)\": \"model-00001-of-00002.safetensors\"" } + b.map { "\"\($0.0)\": \"model-00002-of-00002.safetensors\"" })
        _ = dir.write("model.safetensors.index.json", "{\"metadata\": {\"total_size\": \(Self.expectedBytes)}, \"weight_map\": {\(map.joined(separator: ", "))}}")
        // A stray file the index does not name is not read.
        _ = dir.write("junk.safetensors", "not a checkpoint")
        let j = try jsonObject(estimate(dir.path("")).stdout)
        let c = j["checkpoint"] as! [String: Any]
        #expect(c["files"] as? Int == 2 && c["bytes"] as? Int == Self.expectedBytes)
        // The index names a tensor its shard does not hold: the checkpoint is incomplete.
        _ = dir.write("model.safetensors.index.json", "{\"weight_map\": {\(map.joined(separator: ", ")), \"extra.weight\": \"model-00001-of-00002.safetensors\"}}")
        let r = estimate(dir.path(""))
        #expect(r.status == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains("extra.weight"), "\(r.stderr)")
    }

    @Test func aCheckpointThatDisagreesWithItsConfigIsSaid() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = dir.write("config.json", Self.config)
        // An extra layer the config does not describe (like DeepSeek's multi-token-prediction layer).
        let extra = Self.tensors + [("model.layers.2.mlp.down_proj.weight", [64, 128]), ("model.layers.2.mlp.up_proj.weight", [128, 64])]
        _ = dir.write("model.safetensors", bytes: Self.file(extra))
        let j = try jsonObject(estimate(dir.path("")).stdout)
        let warnings = j["warnings"] as! [String]
        #expect(warnings.contains { $0.contains("config.json describes") }, "\(warnings)")
    }

    @Test(arguments: [
        ("truncated", "truncated"), ("badjson", "not valid JSON"), ("length", "header length"), ("overlap", "corrupt"),
        ("dtype", "dtype"), ("span", "should take"), ("empty", "no tensors"), ("huge", "truncated"),
    ])
    func corruptHeadersAreOneClearError(kind: String, needle: String) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = dir.write("config.json", Self.config)
        var bytes: [UInt8]
        switch kind {
        case "truncated": bytes = Self.file(Self.tensors, truncate: 10)
        case "badjson":
            let h = Array("{\"a\": ".utf8)
            bytes = [UInt8(h.count), 0, 0, 0, 0, 0, 0, 0] + h
        case "length": bytes = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + Array("{}".utf8)
        case "overlap":
            let h = Array(#"{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}"#.utf8)
            bytes = [UInt8(h.count), 0, 0, 0, 0, 0, 0, 0] + h + [UInt8](repeating: 0, count: 6)
        case "dtype":
            let h = Array(#"{"a": {"dtype": "Q9", "shape": [4], "data_offsets": [0, 4]}}"#.utf8)
            bytes = [UInt8(h.count), 0, 0, 0, 0, 0, 0, 0] + h + [UInt8](repeating: 0, count: 4)
        case "empty": bytes = [2, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)
        case "huge":
            // Claims a 99,999,999-byte header in an 18-byte file: refused before anything is allocated.
            bytes = [0xFF, 0xE0, 0xF5, 0x05, 0, 0, 0, 0] + Array("{\"a\": 1}x".utf8)
        default:
            let h = Array(#"{"a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 4]}}"#.utf8)
            bytes = [UInt8(h.count), 0, 0, 0, 0, 0, 0, 0] + h + [UInt8](repeating: 0, count: 4)
        }
        _ = dir.write("model.safetensors", bytes: bytes)
        let r = estimate(dir.path(""))
        #expect(r.status == 1 && !r.signaled, "\(kind): exit \(r.status)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains(needle) && r.stderr.contains("model.safetensors"), "\(kind): \(r.stderr)")
    }
}
