import Foundation
import Testing
import TestSupport

/// Every kind of bad input: one line on stderr that names the value, a non-zero exit, and a
/// database byte-identical to before (compared as a logical dump and as file bytes).
@Suite struct BadInputTests {
    static func fleet() throws -> Fleet {
        let f = Fleet()
        #expect(f.plan("add-server", "taken", "--gpu", "l4", "--gpus", "2").status == 0)
        #expect(f.plan("job", "add", "existing-job", "--gpus", "1", "--gpu-memory", "1GB").status == 0)
        return f
    }

    @Test(arguments: [
        // sizes
        (["add-server", "x", "--gpu", "l4", "--gpus", "1", "--host-memory", "80XB"], "'80XB'"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "1", "--host-memory", "-1GB"], "'-1GB'"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "1", "--host-memory", "1e400"], "'1e400'"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "1", "--host-memory", ""], "''"),
        (["job", "add", "x", "--gpus", "1", "--gpu-memory", "80XB"], "'80XB'"),
        (["job", "add", "x", "--gpus", "1", "--gpu-memory", "-1GB"], "'-1GB'"),
        (["job", "add", "x", "--gpus", "1", "--gpu-memory", "1e400"], "'1e400'"),
        (["job", "add", "x", "--gpus", "1", "--gpu-memory", ""], "''"),
        // counts
        (["add-server", "x", "--gpu", "l4", "--gpus", "0"], "--gpus"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "-3"], "-3"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "18446744073709551616"], "18446744073709551616"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "1", "--count", "0"], "--count"),
        (["add-server", "x", "--gpu", "l4", "--gpus", "1024", "--count", "100000"], "2,000,000"),
        (["job", "add", "x", "--model", "llama-3-8b", "--mode", "infer", "--replicas", "0"], "--replicas"),
        (["job", "add", "x", "--model", "llama-3-8b", "--mode", "infer", "--batch", "-1"], "--batch"),
        (["job", "add", "x", "--model", "llama-3-8b", "--mode", "infer", "--batch", "1000000", "--seq", "100000000"], "too large"),
        // unknown ids
        (["add-server", "x", "--gpu", "h1000", "--gpus", "1"], "'h1000'"),
        (["skus", "set-price", "no-such-sku", "--price", "1"], "'no-such-sku'"),
        (["job", "add", "x", "--model", "no-such-model", "--mode", "infer"], "'no-such-model'"),
        (["job", "remove", "no-such-job"], "'no-such-job'"),
        (["place", "--job", "no-such-job"], "'no-such-job'"),
        (["unplace", "--job", "no-such-job"], "'no-such-job'"),
        (["remove-server", "no-such-server"], "'no-such-server'"),
        // duplicates
        (["add-server", "taken", "--gpu", "l4", "--gpus", "1"], "'taken'"),
        (["job", "add", "existing-job", "--gpus", "1", "--gpu-memory", "1GB"], "'existing-job'"),
        (["models", "add", "--config", "/dev/null/none", "--id", "x"], "/dev/null/none"),
        (["skus", "add", "hgx-h100-8x", "--gpu", "h100", "--gpus", "8", "--price", "1"], "'hgx-h100-8x'"),
    ])
    func rejected(args: [String], needle: String) throws {
        let f = try Self.fleet()
        defer { f.dir.cleanup() }
        try f.expectRejected(args, mentioning: needle)
    }

    @Test func namesWithQuotesSemicolonsNewlinesAndUnicodeAreStoredAndPrintedExactly() throws {
        let f = try Self.fleet()
        defer { f.dir.cleanup() }
        // Control characters and surrounding white space are refused (AdversarialTests); everything
        // else is stored as given.
        for name in ["it's \"quoted\"", "a;b; DROP TABLE jobs;--", "東京-ü-🚀", "in side, with comma"] {
            #expect(f.plan("add-server", name, "--gpu", "l4", "--gpus", "1").status == 0, "\(name)")
            #expect(f.plan("job", "add", name, "--gpus", "1", "--gpu-memory", "1GB").status == 0, "\(name)")
            let servers = try jsonArray(f.plan("servers", "--format", "json").stdout).map { $0["name"] as! String }
            #expect(servers.contains(name))
            let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout).map { $0["name"] as! String }
            #expect(jobs.contains(name))
            // And round-trip through CSV (RFC 4180 quoting).
            let csv = f.plan("servers", "--format", "csv").stdout
            #expect(csv.contains(name.contains(where: { $0 == "\"" || $0 == "," }) ? "\"" : name))
        }
        #expect(f.plan("job", "remove", "a;b; DROP TABLE jobs;--").status == 0)
        #expect(try jsonArray(f.plan("jobs", "--format", "json").stdout).count == 4)
    }

    @Test func badConfigFilesAreRefused() throws {
        let f = try Self.fleet()
        defer { f.dir.cleanup() }
        let base = #""vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128"#
        let cases: [(String, String)] = [
            ("not json at all {", "not valid JSON"),
            ("[1, 2, 3]", "not a JSON object"),
            ("{" + base.replacingOccurrences(of: #""num_attention_heads": 4, "#, with: "") + "}", "num_attention_heads"),
            ("{" + base.replacingOccurrences(of: #""hidden_size": 64"#, with: #""hidden_size": "64""#) + "}", "'hidden_size' must be an integer"),
            ("{" + base.replacingOccurrences(of: #""num_hidden_layers": 2"#, with: #""num_hidden_layers": 0"#) + "}", "num_hidden_layers 0"),
            ("{" + base.replacingOccurrences(of: #""num_attention_heads": 4"#, with: #""num_attention_heads": 7"#) + "}", "does not divide"),
            (#"{"vocab_size": 100000000, "hidden_size": 1048576, "num_hidden_layers": 10000, "num_attention_heads": 1024, "intermediate_size": 4194304}"#, "10^14"),
            ("{" + base + #", "tie_word_embeddings": "yes"}"#, "'tie_word_embeddings' must be true or false"),
            ("{" + base + #", "num_key_value_heads": 3}"#, "num_key_value_heads 3"),
        ]
        for (i, (text, needle)) in cases.enumerated() {
            let path = f.dir.write("config-\(i).json", text)
            try f.expectRejected(["models", "add", "--config", path, "--id", "m\(i)"], mentioning: needle)
            try f.expectRejected(["job", "add", "j\(i)", "--model", path, "--mode", "infer"], mentioning: needle)
            let r = runPlan(["estimate", "--model", path], env: ["PLAN_DB": f.dir.path("none.sqlite")])
            #expect(r.status != 0 && r.stderr.hasPrefix("error: ") && r.stderr.contains(needle), "\(i): \(r.stderr)")
        }
        let notUTF8 = f.dir.write("latin1.json", bytes: Array("{\"model_type\": \"".utf8) + [0xE9, 0xFF] + Array("\"}".utf8))
        try f.expectRejected(["models", "add", "--config", notUTF8], mentioning: "UTF-8")
    }

    @Test func badImportFilesAreRejectedWholeAndGoodEncodingsAccepted() throws {
        let f = try Self.fleet()
        defer { f.dir.cleanup() }
        let badRow = f.dir.write("bad-row.csv", "name,gpu,gpus\nok-1,l4,1\nbad,l4,many\nok-2,l4,1\n")
        try f.expectRejected(["import", "servers", badRow], mentioning: "line 3")
        let header = f.dir.write("header.csv", "name,gpu,gpu_count\nx,l4,1\n")
        try f.expectRejected(["import", "servers", header], mentioning: "'gpu_count'")
        let noHeader = f.dir.write("noheader.csv", "x,l4,1\n")
        try f.expectRejected(["import", "servers", noHeader], mentioning: "column")
        let latin1 = f.dir.write("latin1.csv", bytes: Array("name,gpu,gpus\nz".utf8) + [0xFC] + Array("rich,l4,1\n".utf8))
        try f.expectRejected(["import", "servers", latin1], mentioning: "UTF-8")
        try f.expectRejected(["import", "jobs", latin1], mentioning: "UTF-8")
        let jobsHeader = f.dir.write("jobs-header.csv", "name,gpus,memory\nx,1,1GB\n")
        try f.expectRejected(["import", "jobs", jobsHeader], mentioning: "'memory'")
        let jobsBadRow = f.dir.write("jobs-bad.csv", "name,gpus,gpu_memory\na,1,1GB\nb,1,80XB\n")
        try f.expectRejected(["import", "jobs", jobsBadRow], mentioning: "line 3")
        let badJSON = f.dir.write("bad.json", "[{\"name\": \"a\", \"gpu\": \"l4\", \"gpus\": 1},")
        try f.expectRejected(["import", "servers", badJSON], mentioning: "not valid JSON")
        let empty = f.dir.write("empty.csv", "")
        try f.expectRejected(["import", "servers", empty], mentioning: "empty")
        // A UTF-8 byte-order mark and CRLF line ends are fine.
        let bomCRLF = f.dir.write("bom.csv", bytes: [0xEF, 0xBB, 0xBF] + Array("name,gpu,gpus\r\nbom-1,l4,1\r\nbom-2,l4,2\r\n".utf8))
        #expect(f.plan("import", "servers", bomCRLF).status == 0)
        let jobsBOM = f.dir.write("jobs-bom.csv", bytes: [0xEF, 0xBB, 0xBF] + Array("name,gpus,gpu_memory\r\nj-bom,1,1GB\r\n".utf8))
        #expect(f.plan("import", "jobs", jobsBOM).status == 0)
        let names = try jsonArray(f.plan("servers", "--format", "json").stdout).map { $0["name"] as! String }
        #expect(names.contains("bom-1") && names.contains("bom-2"))
    }

    @Test func badDatabaseLocationsAndNewerSchemas() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        // A database written by a newer plan.
        let newer = dir.path("newer.sqlite")
        #expect(runPlan(["--db", newer, "init"]).status == 0)
        let q = try GRDBHelper.open(newer)
        try q.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        try q.close()
        let before = fileBytes(newer)
        let r = runPlan(["--db", newer, "servers"])
        #expect(r.status == 1 && r.stderr.contains("schema version 99"), "\(r.stderr)")
        #expect(fileBytes(newer) == before)
        // An unwritable file: immutable where the filesystem allows it.
        let locked = dir.path("locked.sqlite")
        #expect(runPlan(["--db", locked, "init"]).status == 0)
        func chattr(_ flag: String) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            p.arguments = [flag, locked]
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        if chattr("+i") {
            let lockedBytes = fileBytes(locked)
            let w = runPlan(["--db", locked, "add-server", "x", "--gpu", "l4", "--gpus", "1"])
            #expect(w.status == 1 && w.stderr.contains("read-only"), "\(w.stderr)")
            #expect(fileBytes(locked) == lockedBytes)
            _ = chattr("-i")
        }
        // A missing folder and a file that is not SQLite (also covered in InventoryCLITests).
        let missing = runPlan(["--db", dir.path("no/such/folder/plan.sqlite"), "init"])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"))
        let notDB = dir.write("text.sqlite", "hello")
        let n = runPlan(["--db", notDB, "init"])
        #expect(n.status == 1 && n.stderr.contains("not a plan (SQLite) database"))
        #expect(String(decoding: fileBytes(notDB), as: UTF8.self) == "hello")
    }
}

import GRDB

enum GRDBHelper {
    static func open(_ path: String) throws -> DatabaseQueue { try DatabaseQueue(path: path) }
}
