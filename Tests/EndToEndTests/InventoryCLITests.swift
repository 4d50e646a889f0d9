import Foundation
import Testing
import TestSupport

/// GPU memory of a catalog entry, read from the seed file rather than through plan.
func catalogMemory(_ id: String) throws -> Int {
    let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/gpus.json"))
    let all = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
    return (all.first { $0["id"] as? String == id }!["memory_bytes"] as! NSNumber).intValue
}

func jsonArray(_ text: String) throws -> [[String: Any]] {
    try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [[String: Any]]
}

/// A fresh database in a temp folder, with helpers to run plan against it.
struct Fleet {
    let dir = TempDir()
    var db: String { dir.path("plan.sqlite") }

    @discardableResult
    func plan(_ args: String...) -> RunResult { runPlan(["--db", db] + args) }
    @discardableResult
    func plan(_ args: [String]) -> RunResult { runPlan(["--db", db] + args) }
}

/// Expects a successful run, showing stderr when not.
func ok(_ r: RunResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 0, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
}

extension Fleet {
    /// Expects a clean failure: non-zero, exactly one stderr line starting with "error:", and the
    /// database unchanged (logical dump and file bytes).
    func expectRejected(_ args: [String], mentioning needle: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dumpBefore = try dumpDatabase(db)
        let bytesBefore = fileBytes(db)
        let r = plan(args)
        #expect(r.status != 0 && !r.signaled, "\(args) should fail cleanly", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "stderr should be one line: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(needle), "stderr should mention \(needle): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(try dumpDatabase(db) == dumpBefore, "database content changed", sourceLocation: sourceLocation)
        #expect(fileBytes(db) == bytesBefore, "database file bytes changed", sourceLocation: sourceLocation)
    }
}

@Suite struct InventoryCLITests {
    @Test func aCopiedBinaryWorksOnItsOwn() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let copy = dir.path("plan")
        try FileManager.default.copyItem(atPath: planBinary().path, toPath: copy)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: copy)
        p.arguments = ["--db", dir.path("db.sqlite"), "gpus", "--format", "json"]
        p.environment = ["HOME": dir.path(""), "PATH": "/usr/bin:/bin"]
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try jsonArray(String(decoding: data, as: UTF8.self)).count == (try seedCount("gpus.json")))
    }

    @Test func serverGroupNamesMatchTheOlderCommands() throws {
        // `plan server add|list|remove` is named like `plan job add|remove`; the older names stay.
        let a = Fleet()
        let b = Fleet()
        defer { a.dir.cleanup(); b.dir.cleanup() }
        ok(a.plan("server", "add", "n", "--gpu", "l40s", "--gpus", "4", "--count", "2", "--site", "fra"))
        ok(b.plan("add-server", "n", "--gpu", "l40s", "--gpus", "4", "--count", "2", "--site", "fra"))
        ok(a.plan("server", "remove", "n-1"))
        ok(b.plan("remove-server", "n-1"))
        let listed = a.plan("server", "list", "--format", "json")
        ok(listed)
        #expect(listed.stdout == b.plan("servers", "--format", "json").stdout)
        let servers = try jsonArray(listed.stdout)
        #expect(servers.map { $0["name"] as? String } == ["n-2"])
        #expect(servers.first?["gpus"] as? Int == 4)
        try a.expectRejected(["server", "add", "x", "--gpu", "h1000", "--gpus", "1"], mentioning: "'h1000'")
        try a.expectRejected(["server", "remove", "nope"], mentioning: "'nope'")
    }

    @Test func newGPUTypesCarryDriverMemoryAndFP4() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let gpus = try jsonArray(f.plan("gpus", "--format", "json").stdout)
        func gpu(_ id: String) -> [String: Any]? { gpus.first { $0["id"] as? String == id } }
        // nvidia-smi memory.total printouts (Seeds/SOURCES.md): B300 275040 MiB, GB200 189471 MiB,
        // RTX 5090 32607 MiB, H20 97871 MiB, L20 46068 MiB.
        for (id, mib, fp4) in [("b300-288gb", 275_040, true), ("gb200-186gb", 189_471, true), ("rtx-5090-32gb", 32_607, true),
                               ("h20-96gb", 97_871, false), ("l20-48gb", 46_068, false)] {
            #expect(gpu(id)?["memory_bytes"] as? Int == mib * 1_048_576, "\(id)")
            #expect(gpu(id)?["fp4"] as? Bool == fp4, "\(id)")
        }
        // The product name nvidia-smi prints resolves to the type.
        ok(f.plan("add-server", "n1", "--gpu", "NVIDIA B300 SXM6 AC", "--gpus", "8"))
        let s = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(s.first?["gpu"] as? String == "b300-288gb")
        // One lookup rule everywhere: ids, then aliases, case-insensitively (job GPU types too).
        ok(f.plan("add-server", "n2", "--gpu", "nvidia b300 sxm6 ac", "--gpus", "8"))
        ok(f.plan("job", "add", "pinned", "--gpus", "1", "--gpu-memory", "10GB", "--gpu", "nvidia l20"))
        ok(f.plan("job", "add", "pinned2", "--gpus", "1", "--gpu-memory", "10GB", "--gpu-types", "B300,L20"))
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(jobs.first { $0["name"] as? String == "pinned" }?["gpu_types"] as? [String] == ["l20-48gb"])
        #expect((jobs.first { $0["name"] as? String == "pinned2" }?["gpu_types"] as? [String])?.sorted() == ["b300-288gb", "l20-48gb"])
        // MXFP4 experts on a GPU without FP4 tensor cores are named as such.
        let config = f.dir.write("gpt-oss.json", #"{"model_type": "gpt_oss", "vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128, "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}}"#)
        let h100 = f.plan("estimate", "--model", config, "--gpu", "h100-sxm-80gb", "--format", "json")
        ok(h100)
        #expect(h100.stdout.contains("has no native FP4"))
        let b300 = f.plan("estimate", "--model", config, "--gpu", "b300", "--format", "json")
        #expect(!b300.stdout.contains("has no native FP4"))
    }

    @Test func addServerThenListShowsEightGPUsOfCatalogMemory() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let add = f.plan("add-server", "n1", "--gpu", "h100-sxm-80gb", "--gpus", "8")
        #expect(add.status == 0, "\(add.stderr)")
        let r = f.plan("servers", "--format", "json")
        #expect(r.status == 0)
        let servers = try jsonArray(r.stdout)
        #expect(servers.count == 1)
        let s = servers[0]
        #expect(s["name"] as? String == "n1")
        #expect(s["gpus"] as? Int == 8)
        #expect(s["free_gpus"] as? Int == 8)
        #expect(s["gpu_memory_bytes"] as? Int == (try catalogMemory("h100-sxm-80gb")))
        #expect((s["allocations"] as? [Any])?.count == 8)
    }

    @Test func countAddsNamedServers() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(f.plan("add-server", "gpu-node", "--gpu", "l40s", "--gpus", "4", "--count", "4", "--site", "fra").status == 0)
        let servers = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(servers.map { $0["name"] as! String } == ["gpu-node-1", "gpu-node-2", "gpu-node-3", "gpu-node-4"])
        #expect(servers.allSatisfy { $0["gpu"] as? String == "l40s-48gb" && $0["site"] as? String == "fra" })
    }

    @Test func importsAThousandRowCSV() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        var csv = "name,gpu,gpus,host_memory,site,rack\n"
        for i in 1...1000 {
            csv += "node-\(i),\(i % 2 == 0 ? "h100-sxm-80gb" : "a100-sxm-80gb"),\(i % 3 == 0 ? 4 : 8),\(i % 5 == 0 ? "" : "1TiB"),dc1,r\(i % 10)\n"
        }
        let file = f.dir.write("servers.csv", csv)
        let r = f.plan("import", "servers", file)
        #expect(r.status == 0, "\(r.stderr)")
        let servers = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(servers.count == 1000)
        let gpuTotal = servers.reduce(0) { $0 + ($1["gpus"] as! Int) }
        #expect(gpuTotal == (1...1000).reduce(0) { $0 + ($1 % 3 == 0 ? 4 : 8) })
        let node7 = servers.first { $0["name"] as? String == "node-7" }!
        #expect(node7["host_memory_bytes"] as? Int == 1 << 40)
        #expect(node7["rack"] as? String == "r7")
    }

    @Test func oneBadRowRejectsTheWholeFileAndNamesItsLine() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        f.plan("init")
        var csv = "name,gpu,gpus\n"
        for i in 1...50 { csv += "n\(i),l4,4\n" }
        csv += "bad,l4,0\n"  // line 52
        for i in 51...60 { csv += "n\(i),l4,4\n" }
        let file = f.dir.write("s.csv", csv)
        try f.expectRejected(["import", "servers", file], mentioning: "line 52")
        let unknownGPU = f.dir.write("g.csv", "name,gpu,gpus\na,l4,1\nb,h1000,1\n")
        try f.expectRejected(["import", "servers", unknownGPU], mentioning: "line 3: unknown GPU 'h1000'")
        let dup = f.dir.write("d.csv", "name,gpu,gpus\na,l4,1\na,l4,1\n")
        try f.expectRejected(["import", "servers", dup], mentioning: "line 3")
        let json = f.dir.write("s.json", #"[{"name": "a", "gpu": "l4", "gpus": 2}, {"name": "b", "gpu": "l4", "gpus": -3}]"#)
        try f.expectRejected(["import", "servers", json], mentioning: "item 2")
        #expect(try jsonArray(f.plan("servers", "--format", "json").stdout).isEmpty)
    }

    @Test func importAcceptsJSONBOMAndCRLF() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let json = f.dir.write("s.json", #"[{"name": "j1", "gpu": "l4", "gpus": 2, "host_memory": "256GiB"}]"#)
        #expect(f.plan("import", "servers", json).status == 0)
        let crlf = f.dir.write("s.csv", bytes: [0xEF, 0xBB, 0xBF] + Array("name,gpu,gpus\r\nc1,l4,1\r\n\"c,2\",l4,3\r\n".utf8))
        let r = f.plan("import", "servers", crlf)
        #expect(r.status == 0, "\(r.stderr)")
        let names = try jsonArray(f.plan("servers", "--format", "json").stdout).map { $0["name"] as! String }
        #expect(names == ["c,2", "c1", "j1"])
    }

    @Test func badInputGivesOneLineAndLeavesTheDatabaseAlone() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(f.plan("add-server", "taken", "--gpu", "l4", "--gpus", "2").status == 0)
        try f.expectRejected(["add-server", "x", "--gpu", "h1000", "--gpus", "8"], mentioning: "'h1000'")
        try f.expectRejected(["add-server", "x", "--gpu", "h100", "--gpus", "0"], mentioning: "--gpus")
        try f.expectRejected(["add-server", "x", "--gpu", "h100", "--gpus", "-1"], mentioning: "-1")
        try f.expectRejected(["add-server", "x", "--gpu", "h100", "--gpus", "99999999999999999999"], mentioning: "99999999999999999999")
        try f.expectRejected(["add-server", "taken", "--gpu", "l4", "--gpus", "2"], mentioning: "'taken' already exists")
        try f.expectRejected(["add-server", "x", "--gpu", "l4", "--gpus", "2", "--host-memory", "80XB"], mentioning: "'80XB'")
        try f.expectRejected(["add-server", "x", "--gpu", "l4", "--gpus", "2", "--count", "0"], mentioning: "--count")
        try f.expectRejected(["remove-server", "nope"], mentioning: "'nope'")
        try f.expectRejected(["import", "servers", f.dir.path("missing.csv")], mentioning: "missing.csv")
    }

    @Test func namesWithQuotesAndUnicodeAreStoredExactly() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let name = #"gpu "node" ü-東京 'x'; DROP TABLE servers;--"#
        #expect(f.plan("add-server", name, "--gpu", "l4", "--gpus", "1").status == 0)
        let servers = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(servers.map { $0["name"] as! String } == [name])
        #expect(f.plan("servers").stdout.contains(name))
    }

    @Test func unusableDatabaseLocationsAreRefusedClearly() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let notDB = dir.write("notes.txt", "these are not the droids\n")
        let before = fileBytes(notDB)
        for (db, needle) in [
            (notDB, "not a plan (SQLite) database"),
            (dir.path("missing/folder/plan.sqlite"), "does not exist"),
            ("/proc/plan.sqlite", "/proc/plan.sqlite"),
            (dir.path("notes.txt/inner.sqlite"), "does not exist"),
        ] {
            let r = runPlan(["--db", db, "servers"])
            #expect(r.status == 1, "\(db)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(needle), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(fileBytes(notDB) == before)
        #expect(!FileManager.default.fileExists(atPath: notDB + "-wal"))
    }

    @Test func databaseLocationComesFromFlagThenEnvThenXDG() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let xdg = dir.path("xdg")
        try FileManager.default.createDirectory(atPath: xdg, withIntermediateDirectories: true)
        #expect(runPlan(["init"], env: ["XDG_DATA_HOME": xdg]).status == 0)
        #expect(FileManager.default.fileExists(atPath: xdg + "/plan/plan.sqlite"))
        let envDB = dir.path("env.sqlite")
        #expect(runPlan(["init"], env: ["PLAN_DB": envDB, "XDG_DATA_HOME": xdg]).status == 0)
        #expect(FileManager.default.fileExists(atPath: envDB))
        let flagDB = dir.path("flag.sqlite")
        #expect(runPlan(["--db", flagDB, "init"], env: ["PLAN_DB": envDB]).status == 0)
        #expect(runPlan(["init", "--db", dir.path("flag2.sqlite")]).status == 0)
        #expect(FileManager.default.fileExists(atPath: flagDB))
        #expect(FileManager.default.fileExists(atPath: dir.path("flag2.sqlite")))
    }

    @Test func secondInitChangesNothing() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(f.plan("init").status == 0)
        let dump = try dumpDatabase(f.db)
        let bytes = fileBytes(f.db)
        #expect(f.plan("init").status == 0)
        #expect(try dumpDatabase(f.db) == dump)
        #expect(fileBytes(f.db) == bytes)
    }

    @Test func everyCommandHasHelp() throws {
        for cmd in [[], ["init"], ["gpus"], ["skus"], ["models"], ["add-server"], ["import", "servers"], ["servers"], ["remove-server"]] {
            let r = runPlan(cmd + ["--help"])
            #expect(r.status == 0, "\(cmd)")
            #expect(r.stdout.contains("USAGE:"), "\(cmd)")
        }
    }

    @Test func catalogsListTheSeeds() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let gpus = try jsonArray(f.plan("gpus", "--format", "json").stdout)
        let h100 = try #require(gpus.first { $0["id"] as? String == "h100-sxm-80gb" })
        #expect(h100["memory_bytes"] as? Int == 81_559 * 1_048_576)  // nvidia-smi 81559 MiB
        #expect(h100["bf16"] as? Bool == true)
        for key in ["id", "name", "memory_bytes", "bf16", "fp8", "bandwidth_bytes_per_s", "interconnect", "price"] {
            #expect(h100[key] != nil, "gpus JSON lacks \(key)")
        }
        #expect(gpus.first { $0["id"] as? String == "t4-16gb" }?["bf16"] as? Bool == false)
        let skus = try jsonArray(f.plan("skus", "--format", "json").stdout)
        for key in ["id", "gpu", "gpus_per_server", "host_memory_bytes", "price"] {
            #expect(skus.allSatisfy { $0[key] != nil }, "skus JSON lacks \(key)")
        }
        let models = try jsonArray(f.plan("models", "--format", "json").stdout)
        let llama = try #require(models.first { $0["id"] as? String == "llama-3-8b" })
        #expect(llama["parameters"] as? Int == 8_030_261_248)
        #expect((llama["aliases"] as? [String])?.contains("meta-llama/Meta-Llama-3-8B-Instruct") == true)
        for key in ["layers", "hidden_size", "heads", "kv_heads", "vocab_size", "context_length"] {
            #expect(llama[key] != nil, "models JSON lacks \(key)")
        }
    }
}

/// Counts the objects of a seed file without going through the code under test.
func seedCount(_ file: String) throws -> Int {
    let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/\(file)"))
    return (try JSONSerialization.jsonObject(with: data) as! [Any]).count
}
