import Foundation
import Testing
import TestSupport

@Suite struct PlacementCLITests {
    @Test func placeFollowsTheContractAndServersShowWhatEachGPUHolds() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "node", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--count", "2"))
        ok(f.plan("add-server", "small", "--gpu", "rtx-4090-24gb", "--gpus", "2"))
        ok(f.plan("job", "add", "llama3-8b-ft", "--model", "llama-3-8b", "--mode", "train", "--checkpointing", "--priority", "10"))
        ok(f.plan("job", "add", "llama3-8b-infer", "--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--mode", "infer", "--replicas", "3"))
        ok(f.plan("job", "add", "too-big", "--model", "llama-3.1-405b", "--mode", "train"))
        let r = f.plan("place", "--format", "json")
        ok(r)
        let j = try jsonObject(r.stdout)
        let placed = try #require(j["placed"] as? [[String: Any]])
        let unplaced = try #require(j["unplaced"] as? [[String: Any]])
        #expect(Set(placed.map { $0["job"] as! String }) == ["llama3-8b-ft", "llama3-8b-infer"])
        #expect(placed.filter { $0["job"] as? String == "llama3-8b-infer" }.count == 3)
        for p in placed {
            for key in ["job", "strategy", "tp", "pp", "dp", "gpu_type", "per_gpu_bytes", "allocations"] {
                #expect(p[key] != nil, "placed lacks \(key)")
            }
            let gpus = (p["allocations"] as! [[String: Any]]).reduce(0) { $0 + ($1["gpus"] as! [Int]).count }
            #expect(gpus == (p["tp"] as! Int) * (p["pp"] as! Int) * (p["dp"] as! Int))
        }
        #expect(unplaced.map { $0["job"] as! String } == ["too-big"])
        let reason = try #require(unplaced.first?["reason"] as? String)
        #expect(!reason.isEmpty && !reason.contains("\n"))
        #expect(reason.contains("GPUs") || reason.contains("GPU"))
        // Every held GPU is shown by `servers`, each exactly once.
        let servers = try jsonArray(f.plan("servers", "--format", "json").stdout)
        let held = servers.flatMap { ($0["allocations"] as! [[String: Any]]).compactMap { $0["job"] as? String } }
        let placedGPUs = placed.reduce(0) { $0 + ($1["allocations"] as! [[String: Any]]).reduce(0) { $0 + ($1["gpus"] as! [Int]).count } }
        #expect(held.count == placedGPUs)
        // Jobs list their state.
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(jobs.first { $0["name"] as? String == "llama3-8b-ft" }?["state"] as? String == "placed")
        #expect(jobs.first { $0["name"] as? String == "too-big" }?["state"] as? String == "pending")
        for key in ["name", "state", "priority"] { #expect(jobs.allSatisfy { $0[key] != nil }) }
        // A second place changes nothing and says so.
        let dump = try dumpDatabase(f.db)
        ok(f.plan("place"))
        #expect(try dumpDatabase(f.db) == dump)
    }

    @Test func dryRunWritesNothingAndSameDatabaseGivesSamePlan() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "a", "--gpu", "a100-sxm-80gb", "--gpus", "8", "--count", "3"))
        ok(f.plan("add-server", "l", "--gpu", "l40s-48gb", "--gpus", "4", "--count", "2"))
        for (i, m) in ["llama-3-8b", "mistral-7b-v0.1", "qwen2.5-7b", "gemma-2-9b"].enumerated() {
            ok(f.plan("job", "add", "ft-\(i)", "--model", m, "--mode", "train", "--method", i % 2 == 0 ? "full" : "lora", "--priority", "\(i)"))
            ok(f.plan("job", "add", "serve-\(i)", "--model", m, "--mode", "infer", "--replicas", "2", "--seq", "16384"))
        }
        ok(f.plan("job", "add", "gang", "--gpus", "6", "--gpu-memory", "70GiB"))
        let before = try dumpDatabase(f.db)
        let bytes = fileBytes(f.db)
        let dry = f.plan("place", "--dry-run", "--format", "json")
        ok(dry)
        #expect(try dumpDatabase(f.db) == before)
        #expect(fileBytes(f.db) == bytes)
        // Same database, same command: byte-identical output and database.
        let copy = f.dir.path("copy.sqlite")
        try FileManager.default.copyItem(atPath: f.db, toPath: copy)
        let a = f.plan("place", "--format", "json")
        let b = runPlan(["--db", copy, "place", "--format", "json"])
        ok(a)
        #expect(a.stdout == b.stdout)
        #expect(try dumpDatabase(f.db) == (try dumpDatabase(copy)))
        // The dry run predicted exactly what was written.
        #expect(dry.stdout.replacingOccurrences(of: "\"dry_run\" : true", with: "\"dry_run\" : false") == a.stdout)
        #expect(try jsonObject(dry.stdout)["dry_run"] as? Bool == true)
    }

    @Test func higherPriorityGoesFirst() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "only", "--gpu", "h100-sxm-80gb", "--gpus", "4"))
        ok(f.plan("job", "add", "low", "--gpus", "4", "--gpu-memory", "10GB", "--priority", "1"))
        ok(f.plan("job", "add", "high", "--gpus", "4", "--gpu-memory", "10GB", "--priority", "9"))
        let j = try jsonObject(f.plan("place", "--format", "json").stdout)
        #expect((j["placed"] as! [[String: Any]]).map { $0["job"] as! String } == ["high"])
        let reason = (j["unplaced"] as! [[String: Any]]).first!["reason"] as! String
        #expect(reason.contains("every h100-sxm-80gb GPU is taken"), "\(reason)")
    }

    @Test func repackMovesJobsToMakeRoomAndListsTheMoves() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "s", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--count", "2"))
        ok(f.plan("job", "add", "a", "--gpus", "6", "--gpu-memory", "10GB", "--same-server"))
        ok(f.plan("place"))
        ok(f.plan("job", "add", "m", "--gpus", "2", "--gpu-memory", "10GB"))
        ok(f.plan("place"))
        ok(f.plan("job", "add", "l", "--gpus", "4", "--gpu-memory", "10GB", "--same-server"))
        ok(f.plan("place"))
        ok(f.plan("job", "remove", "a"))
        ok(f.plan("job", "add", "h", "--gpus", "8", "--gpu-memory", "10GB", "--same-server", "--priority", "5"))
        // Incrementally there is no whole server left for h.
        let inc = try jsonObject(f.plan("place", "--dry-run", "--format", "json").stdout)
        #expect((inc["unplaced"] as! [[String: Any]]).map { $0["job"] as! String } == ["h"])
        let r = f.plan("place", "--repack", "--format", "json")
        ok(r)
        let j = try jsonObject(r.stdout)
        #expect(Set((j["placed"] as! [[String: Any]]).map { $0["job"] as! String }) == ["h", "l", "m"])
        #expect(!(j["moves"] as! [Any]).isEmpty)
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(jobs.allSatisfy { $0["state"] as? String == "placed" })
    }

    @Test func removingAServerWithJobsNeedsForceAndUnplacesThem() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "l40s", "--gpus", "4"))
        ok(f.plan("job", "add", "x", "--gpus", "2", "--gpu-memory", "10GB"))
        ok(f.plan("place"))
        try f.expectRejected(["remove-server", "n"], mentioning: "--force")
        let r = f.plan("remove-server", "n", "--force")
        ok(r)
        #expect(r.stdout.contains("x"))
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(jobs.map { $0["state"] as! String } == ["pending"])
    }

    @Test func unplaceAndJobRemoveFreeTheGPUs() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "l40s", "--gpus", "4"))
        ok(f.plan("job", "add", "x", "--gpus", "2", "--gpu-memory", "10GB"))
        ok(f.plan("job", "add", "y", "--gpus", "2", "--gpu-memory", "10GB"))
        ok(f.plan("place"))
        func free() throws -> Int { try jsonArray(f.plan("servers", "--format", "json").stdout)[0]["free_gpus"] as! Int }
        #expect(try free() == 0)
        ok(f.plan("unplace", "--job", "x"))
        #expect(try free() == 2)
        ok(f.plan("job", "remove", "y"))
        #expect(try free() == 4)
        try f.expectRejected(["unplace", "--job", "nope"], mentioning: "'nope'")
        try f.expectRejected(["job", "remove", "nope"], mentioning: "'nope'")
    }

    @Test func capacityReportsFreeGPUsMemoryAndLargestBlock() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "a", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--count", "2"))
        ok(f.plan("job", "add", "x", "--gpus", "3", "--gpu-memory", "10GB", "--same-server"))
        ok(f.plan("place"))
        let j = try jsonObject(f.plan("capacity", "--format", "json").stdout)
        let types = try #require(j["gpu_types"] as? [[String: Any]])
        let h100 = try #require(types.first)
        #expect(h100["free_gpus"] as? Int == 13)
        #expect(h100["largest_block_gpus"] as? Int == 8)
        #expect(h100["free_memory_bytes"] as? Int == 13 * 81_559 * 1_048_576)
        #expect(j["free_gpus"] as? Int == 13)
    }

    @Test func importJobsIsAllOrNothing() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        var csv = "name,model,mode,method,batch,seq,replicas,priority,gpus,gpu_memory,same_server\n"
        for i in 1...40 { csv += "ft-\(i),llama-3-8b,train,lora,1,2048,,\(i % 3),,,\n" }
        for i in 1...20 { csv += "serve-\(i),mistral-7b-v0.1,infer,,4,8192,2,1,,,\n" }
        for i in 1...20 { csv += "sized-\(i),,,,,,,0,2,40GB,true\n" }
        let good = f.dir.write("jobs.csv", csv)
        ok(f.plan("import", "jobs", good))
        #expect(try jsonArray(f.plan("jobs", "--format", "json").stdout).count == 80)
        let bad = f.dir.write("bad.csv", "name,model,mode,batch\nok1,llama-3-8b,train,1\nbroken,llama-3-8b,train,zero\n")
        try f.expectRejected(["import", "jobs", bad], mentioning: "line 3")
        let unknown = f.dir.write("unknown.json", #"[{"name": "u1", "model": "no-such-model", "mode": "infer"}]"#)
        try f.expectRejected(["import", "jobs", unknown], mentioning: "'no-such-model'")
        let dup = f.dir.write("dup.csv", "name,gpus,gpu_memory\nft-1,1,10GB\n")
        try f.expectRejected(["import", "jobs", dup], mentioning: "'ft-1' already exists")
        #expect(try jsonArray(f.plan("jobs", "--format", "json").stdout).count == 80)
    }

    @Test func jobAddRejectsBadInput() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        f.plan("init")
        try f.expectRejected(["job", "add", "x", "--model", "llama-3-8b"], mentioning: "--mode")
        try f.expectRejected(["job", "add", "x", "--model", "llama-3-8b", "--mode", "train", "--gpus", "2", "--gpu-memory", "1GB"], mentioning: "not both")
        try f.expectRejected(["job", "add", "x", "--gpus", "2"], mentioning: "--gpu-memory")
        try f.expectRejected(["job", "add", "x", "--gpus", "0", "--gpu-memory", "1GB"], mentioning: "--gpus")
        try f.expectRejected(["job", "add", "x", "--gpus", "1", "--gpu-memory", "80XB"], mentioning: "'80XB'")
        try f.expectRejected(["job", "add", "x", "--model", "llama-3-8b", "--mode", "train", "--tp", "3"], mentioning: "--tp 3")
        try f.expectRejected(["job", "add", "x", "--gpus", "1", "--gpu-memory", "1GB", "--gpu-types", "h1000"], mentioning: "'h1000'")
        try f.expectRejected(["job", "add", "x", "--model", "llama-3-8b", "--mode", "train", "--replicas", "2"], mentioning: "--replicas")
    }

    @Test func allowedGPUTypesAreRespected() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "h", "--gpu", "h100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("add-server", "a", "--gpu", "a100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("job", "add", "x", "--model", "llama-3-8b", "--mode", "infer", "--gpu-types", "a100-sxm-80gb"))
        let j = try jsonObject(f.plan("place", "--format", "json").stdout)
        #expect((j["placed"] as! [[String: Any]]).first?["gpu_type"] as? String == "a100-sxm-80gb")
    }
}
