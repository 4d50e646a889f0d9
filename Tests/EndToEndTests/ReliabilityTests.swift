import Foundation
import GRDB
import Testing
import TestSupport

/// Opens a database (recovering a WAL left by a killed process) and returns
/// (integrity_check, foreign_key_check rows, counts of servers, gpus, jobs, placements, placement GPUs).
func health(_ path: String) throws -> (String, Int, [String: Int]) {
    let q = try DatabaseQueue(path: path)
    defer { try? q.close() }
    return try q.read { db in
        let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count
        var counts: [String: Int] = [:]
        for t in ["servers", "gpus", "jobs", "placements", "placement_gpus"] {
            counts[t] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(t)")
        }
        return (integrity, fk, counts)
    }
}

/// Starts the built binary through bash with `script` (PLAN points at the binary).
func spawn(_ script: String, env: [String: String] = [:]) throws -> (Process, Pipe) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = ["-c", script]
    var e = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "PLAN": planBinary().path]
    for (k, v) in env { e[k] = v }
    p.environment = e
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    return (p, err)
}

@Suite(.serialized, .tags(.slow)) struct ReliabilityTests {
    /// 8 processes at once: three add servers, three add jobs, two place — five rounds, each on a
    /// fresh database. No "database is locked" reaches the user, no write is lost, no GPU is given twice.
    @Test func eightConcurrentProcessesLoseNothing() throws {
        for round in 0..<5 {
            let dir = TempDir()
            defer { dir.cleanup() }
            let db = dir.path("plan.sqlite")
            #expect(runPlan(["--db", db, "init"]).status == 0)
            var workers: [(Process, Pipe)] = []
            for w in 0..<3 {
                workers.append(try spawn("for i in 1 2 3 4 5 6; do \"$PLAN\" --db \"\(db)\" add-server s\(w)-$i --gpu l40s --gpus 4 || exit 1; done"))
                workers.append(try spawn("for i in 1 2 3 4 5 6; do \"$PLAN\" --db \"\(db)\" job add j\(w)-$i --gpus 2 --gpu-memory 10GB || exit 1; done"))
            }
            for _ in 0..<2 {
                workers.append(try spawn("for i in 1 2 3 4 5 6; do \"$PLAN\" --db \"\(db)\" place >/dev/null || exit 1; done"))
            }
            for (p, err) in workers {
                p.waitUntilExit()
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(p.terminationStatus == 0, "round \(round): a worker failed: \(text)")
                #expect(!text.lowercased().contains("locked"), "round \(round): \(text)")
            }
            #expect(runPlan(["--db", db, "place"]).status == 0)
            let (integrity, fk, counts) = try health(db)
            #expect(integrity == "ok")
            #expect(fk == 0)
            #expect(counts["servers"] == 18, "round \(round): a server write was lost")
            #expect(counts["gpus"] == 72)
            #expect(counts["jobs"] == 18, "round \(round): a job write was lost")
            // 18 jobs x 2 GPUs = 36 of 72: every job placed, each GPU once (UNIQUE in SQL, checked here too).
            #expect(counts["placements"] == 18)
            #expect(counts["placement_gpus"] == 36)
            let q = try DatabaseQueue(path: db)
            let distinct = try q.read { try Int.fetchOne($0, sql: "SELECT count(DISTINCT gpu_id) FROM placement_gpus") }
            try q.close()
            #expect(distinct == 36)
        }
    }

    /// Processes that open one database for the first time at once, and others that open an old
    /// (schema v1) file at once: each migration runs once and every process succeeds.
    @Test func concurrentFirstOpensMigrateOnce() throws {
        for fixture in [nil, "schema-v1.sqlite"] as [String?] {
            let dir = TempDir()
            defer { dir.cleanup() }
            let db = dir.path("plan.sqlite")
            if let f = fixture {
                try FileManager.default.copyItem(
                    atPath: repositoryRoot.appendingPathComponent("Tests/InventoryTests/Fixtures/\(f)").path, toPath: db)
            }
            let workers = try (0..<6).map { _ in try spawn("\"$PLAN\" --db \"\(db)\" gpus --format csv >/dev/null") }
            for (p, err) in workers {
                p.waitUntilExit()
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(p.terminationStatus == 0, "\(fixture ?? "new file"): \(text)")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Migrations").path)
                .filter { $0.hasSuffix(".sql") }.sorted()
            let q = try DatabaseQueue(path: db)
            let recorded = try q.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") }
            let versions = try q.read { try Int.fetchAll($0, sql: "SELECT version FROM schema_migrations ORDER BY version") }
            try q.close()
            #expect(recorded == names, "\(fixture ?? "new file")")
            #expect(versions == Array(1...names.count))
        }
    }

    /// kill -9 at random moments during imports and placement: the database is always intact and
    /// holds the whole old state or the whole new one.
    @Test func killNineLeavesOldOrNewStateNeverAMix() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var servers = "name,gpu,gpus\n"
        for i in 1...3000 { servers += "k\(i),\(i % 2 == 0 ? "h100" : "l40s"),8\n" }
        let serversCSV = dir.write("servers.csv", servers)
        var jobs = "name,gpus,gpu_memory,model,mode,replicas\n"
        for i in 1...1500 { jobs += i % 3 == 0 ? "m\(i),,,llama-3-8b,infer,2\n" : "g\(i),\(1 + i % 4),20GB,,,\n" }
        let jobsCSV = dir.write("jobs.csv", jobs)
        // Base: a fleet and pending jobs; each operation starts from a copy of it.
        let base = dir.path("base.sqlite")
        #expect(runPlan(["--db", base, "add-server", "b", "--gpu", "h100", "--gpus", "8", "--count", "400"]).status == 0)
        #expect(runPlan(["--db", base, "import", "jobs", jobsCSV]).status == 0)
        let (_, _, before) = try health(base)
        // The "new" states, from uninterrupted runs.
        var after: [String: [String: Int]] = [:]
        let ops: [(String, [String])] = [("servers", ["import", "servers", serversCSV]), ("jobs", ["import", "jobs", jobsCSV.replacingOccurrences(of: "jobs.csv", with: "jobs2.csv")]), ("place", ["place"])]
        _ = dir.write("jobs2.csv", jobs.replacingOccurrences(of: "\nm", with: "\nn").replacingOccurrences(of: "\ng", with: "\nh"))
        var durations: [String: Double] = [:]
        for (name, args) in ops {
            let copy = dir.path("full-\(name).sqlite")
            try FileManager.default.copyItem(atPath: base, toPath: copy)
            let t0 = Date()
            #expect(runPlan(["--db", copy] + args).status == 0)
            durations[name] = Date().timeIntervalSince(t0)
            after[name] = try health(copy).2
        }
        var rng = SeededRandom(seed: 42)
        var killedMidWrite = 0
        var finished = 0
        let kills = 120
        for k in 0..<kills {
            let (name, args) = ops[k % ops.count]
            let db = dir.path("kill-\(k).sqlite")
            try FileManager.default.copyItem(atPath: base, toPath: db)
            let quoted = args.map { "'\($0)'" }.joined(separator: " ")
            let (p, _) = try spawn("exec \"$PLAN\" --db '\(db)' \(quoted) >/dev/null")
            let wait = Double.random(in: 0...(durations[name]! * 1.1), using: &rng)
            Thread.sleep(forTimeInterval: wait)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let (integrity, fk, counts) = try health(db)
            #expect(integrity == "ok", "kill \(k) (\(name)): \(integrity)")
            #expect(fk == 0, "kill \(k) (\(name)): dangling references")
            let isOld = counts == before
            let isNew = counts == after[name]!
            #expect(isOld || isNew, "kill \(k) (\(name)) after \(wait)s: a mix of old and new: \(counts)")
            if isOld { killedMidWrite += 1 } else { finished += 1 }
            try? FileManager.default.removeItem(atPath: db)
        }
        // Most kills must land before the commit, or the test proves little.
        #expect(killedMidWrite >= kills / 3, "only \(killedMidWrite) of \(kills) kills interrupted a write")
        print("kill -9 figures: \(kills) kills, \(killedMidWrite) left the old state, \(finished) the new state; durations \(durations)")
    }

    /// Databases made at each earlier schema version open with every row intact.
    @Test func everyEarlierSchemaUpgradesWithRowsIntact() throws {
        let fixtures = try FileManager.default.contentsOfDirectory(
            atPath: repositoryRoot.appendingPathComponent("Tests/InventoryTests/Fixtures").path
        ).filter { $0.hasPrefix("schema-v") }.sorted()
        #expect(!fixtures.isEmpty)
        for f in fixtures {
            let dir = TempDir()
            defer { dir.cleanup() }
            let db = dir.path("old.sqlite")
            try FileManager.default.copyItem(
                atPath: repositoryRoot.appendingPathComponent("Tests/InventoryTests/Fixtures/\(f)").path, toPath: db)
            let old = try rowsByTable(db)
            let r = runPlan(["--db", db, "servers", "--format", "json"])
            #expect(r.status == 0, "\(f): \(r.stderr)")
            let new = try rowsByTable(db)
            for (table, rows) in old where table != "schema_migrations" && table != "meta" {
                // Every old row is still there with the same values in the old columns.
                let newRows = new[table] ?? []
                for row in rows {
                    #expect(newRows.contains { n in row.allSatisfy { n[$0.key] == $0.value } }, "\(f): \(table) lost \(row)")
                }
                #expect(newRows.count >= rows.count, "\(f): \(table) lost rows")
            }
            let q = try DatabaseQueue(path: db)
            let version = try q.read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
            try q.close()
            let migrations = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Migrations").path)
                .filter { $0.hasSuffix(".sql") }.count
            #expect(version == migrations, "\(f) was not upgraded to the latest schema")
            // The upgraded database works: its placed job is still placed, its user price kept.
            let jobs = try jsonArray(runPlan(["--db", db, "jobs", "--format", "json"]).stdout)
            #expect(jobs.first { $0["name"] as? String == "ft" }?["state"] as? String == "placed")
            let skus = try jsonArray(runPlan(["--db", db, "skus", "--format", "json"]).stdout)
            #expect(skus.first { $0["id"] as? String == "hgx-h100-8x" }?["user_price"] as? Int == 300_000)
            // Migration 0003 added fp4, and the reloaded seeds filled it for the seeded types.
            let gpus = try jsonArray(runPlan(["--db", db, "gpus", "--format", "json"]).stdout)
            #expect(gpus.first { $0["id"] as? String == "b200-192gb" }?["fp4"] as? Bool == true, "\(f)")
            #expect(gpus.first { $0["id"] as? String == "h100-sxm-80gb" }?["fp4"] as? Bool == false, "\(f)")
        }
    }

    func rowsByTable(_ path: String) throws -> [String: [[String: String]]] {
        let q = try DatabaseQueue(path: path)
        defer { try? q.close() }
        return try q.read { db in
            var out: [String: [[String: String]]] = [:]
            for t in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
                out[t] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(t)\"").map { row in
                    var d: [String: String] = [:]
                    for (col, v) in row { d[col] = v.description }
                    return d
                }
            }
            return out
        }
    }
}

/// The same fuzzing through the real binary (fewer runs: each is a process): it never dies from a
/// signal (a trap or crash), and any failure is one clean error line.
@Suite(.tags(.slow)) struct BinaryFuzzTests {
    @Test func randomArgumentsNeverKillTheProcess() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = dir.path("f.sqlite")
        #expect(runPlan(["--db", db, "add-server", "s", "--gpu", "h100", "--gpus", "8", "--count", "2"]).status == 0)
        let words = [
            "estimate", "place", "gaps", "job", "add", "import", "servers", "jobs", "--model", "llama-3-8b", "--mode", "train", "--gpus",
            "0", "-1", "99999999999999999999", "--gpu-memory", "80XB", "1e400", "--tp", "7", "--pp", "300", "--batch", "--seq",
            "--format", "json", "csv", "--dtype", "int3", "nf4", "--replicas", "--what-if", "--repack", "x", "名前", "--strategy", "zero3",
        ]
        var rng = SeededRandom(seed: 99)
        for _ in 0..<150 {
            var args: [String] = []
            for _ in 0..<Int.random(in: 1...8, using: &rng) { args.append(words.randomElement(using: &rng)!) }
            let r = runPlan(["--db", db] + args)
            #expect(!r.signaled, "\(args): killed by signal \(r.status)")
            if r.status != 0 {
                #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            }
        }
    }
}

extension Tag {
    /// Suites that take a minute or more (concurrency, kill -9, fuzzing through the binary); the
    /// quick loop in the README skips them.
    @Tag static var slow: Self
}
