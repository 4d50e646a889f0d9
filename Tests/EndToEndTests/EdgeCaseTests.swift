import Foundation
import Testing
import TestSupport

/// Edge cases found in review: each once crashed, misplaced or misreported.
@Suite struct EdgeCaseTests {
    @Test func pipelineLargerThanTheGPUCountIsAUsageError() {
        let r = runPlan(["estimate", "--model", "llama-3-8b", "--gpus", "2", "--pp", "4"], env: ["PLAN_DB": "/tmp/none-\(UUID()).sqlite"])
        #expect(!r.signaled && r.status == 64, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains("--pp 4"))
    }

    @Test func hugePricesAreRefusedAndLargeOnesWithDiscountsWork() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        try f.expectRejected(["skus", "set-price", "a10-4x", "--price", "9223372036854775807", "--discount", "10"], mentioning: "--price")
        try f.expectRejected(["skus", "add", "mine", "--gpu", "l4", "--gpus", "2", "--price", "9223372036854775807"], mentioning: "--price")
        ok(f.plan("skus", "set-price", "a10-4x", "--price", "1000000000000", "--discount", "10"))
        let skus = try jsonArray(f.plan("skus", "--format", "json").stdout)
        #expect(skus.first { $0["id"] as? String == "a10-4x" }?["price"] as? Int == 900_000_000_000)
        ok(f.plan("job", "add", "x", "--gpus", "4", "--gpu-memory", "10GB", "--gpu-types", "a10-24gb"))
        ok(f.plan("gaps"))
    }

    @Test func absurdGPT2ConfigIsRefusedCleanly() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = dir.write("gpt2.json", #"{"model_type": "gpt2", "vocab_size": 50257, "n_embd": 4611686018427387904, "n_layer": 2, "n_head": 2}"#)
        let r = runPlan(["estimate", "--model", path], env: ["PLAN_DB": dir.path("none.sqlite")])
        #expect(!r.signaled && r.status == 1 && r.stderr.contains("n_embd"), "\(r.stderr)")
    }

    @Test func tensorAndPipelineSplitsAreHonouredAsGiven() throws {
        let db = "/tmp/none-\(UUID()).sqlite"
        let r = runPlan(["estimate", "--model", "llama-3-70b", "--tp", "4", "--pp", "2", "--gpus", "8", "--gpu", "h100", "--format", "json"], env: ["PLAN_DB": db])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try #require(try jsonObject(r.stdout)["recommendations"] as? [[String: Any]])
        #expect(!recs.isEmpty)
        #expect(recs.allSatisfy { $0["tp"] as? Int == 4 && $0["pp"] as? Int == 2 })
        // Serving a 70B model on 4-GPU servers: tp 4 inside a server, pipeline stages across servers.
        let f = Fleet()
        defer { f.dir.cleanup() }
        // 4-GPU L40S servers ship with plain 100 GbE (no RDMA): a replica that needs two of them does not span them.
        ok(f.plan("add-server", "e", "--gpu", "l40s", "--gpus", "4", "--count", "4"))
        // 141 GB of weights and 43 GB of KV cache (4 x 32,768 tokens): more than one 4 x 48 GB server.
        ok(f.plan("job", "add", "serve-70b", "--model", "llama-3-70b", "--mode", "infer", "--seq", "32768", "--batch", "4"))
        let e = try jsonObject(f.plan("place", "--dry-run", "--format", "json").stdout)
        let why = try #require((e["unplaced"] as? [[String: Any]])?.first?["reason"] as? String, "\(e)")
        #expect(why.contains("fabric of at least 100 Gb/s RDMA"), "\(why)")
        ok(f.plan("add-server", "l", "--gpu", "l40s", "--gpus", "4", "--count", "4", "--fabric", "roce-200"))
        let j = try jsonObject(f.plan("place", "--format", "json").stdout)
        let placed = try #require((j["placed"] as? [[String: Any]])?.first, "\(j)")
        #expect(placed["tp"] as? Int == 4)
        #expect((placed["pp"] as? Int ?? 0) >= 2)
        // A fixed --pp with no tp is not inflated to tp 8.
        ok(f.plan("add-server", "h", "--gpu", "h100", "--gpus", "8", "--count", "2"))
        ok(f.plan("job", "add", "small-pp", "--model", "llama-3-8b", "--mode", "infer", "--pp", "2", "--gpu", "h100"))
        let k = try jsonObject(f.plan("place", "--format", "json").stdout)
        let pp = try #require((k["placed"] as? [[String: Any]])?.first { $0["job"] as? String == "small-pp" })
        #expect(pp["tp"] as? Int == 1 && pp["pp"] as? Int == 2)
    }

    @Test func oneGPUWithOptimizerOffloadIsRecommended() throws {
        let r = runPlan(["estimate", "--model", "llama-3-8b", "--mode", "train", "--offload", "optimizer", "--checkpointing", "--format", "json"],
                        env: ["PLAN_DB": "/tmp/none-\(UUID()).sqlite"])
        #expect(r.status == 0, "\(r.stderr)")
        let recs = try #require(try jsonObject(r.stdout)["recommendations"] as? [[String: Any]])
        #expect(recs.contains { $0["count"] as? Int == 1 }, "\(recs)")
    }

    @Test func repackThatKeepsThePackingStillPlacesAndReportsPendingJobs() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "l40s", "--gpus", "4"))
        ok(f.plan("job", "add", "a", "--gpus", "2", "--gpu-memory", "10GB"))
        ok(f.plan("place"))
        ok(f.plan("job", "add", "b", "--gpus", "1", "--gpu-memory", "10GB"))
        ok(f.plan("job", "add", "too-big", "--gpus", "8", "--gpu-memory", "10GB"))
        // Re-planning from scratch places a and b, as placing b next to a does: the packing is kept
        // and b is placed around it; too-big is reported and --strict says so.
        let r = f.plan("place", "--repack", "--strict", "--format", "json")
        #expect(r.status == 3, "\(r.stderr)")
        let j = try jsonObject(r.stdout)
        #expect((j["placed"] as? [[String: Any]])?.map { $0["job"] as! String } == ["b"])
        #expect((j["unplaced"] as? [[String: Any]])?.map { $0["job"] as! String } == ["too-big"])
        #expect((j["moves"] as? [Any])?.isEmpty == true)
        try f.expectRejected(["place", "--repack", "--job", "a"], mentioning: "--repack")
    }

    @Test func loraUnderZeRO3GathersTheFrozenBase() throws {
        let r = runPlan(["estimate", "--model", "llama-3-8b", "--mode", "train", "--method", "lora", "--gpus", "4", "--strategy", "zero3", "--format", "json"],
                        env: ["PLAN_DB": "/tmp/none-\(UUID()).sqlite"])
        let parts = try #require(try jsonObject(r.stdout)["overhead_parts"] as? [String: Int])
        // The largest module is the 128,256 x 4,096 embedding, gathered in bf16.
        #expect(parts["zero3_gather"] == 128_256 * 4096 * 2)
    }

    @Test func modelJobsTakeAFixedGPUCountAndType() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "a", "--gpu", "a100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("add-server", "h", "--gpu", "h100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("job", "add", "ft", "--model", "llama-3-8b", "--mode", "train", "--gpus", "4", "--gpu", "h100-sxm-80gb", "--strategy", "zero3"))
        let j = try jsonObject(f.plan("place", "--format", "json").stdout)
        let p = try #require((j["placed"] as? [[String: Any]])?.first)
        #expect(p["gpu_type"] as? String == "h100-sxm-80gb")
        #expect(p["dp"] as? Int == 4 && p["strategy"] as? String == "zero3")
        try f.expectRejected(["job", "add", "bad", "--gpus", "2", "--gpu-memory", "1GB", "--tp", "2"], mentioning: "--tp")
    }

    @Test func duplicateModelAliasIsACleanError() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("init"))
        let config = f.dir.write("c.json", #"{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#)
        try f.expectRejected(["models", "add", "--config", config, "--id", "tiny", "--alias", "meta-llama/Meta-Llama-3-8B"], mentioning: "'meta-llama/Meta-Llama-3-8B'")
    }

    @Test func emptyDatabasePathIsAUsageError() {
        for args in [["--db", "", "servers"], ["--db=", "servers"], ["servers", "--db", ""]] {
            let r = runPlan(args, env: ["HOME": "/nonexistent-home"])
            #expect(r.status == 64 && r.stderr.contains("--db is empty"), "\(args): \(r.stderr)")
        }
    }

    /// One rule wherever the path comes from: a `--db` after the command name, a leading one, or
    /// `$PLAN_DB`; the later `--db` wins and any `--db` beats `$PLAN_DB`.
    @Test func theDatabaseIsTheLastDbElsePLAN_DB() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (a, b, env) = (dir.path("a.sqlite"), dir.path("b.sqlite"), dir.path("env.sqlite"))
        ok(runPlan(["add-server", "s", "--gpu", "l4", "--gpus", "1", "--db", a], env: ["PLAN_DB": env]))
        ok(runPlan(["--db", a, "add-server", "t", "--gpu", "l4", "--gpus", "1", "--db", b]))
        ok(runPlan(["add-server", "u", "--gpu", "l4", "--gpus", "1"], env: ["PLAN_DB": env]))
        func names(_ args: [String], env: [String: String] = [:]) throws -> [String] {
            try jsonArray(runPlan(args + ["--format", "json"], env: env).stdout).compactMap { $0["name"] as? String }
        }
        #expect(try names(["servers", "--db", a]) == ["s"])
        #expect(try names(["--db", b, "servers"]) == ["t"])
        #expect(try names(["servers"], env: ["PLAN_DB": env]) == ["u"])
        let empty = runPlan(["--db", "", "servers", "--no-such-flag"])
        #expect(empty.stderr == "error: --db is empty; give the path of a database file such as ./plan.sqlite\n")
        #expect(runPlan(["servers", "--db", ""]).stderr == empty.stderr)
    }

    @Test func demoPlacesOnlyItsOwnJobs() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = dir.path("d.sqlite")
        ok(runPlan(["--db", db, "job", "add", "mine", "--gpus", "1", "--gpu-memory", "1GB"]))
        ok(runPlan(["--db", db, "demo"]))
        let jobs = try jsonArray(runPlan(["--db", db, "jobs", "--format", "json"]).stdout)
        #expect(jobs.first { $0["name"] as? String == "mine" }?["state"] as? String == "pending")
    }

    @Test func importErrorsNameTheFirstUnknownKeyInOrder() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let file = f.dir.write("k.json", #"[{"name": "a", "zzz": 1, "mmm": 2, "bbb": 3}]"#)
        for _ in 0..<3 { try f.expectRejected(["import", "jobs", file], mentioning: "'bbb'") }
    }
}
