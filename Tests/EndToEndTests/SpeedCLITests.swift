import Foundation
import Testing
import TestSupport

/// Serving engines, speed, time to train and cost through the built binary (issue 13).
@Suite struct SpeedCLITests {
    func estimate(_ args: [String]) -> RunResult {
        let dir = TempDir()
        defer { dir.cleanup() }
        return runPlan(["estimate", "--max-recommendations", "4"] + args, env: ["PLAN_DB": dir.path("never.sqlite")])
    }

    @Test func vllmServingObjectAddsUpAndSaysWhenItStarts() throws {
        let r = estimate([
            "--model", "llama-3-8b", "--gpu", "a100-sxm-40gb", "--engine", "vllm", "--gpu-memory-utilization", "0.9", "--max-model-len",
            "8192", "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        let s = try #require(j["serving"] as? [String: Any])
        #expect(s["engine"] as? String == "vllm")
        let int = { (k: String) in s[k] as? Int ?? -1 }
        // usable = ceil(39.38 GiB x 0.9) on the A100 40GB's measured CUDA total.
        #expect(int("usable_bytes") == Int((Double(int("total_bytes")) * 0.9).rounded(.up)))
        #expect(
            int("kv_cache_bytes")
                == int("usable_bytes") - int("weights_bytes") - int("non_torch_bytes") - int("activation_peak_bytes") - int("cuda_graph_bytes"))
        #expect(int("weights_bytes") == 16_060_522_496)
        // 32 layers x 8 KV heads x 128 x 2 x 2 bytes a token, 16-token blocks.
        #expect(int("kv_bytes_per_token") == 131_072)
        #expect(int("num_gpu_blocks") == int("kv_cache_bytes") / (16 * 131_072))
        #expect(int("kv_cache_tokens") == int("num_gpu_blocks") * 16)
        #expect(int("max_num_batched_tokens") == 2048 && int("max_num_seqs") == 256)  // vLLM's A100 defaults
        #expect(s["fits"] as? Bool == true && j["fits"] as? Bool == true)
        let t = try #require(j["throughput"] as? [String: Any])
        for key in [
            "decode_tokens_per_s", "decode_tokens_per_s_per_sequence", "time_per_output_token_s", "prefill_tokens_per_s",
            "time_to_first_token_s", "roofline_decode_tokens_per_s_per_sequence", "cost_per_million_tokens",
        ] {
            #expect(t[key] as? Double != nil, "throughput lacks \(key)")
        }
        #expect((t["decode_tokens_per_s_per_sequence"] as! Double) <= (t["roofline_decode_tokens_per_s_per_sequence"] as! Double))
    }

    @Test func theSamplerPathIsAFlagAndAnImportColumn() throws {
        // Llama-3.1-8B on an H100 at its defaults: 1,024 rows of 128,256 logits. The sort-based sampler keeps 24 bytes a
        // logit more than the fused ones, and the KV cache is that much smaller.
        func serving(_ extra: [String]) throws -> [String: Any] {
            let r = estimate(["--model", "llama-3.1-8b", "--gpu", "h100-sxm-80gb", "--engine", "vllm", "--max-model-len", "8192", "--format", "json"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try jsonObject(r.stdout)["serving"] as? [String: Any])
        }
        let fused = try serving([])
        let sorted = try serving(["--vllm-sampler", "pytorch"])
        #expect(fused["sampler"] as? String == "flashinfer" && sorted["sampler"] as? String == "pytorch")
        #expect((fused["kv_cache_bytes"] as! Int) - (sorted["kv_cache_bytes"] as! Int) == 1024 * 128_256 * 24)
        #expect(try serving(["--vllm-sampler", "triton"])["kv_cache_bytes"] as? Int == fused["kv_cache_bytes"] as? Int)
        // Only for vLLM, only its three names; the transformers engine prints no sampler.
        let alone = estimate(["--model", "llama-3.1-8b", "--gpu", "h100-sxm-80gb", "--vllm-sampler", "pytorch"])
        #expect(alone.status != 0 && alone.stderr == "error: --vllm-sampler is a vLLM setting; add --engine vllm\n")
        let bad = estimate(["--model", "llama-3.1-8b", "--gpu", "h100-sxm-80gb", "--engine", "vllm", "--vllm-sampler", "sort"])
        #expect(bad.status != 0 && bad.stderr.contains("'sort'") && bad.stderr.contains("flashinfer"))
        let plain = estimate(["--model", "llama-3.1-8b", "--gpu", "h100-sxm-80gb", "--mode", "infer", "--format", "json"])
        #expect((try jsonObject(plain.stdout)["serving"] as? [String: Any])?["sampler"] == nil)

        // As an import column, in any case, kept with the job.
        let dir = TempDir()
        defer { dir.cleanup() }
        let env = ["PLAN_DB": dir.path("p.sqlite")]
        try "name,model,mode,engine,vllm_sampler\nchat,llama-3.1-8b,infer,VLLM,PyTorch\n".write(toFile: dir.path("j.csv"), atomically: true, encoding: .utf8)
        let imported = runPlan(["import", "jobs", dir.path("j.csv")], env: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        let job = try #require(try jsonArray(runPlan(["jobs", "--format", "json"], env: env).stdout).first)
        let vllm = ((job["spec"] as? [String: Any])?["serving"] as? [String: Any])?["vllm"] as? [String: Any]
        #expect(vllm?["sampler"] as? String == "pytorch")
    }

    @Test func aContextThatDoesNotFitIsRefusedInVLLMsTerms() throws {
        // Llama-3.1-8B's default max_model_len is 131,072: 16 GiB of KV for one request, more than an RTX 4090 has left.
        let r = estimate(["--model", "llama-3.1-8b", "--gpu", "rtx-4090-24gb", "--engine", "vllm", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        let s = try #require(j["serving"] as? [String: Any])
        #expect(s["fits"] as? Bool == false && j["fits"] as? Bool == false)
        let longest = try #require(s["longest_context"] as? Int)
        #expect(longest > 0 && longest < 131_072)
        let warnings = try #require(j["warnings"] as? [String])
        #expect(warnings.contains { $0.contains("vLLM would not start") && $0.contains("--max-model-len \(longest)") })
        let table = estimate(["--model", "llama-3.1-8b", "--gpu", "rtx-4090-24gb", "--engine", "vllm"])
        #expect(table.stdout.contains("Does not start on one rtx-4090-24gb with vLLM"))
    }

    @Test func trainingTimeAndTheDeadline() throws {
        let r = estimate([
            "--model", "llama-3-8b", "--mode", "train", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--strategy", "zero3", "--train-tokens", "2B",
            "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        let t = try #require(j["training_time"] as? [String: Any])
        let seconds = try #require(t["time_s"] as? Double)
        let hours = try #require(t["gpu_hours"] as? Double)
        #expect(abs(hours - seconds * 8 / 3600) < 1e-6)
        #expect(abs((t["run_cost"] as! Double) - hours * (t["hourly_usd"] as! Double)) < 1e-6)
        #expect((t["implied_mfu"] as! Double) <= 0.4 + 1e-9)
        // Without a deadline every GPU type is listed; those with a run cost come first, cheapest first, and those
        // without one (no time across servers with no fabric) after them.
        let all = try jsonObject(
            estimate(["--model", "llama-3-8b", "--mode", "train", "--train-tokens", "2B", "--max-recommendations", "40", "--format", "json"]).stdout)
        let ranked = try #require(all["recommendations"] as? [[String: Any]]).map { $0["run_cost"] as? Double ?? .infinity }
        #expect(ranked == ranked.sorted() && ranked.first.map { $0 < .infinity } == true)
        // The deadline keeps only what meets it, cheapest run first.
        let fast = try jsonObject(
            estimate(["--model", "llama-3-8b", "--mode", "train", "--train-tokens", "2B", "--deadline", "12h", "--format", "json"]).stdout)
        let recs = try #require(fast["recommendations"] as? [[String: Any]])
        #expect(!recs.isEmpty)
        for rec in recs { #expect((rec["time_s"] as! Double) <= 12 * 3600) }
        let costs = recs.map { $0["run_cost"] as! Double }
        #expect(costs == costs.sorted())
    }

    @Test func servingToATargetSizesReplicas() throws {
        let r = estimate(["--model", "llama-3-8b", "--users", "200", "--context", "4096", "--tokens-per-s", "20", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try #require(try jsonObject(r.stdout)["recommendations"] as? [[String: Any]])
        #expect(!recs.isEmpty)
        for rec in recs {
            let replicas = rec["replicas"] as! Int
            #expect(rec["gpus_total"] as? Int == replicas * (rec["count"] as! Int))
            // Aggregate decode carries 200 users at 20 tokens/s each.
            #expect((rec["decode_tokens_per_s"] as! Double) >= 200 * 20 * 0.999)
        }
        let perHour = recs.map { Double($0["gpus_total"] as! Int) * ($0["hourly_usd"] as! Double) }
        #expect(perHour == perHour.sorted())
    }

    @Test func anEstimateGoesToAFileInAnyFormat() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let env = ["PLAN_DB": dir.path("never.sqlite")]
        let page = dir.path("estimate.html")
        let r = runPlan(["estimate", "--model", "llama-3-8b", "--format", "html", "--output", page], env: env)
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        let json = dir.path("estimate.json")
        #expect(runPlan(["estimate", "--model", "llama-3-8b", "--format", "json", "--output", json], env: env).status == 0)
        let written = try jsonObject(String(contentsOfFile: json, encoding: .utf8))
        #expect((written["model"] as? [String: Any])?["id"] as? String == "llama-3-8b")
    }

    @Test func badSpeedInputIsOneLineNamingTheValue() {
        let cases: [([String], String)] = [
            (["--model", "llama-3-8b", "--max-model-len", "4096"], "--max-model-len is a vLLM setting; add --engine vllm"),
            (["--model", "llama-3-8b", "--engine", "vllm", "--max-num-seqs", "0"], "invalid --max-num-seqs 0"),
            (["--model", "llama-3-8b", "--mode", "train", "--train-tokens", "lots"], "invalid --train-tokens 'lots'"),
            (["--model", "llama-3-8b", "--train-tokens", "2B"], "--train-tokens applies to training; add --mode train"),
            (["--model", "llama-3-8b", "--mode", "train", "--deadline", "1d"], "--deadline needs --train-tokens"),
            (["--model", "llama-3-8b", "--mode", "train", "--train-tokens", "1B", "--deadline", "soon"], "invalid --deadline 'soon'"),
            (["--model", "llama-3-8b", "--users", "10"], "serving to a target needs --users, --context and --tokens-per-s together"),
            (["--model", "llama-3-8b", "--engine", "vllm", "--max-model-len", "1024", "--users", "10", "--context", "4096", "--tokens-per-s", "10"],
             "invalid --context 4096; expected at most 1024 tokens"),
            (["--model", "llama-3-8b", "--mfu", "1.5"], "invalid --mfu 1.5"),
            (["--model", "llama-3-8b", "--engine", "sglang"], "sglang"),
        ]
        for (args, message) in cases {
            let r = estimate(args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count <= 2, "\(args): \(r.stderr)")
        }
    }

    @Test func hourlyPricesAreListedAndYoursAreKept() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let env = ["PLAN_DB": dir.path("p.sqlite")]
        let set = runPlan(["gpus", "set-price", "h100", "--hourly", "2.25", "--format", "json"], env: env)
        #expect(set.status == 0, "\(set.stderr)")
        let row = try #require(try jsonArray(set.stdout).first)
        #expect(row["id"] as? String == "h100-sxm-80gb" && row["hourly_usd"] as? Double == 2.25)
        #expect(row["bf16_tflops"] as? Double == 989 || row["bf16_tflops"] as? Int == 989)
        // The estimate prices the GPU-hour with yours.
        let e = runPlan(
            ["estimate", "--model", "llama-3-8b", "--gpu", "h100-sxm-80gb", "--max-recommendations", "0", "--format", "json"], env: env)
        #expect((try jsonObject(e.stdout)["throughput"] as? [String: Any])?["hourly_usd"] as? Double == 2.25)
        let bad = runPlan(["gpus", "set-price", "h100", "--hourly", "-1"], env: env)
        #expect(bad.status != 0 && bad.stderr.contains("invalid --hourly -1"))
        let unknown = runPlan(["gpus", "set-price", "nope", "--hourly", "1"], env: env)
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown GPU 'nope'"))
        let reset = runPlan(["gpus", "set-price", "h100", "--reset", "--format", "json"], env: env)
        #expect(try jsonArray(reset.stdout).first?["hourly_usd"] as? Double == 3.99)
    }

    @Test func aJobStatedByItsTrafficGetsTheReplicasItNeeds() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let env = ["PLAN_DB": dir.path("p.sqlite")]
        #expect(runPlan(["server", "add", "h", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--count", "2"], env: env).status == 0)
        let add = runPlan(
            [
                "job", "add", "chat", "--model", "llama-3.1-8b", "--mode", "infer", "--engine", "vllm", "--max-model-len", "8192", "--users", "400",
                "--context", "4096", "--tokens-per-s", "30",
            ], env: env)
        #expect(add.status == 0, "\(add.stderr)")
        let before = try dumpDatabase(dir.path("p.sqlite"))
        let dry = runPlan(["place", "--dry-run", "--format", "json"], env: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try dumpDatabase(dir.path("p.sqlite")) == before)
        let placed = runPlan(["place", "--format", "json"], env: env)
        let items = try #require(try jsonObject(placed.stdout)["placed"] as? [[String: Any]])
        // 400 users of 4,096 tokens at 30 tokens/s: 100 a replica fit an H100's KV cache at that speed.
        let replicas = items.count
        #expect(replicas >= 2 && items.allSatisfy { $0["job"] as? String == "chat" })
        let jobs = try jsonArray(runPlan(["jobs", "--format", "json"], env: env).stdout)
        #expect(jobs.first?["replicas"] as? Int == replicas)
        #expect(jobs.first?["state"] as? String == "placed")
        // Traffic and --replicas together, or traffic on a training job, are refused and add nothing.
        let both = runPlan(
            ["job", "add", "x", "--model", "llama-3-8b", "--mode", "infer", "--users", "5", "--context", "100", "--tokens-per-s", "10", "--replicas", "2"],
            env: env)
        #expect(both.status != 0 && both.stderr.contains("drop --replicas"))
        let train = runPlan(["job", "add", "y", "--model", "llama-3-8b", "--mode", "train", "--engine", "vllm"], env: env)
        #expect(train.status != 0)
        #expect(try jsonArray(runPlan(["jobs", "--format", "json"], env: env).stdout).count == 1)
    }

    @Test func importedJobsCarryTheirEngineAndTraffic() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let env = ["PLAN_DB": dir.path("p.sqlite")]
        #expect(runPlan(["server", "add", "h", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--count", "2"], env: env).status == 0)
        // The same traffic job as `aJobStatedByItsTrafficGetsTheReplicasItNeeds`, from a CSV row, next to a row with no serving columns.
        try """
            name,model,mode,engine,max_model_len,users,context,tokens_per_s,ttft,enforce_eager
            chat,llama-3.1-8b,infer,vllm,8192,400,4096,30,,false
            plain,llama-3.1-8b,infer,,,,,,,
            """.write(toFile: dir.path("jobs.csv"), atomically: true, encoding: .utf8)
        let imported = runPlan(["import", "jobs", dir.path("jobs.csv")], env: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        let jobs = try jsonArray(runPlan(["jobs", "--format", "json"], env: env).stdout)
        let chat = try #require(jobs.first { $0["name"] as? String == "chat" })
        let serving = try #require((chat["spec"] as? [String: Any])?["serving"] as? [String: Any])
        #expect(serving["engine"] as? String == "vllm")
        let target = try #require(serving["target"] as? [String: Any])
        #expect(target["users"] as? Int == 400 && target["context"] as? Int == 4096 && target["tokens_per_second"] as? Double == 30)
        #expect((serving["vllm"] as? [String: Any])?["max_model_len"] as? Int == 8192)
        let plain = try #require(jobs.first { $0["name"] as? String == "plain" })
        #expect((plain["spec"] as? [String: Any])?["serving"] == nil)
        // Placed, the imported traffic job gets more than one replica, as the flags give it.
        let placed = try #require(try jsonObject(runPlan(["place", "--format", "json"], env: env).stdout)["placed"] as? [[String: Any]])
        #expect(placed.filter { $0["job"] as? String == "chat" }.count >= 2)

        // A bad serving cell rejects the file in one line naming the row and the value; the database is unchanged.
        let before = try dumpDatabase(dir.path("p.sqlite"))
        for (row, message) in [
            ("x,llama-3-8b,infer,vllm,,5,100,,,", "line 2: serving to a target needs --users, --context and --tokens-per-s together"),
            ("x,llama-3-8b,infer,sglang,,,,,,", "line 2: The value 'sglang' is invalid for '--engine <engine>'"),
            ("x,llama-3-8b,infer,vllm,,abc,100,5,,", "line 2: The value 'abc' is invalid for '--users <users>'"),
            ("x,llama-3-8b,infer,vllm,,,,,,maybe", "line 2: invalid enforce_eager 'maybe'; expected true or false"),
            ("x,llama-3-8b,train,,,5,100,5,,", "line 2: --users, --context and --tokens-per-s size serving; drop --mode train"),
        ] {
            try "name,model,mode,engine,max_model_len,users,context,tokens_per_s,ttft,enforce_eager\n\(row)\n"
                .write(toFile: dir.path("bad.csv"), atomically: true, encoding: .utf8)
            let r = runPlan(["import", "jobs", dir.path("bad.csv")], env: env)
            #expect(r.status != 0)
            #expect(r.stderr.contains(message) && r.stderr.hasSuffix("; nothing was imported\n"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(try dumpDatabase(dir.path("p.sqlite")) == before)
    }
}
