import Foundation
import Testing
import TestSupport

func jsonObject(_ text: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
}

@Suite struct EstimateCLITests {
    /// No database is needed: point PLAN_DB at a path that must stay absent.
    func estimate(_ args: [String]) -> (RunResult, String) {
        let dir = TempDir()
        let db = dir.path("never.sqlite")
        let r = runPlan(["estimate"] + args, env: ["PLAN_DB": db])
        #expect(!FileManager.default.fileExists(atPath: db), "estimate created a database")
        dir.cleanup()
        return (r, db)
    }

    @Test func jsonFollowsTheContract() throws {
        let (r, _) = estimate(["--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--mode", "train", "--gpu", "h100-sxm-80gb", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        let model = try #require(j["model"] as? [String: Any])
        #expect(model["id"] as? String == "llama-3-8b")
        #expect(model["parameters"] as? Int == 8_030_261_248)
        #expect(model["trainable_parameters"] as? Int == 8_030_261_248)
        let perGPU = try #require(j["per_gpu"] as? [String: Int])
        for key in ["weights", "gradients", "optimizer_states", "master_weights", "activations", "kv_cache", "overhead", "total"] {
            #expect(perGPU[key] != nil, "per_gpu lacks \(key)")
        }
        let parts = ["weights", "gradients", "optimizer_states", "master_weights", "activations", "kv_cache", "overhead"]
        #expect(parts.map { perGPU[$0]! }.reduce(0, +) == perGPU["total"])
        #expect(perGPU["weights"] == 16_060_522_496)
        #expect(perGPU["master_weights"] == 32_121_044_992)
        #expect(j["gpus"] as? Int == 1)
        #expect(j["fits"] as? Bool == false)
        let recs = try #require(j["recommendations"] as? [[String: Any]])
        #expect(!recs.isEmpty)
        for key in ["gpu", "count", "strategy", "tp", "pp", "per_gpu_total", "headroom"] {
            #expect(recs[0][key] != nil, "recommendation lacks \(key)")
        }
    }

    @Test func fitsIsOnlyPresentWithAGPU() throws {
        let (r, _) = estimate(["--model", "llama-3-8b", "--format", "json"])
        #expect(try jsonObject(r.stdout)["fits"] == nil)
    }

    @Test func configFileAndFolderWork() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let config = #"{"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336, "tie_word_embeddings": false}"#
        try FileManager.default.createDirectory(atPath: dir.path("m"), withIntermediateDirectories: true)
        let file = dir.write("m/config.json", config)
        for model in [file, dir.path("m")] {
            let r = runPlan(["estimate", "--model", model, "--format", "json"], env: ["PLAN_DB": dir.path("x.sqlite")])
            #expect(r.status == 0, "\(r.stderr)")
            #expect((try jsonObject(r.stdout)["model"] as? [String: Any])?["parameters"] as? Int == 8_030_261_248)
        }
        // An unknown model_type with the standard fields works too.
        let odd = dir.write("odd.json", config.replacingOccurrences(of: "\"llama\"", with: "\"my-new-arch\""))
        #expect(runPlan(["estimate", "--model", odd], env: ["PLAN_DB": dir.path("x.sqlite")]).status == 0)
    }

    @Test func badInputIsOneClearLine() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let missing = dir.write("missing.json", #"{"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128}"#)
        let notJSON = dir.write("bad.json", "{ this is not json")
        let wrongType = dir.write("wrong.json", #"{"vocab_size": 1000, "hidden_size": "64", "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#)
        let zeroLayers = dir.write("zero.json", #"{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 0, "num_attention_heads": 4, "intermediate_size": 128}"#)
        let heads = dir.write("heads.json", #"{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 5, "intermediate_size": 128}"#)
        let cases: [([String], String)] = [
            (["--model", missing], "num_attention_heads"),
            (["--model", notJSON], "not valid JSON"),
            (["--model", wrongType], "'hidden_size' must be an integer"),
            (["--model", zeroLayers], "num_hidden_layers 0"),
            (["--model", heads], "does not divide hidden_size"),
            (["--model", "no-such-model"], "'no-such-model'"),
            (["--model", "llama-3-8b", "--tp", "3"], "--tp 3"),
            (["--model", "llama-3-8b", "--gpu", "h1000"], "'h1000'"),
            (["--model", "llama-3-8b", "--dtype", "int3"], "int3"),
            (["--model", "llama-3-8b", "--batch", "0"], "--batch"),
            (["--model", "llama-3-8b", "--mode", "train", "--dtype", "int4"], "--dtype int4"),
            (["--model", "llama-3-8b", "--mode", "train", "--offload", "params", "--strategy", "zero2"], "zero3"),
        ]
        for (args, needle) in cases {
            let r = runPlan(["estimate"] + args, env: ["PLAN_DB": dir.path("x.sqlite")])
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(needle), "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }

    @Test func tableShowsComponentsRuleOfThumbAndAssumptions() throws {
        let (r, _) = estimate(["--model", "llama-3-8b", "--mode", "train", "--gpu", "h100-sxm-80gb"])
        #expect(r.status == 0)
        for needle in ["optimizer_states", "master_weights", "Does not fit one h100-sxm-80gb", "rule of thumb", "Assumptions:", "GiB"] {
            #expect(r.stdout.contains(needle), "table lacks \(needle)")
        }
    }

    @Test func bf16OnAV100WarnsAndSuggestsFP16() throws {
        let (r, _) = estimate(["--model", "llama-3-8b", "--gpu", "v100-32gb", "--format", "json"])
        let warnings = try #require(try jsonObject(r.stdout)["warnings"] as? [String])
        #expect(warnings.contains { $0.contains("no BF16") && $0.contains("fp16") })
    }

    @Test func sameCommandSameOutput() throws {
        let a = estimate(["--model", "mixtral-8x7b-v0.1", "--mode", "train", "--method", "qlora", "--format", "json"]).0
        let b = estimate(["--model", "mixtral-8x7b-v0.1", "--mode", "train", "--method", "qlora", "--format", "json"]).0
        #expect(a.stdout == b.stdout)
        #expect(!a.stdout.isEmpty)
    }
}
