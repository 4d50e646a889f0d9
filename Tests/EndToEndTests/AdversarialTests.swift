import Foundation
import GRDB
import Testing
import TestSupport

/// The findings of the adversarial test of the release binary (issue 9), one test per finding,
/// each through the real binary. Devices are made with mknod in a temp folder, never /dev.
@Suite struct AdversarialTests {
    static let isRoot = getuid() == 0

    /// Runs `script` with bash; `$PLAN` is the built binary and `$DB` the fleet's database.
    static func shell(_ script: String, _ f: Fleet) -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.environment = ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": f.dir.path("home"), "PLAN": planBinary().path, "DB": f.db]
        p.currentDirectoryURL = f.dir.url
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try! p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func mknod(_ path: String, major: Int, minor: Int) -> Bool {
        Glibc.mknod(path, S_IFCHR | 0o666, makedev(UInt32(major), UInt32(minor))) == 0
    }

    static func kind(_ path: String) -> mode_t {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        return st.st_mode & S_IFMT
    }

    static func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        dev_t((major & 0xfff) << 8) | dev_t(minor & 0xff) | (dev_t(minor & ~0xff) << 12) | (dev_t(major & ~0xfff) << 32)
    }

    /// A fleet with one pending job that needs a purchase, so `plan gaps` has a report to write.
    static func fleetWithGap() -> Fleet {
        let f = Fleet()
        ok(f.plan("add-server", "n1", "--gpu", "l4", "--gpus", "1"))
        ok(f.plan("job", "add", "big", "--gpus", "2", "--gpu-memory", "70GB", "--same-server"))
        return f
    }

    // MARK: 1. --output never replaces devices or FIFOs

    @Test func outputWritesThroughDevicesAndFIFOsAndFailsOnAFullDevice() throws {
        let f = Self.fleetWithGap()
        defer { f.dir.cleanup() }
        if Self.isRoot {
            let null = f.dir.path("null")
            let full = f.dir.path("full")
            #expect(Self.mknod(null, major: 1, minor: 3) && Self.mknod(full, major: 1, minor: 7))
            ok(f.plan("gaps", "--format", "csv", "--output", null))
            #expect(Self.kind(null) == S_IFCHR, "the device node was replaced")
            let r = f.plan("gaps", "--format", "csv", "--output", full)
            #expect(r.status == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains("No space left"), "\(r.stderr)")
            #expect(Self.kind(full) == S_IFCHR)
        }
        // A FIFO: the reader gets the report, and the FIFO stays a FIFO.
        let fifo = f.dir.path("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let r = Self.shell(#"cat pipe > got.csv & "$PLAN" --db "$DB" gaps --format csv --output pipe; s=$?; wait; exit $s"#, f)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(String(decoding: fileBytes(f.dir.path("got.csv")), as: UTF8.self).hasPrefix("server_sku,"))
        #expect(Self.kind(fifo) == S_IFIFO)
        // A symbolic link to a file: the target is replaced, the link kept.
        let target = f.dir.write("target.csv", "old")
        #expect(symlink(target, f.dir.path("link.csv")) == 0)
        ok(f.plan("gaps", "--format", "csv", "--output", f.dir.path("link.csv")))
        #expect(Self.kind(f.dir.path("link.csv")) == S_IFLNK)
        #expect(String(decoding: fileBytes(target), as: UTF8.self).hasPrefix("server_sku,"))
        // A link to a file not yet there: the file is created where it points, the link kept.
        #expect(symlink(f.dir.path("later.csv"), f.dir.path("dangling.csv")) == 0)
        ok(f.plan("gaps", "--format", "csv", "--output", f.dir.path("dangling.csv")))
        #expect(Self.kind(f.dir.path("dangling.csv")) == S_IFLNK && Self.kind(f.dir.path("later.csv")) == S_IFREG)
        // Replacing a private file keeps it private.
        let secret = f.dir.write("secret.csv", "old")
        #expect(chmod(secret, 0o600) == 0)
        ok(f.plan("gaps", "--format", "csv", "--output", secret))
        var st = stat()
        #expect(stat(secret, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    // MARK: 2. --output pointed at the database

    @Test func outputThatIsTheDatabaseOrItsSideFilesIsRefused() throws {
        let f = Self.fleetWithGap()
        defer { f.dir.cleanup() }
        try FileManager.default.createDirectory(atPath: f.dir.path("sub"), withIntermediateDirectories: true)
        #expect(symlink(f.db, f.dir.path("alias.sqlite")) == 0)
        for out in [f.db, f.dir.path("sub/../plan.sqlite"), f.dir.path("alias.sqlite"), f.db + "-wal", f.db + "-shm"] {
            try f.expectRejected(["gaps", "--format", "csv", "--output", out], mentioning: "database")
        }
        // Relative paths from another working directory resolve the same way.
        let r = Self.shell(#"cd sub && "$PLAN" --db ../plan.sqlite gaps --format csv --output ./../plan.sqlite"#, f)
        #expect(r.status != 0 && r.stderr.contains("is the database"), "\(r.stderr)")
        ok(f.plan("servers"))
    }

    // MARK: 3. A failed write to stdout

    @Test func aFailedWriteToStandardOutputIsOneLineAndSaysTheChangeWasSaved() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("init"))
        if Self.isRoot {
            #expect(Self.mknod(f.dir.path("full"), major: 1, minor: 7))
            let r = Self.shell(#""$PLAN" --db "$DB" add-server n1 --gpu l4 --gpus 1 > full"#, f)
            #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains("saved"), "\(r.stderr)")
            #expect(try jsonArray(f.plan("servers", "--format", "json").stdout).count == 1)
            ok(f.plan("job", "add", "j", "--gpus", "1", "--gpu-memory", "1GB"))
            let p = Self.shell(#""$PLAN" --db "$DB" place > full"#, f)
            #expect(p.status == 1 && p.stderr.contains("saved") && p.stderr.split(separator: "\n").count == 1, "\(p.stderr)")
            // A read-only command that cannot print says nothing about a saved change.
            let s = Self.shell(#""$PLAN" --db "$DB" servers > full"#, f)
            #expect(s.status == 1 && !s.stderr.contains("saved") && s.stderr.contains("No space left"), "\(s.stderr)")
        }
        // A closed pipe with SIGPIPE ignored: one error line, no backtrace, non-zero.
        ok(f.plan("add-server", "many", "--gpu", "l4", "--gpus", "8", "--count", "3000"))
        let r = Self.shell(#"trap '' PIPE; "$PLAN" --db "$DB" servers --format json 2>err.txt | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}""#, f)
        let err = String(decoding: fileBytes(f.dir.path("err.txt")), as: UTF8.self)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "exit: \(r.stdout) \(err)")
        #expect(err.hasPrefix("error: cannot write to standard output") && err.split(separator: "\n").count == 1, "\(err)")
    }

    // MARK: 4. A tampered schema

    @Test func aTamperedSchemaIsRefusedBeforeAnyWrite() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n1", "--gpu", "l4", "--gpus", "1"))
        let q = try DatabaseQueue(path: f.db)
        try q.writeWithoutTransaction { try $0.execute(sql: "DROP TABLE placement_gpus") }
        try q.close()
        try f.expectRejected(["add-server", "zz", "--gpu", "l4", "--gpus", "1"], mentioning: "placement_gpus")
        try f.expectRejected(["servers"], mentioning: "placement_gpus")

        // user_version set back: the migration does not apply; the message says what happened.
        let g = Fleet()
        defer { g.dir.cleanup() }
        ok(g.plan("init"))
        let migrations = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Migrations").path)
            .filter { $0.hasSuffix(".sql") }.count
        for (version, needle) in [(1, "migration record says \(migrations)"), (-3, "invalid schema version -3")] {
            let q2 = try DatabaseQueue(path: g.db)
            try q2.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = \(version)") }
            try q2.close()
            try g.expectRejected(["servers"], mentioning: needle)
        }

        // A dangling reference written with foreign keys off is reported.
        let h = Fleet()
        defer { h.dir.cleanup() }
        ok(h.plan("add-server", "n1", "--gpu", "l4", "--gpus", "1"))
        var config = Configuration()
        config.foreignKeysEnabled = false
        let q3 = try DatabaseQueue(path: h.db, configuration: config)
        try q3.write { try $0.execute(sql: "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) VALUES (999, 0, 'l4-24gb', 1)") }
        try q3.close()
        try h.expectRejected(["servers"], mentioning: "refer to missing rows")

        // A trigger added behind plan's back would change what a write does.
        let t = Fleet()
        defer { t.dir.cleanup() }
        ok(t.plan("add-server", "n1", "--gpu", "l4", "--gpus", "1"))
        let q4 = try DatabaseQueue(path: t.db)
        try q4.writeWithoutTransaction { try $0.execute(sql: "CREATE TRIGGER tr AFTER INSERT ON servers BEGIN DELETE FROM gpus; END") }
        try q4.close()
        try t.expectRejected(["add-server", "zz", "--gpu", "l4", "--gpus", "1"], mentioning: "trigger 'tr'")
    }

    // MARK: 5. CSV formula injection

    @Test func csvCellsThatASpreadsheetWouldRunAreNeutralised() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let evil = #"=HYPERLINK("http://evil.example/x","Click")"#
        ok(f.plan("job", "add", evil, "--gpus", "1", "--gpu-memory", "20GB"))
        ok(f.plan("job", "add", "@SUM(A1)", "--gpus", "1", "--gpu-memory", "20GB"))
        ok(f.plan("add-server", "+cmd|calc", "--gpu", "l4", "--gpus", "1", "--site=-2+3"))
        let gaps = f.plan("gaps", "--format", "csv").stdout
        #expect(gaps.contains(#""'=HYPERLINK(""http://evil.example/x"",""Click"")"#) || gaps.contains("'@SUM(A1)"), "\(gaps)")
        for line in gaps.split(separator: "\r\n") {
            for cell in line.split(separator: ",") {
                let c = cell.hasPrefix("\"") ? cell.dropFirst() : cell
                #expect(!(c.first.map { "=+@".contains($0) } ?? false), "live formula cell: \(cell)")
            }
        }
        let jobs = f.plan("jobs", "--format", "csv").stdout
        #expect(jobs.contains("\"'=HYPERLINK(") && jobs.contains("'@SUM(A1)"), "\(jobs)")
        let servers = f.plan("servers", "--format", "csv").stdout
        #expect(servers.contains("'+cmd|calc") && servers.contains("'-2+3"), "\(servers)")
        // Numbers stay numbers; JSON keeps the exact names.
        #expect(!servers.contains("'24"))
        let names = try jsonArray(f.plan("jobs", "--format", "json").stdout).map { $0["name"] as! String }
        #expect(names.contains(evil) && names.contains("@SUM(A1)"))
    }

    // MARK: 6 and 7. Control characters and NUL in names

    @Test func controlCharactersAndNULAreRefusedOnEveryWayIn() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "ok", "--gpu", "l4", "--gpus", "1"))
        for bad in [
            "a\u{1B}]0;owned\u{07}", "b\u{08}x", "c\rd", "two\nlines", "tab\there", "bidi\u{202E}txt", "c1\u{9B}x",
            "zero\u{200B}width", "rlm\u{200F}x", "bom\u{FEFF}x", "tag\u{E0001}x",
        ] {
            try f.expectRejected(["add-server", bad, "--gpu", "l4", "--gpus", "1"], mentioning: "control character")
            try f.expectRejected(["job", "add", bad, "--gpus", "1", "--gpu-memory", "1GB"], mentioning: "control character")
            try f.expectRejected(["add-server", "x", "--gpu", "l4", "--gpus", "1", "--rack", bad], mentioning: "rack")
        }
        // CSV and JSON imports name the line; NUL included (it used to be cut off silently).
        let csv = f.dir.write("s.csv", "name,gpu,gpus\ngood,l4,1\nev\u{1B}[2Jil,l4,1\n")
        try f.expectRejected(["import", "servers", csv], mentioning: "line 3")
        let nul = f.dir.write("nul.csv", bytes: Array("name,gpu,gpus\nx".utf8) + [0] + Array("a,l4,1\nx".utf8) + [0] + Array("b,l4,1\n".utf8))
        try f.expectRejected(["import", "servers", nul], mentioning: "line 2")
        let json = f.dir.write("s.json", #"[{"name": "fine", "gpu": "l4", "gpus": 1}, {"name": "n\u0000ul", "gpu": "l4", "gpus": 1}]"#)
        try f.expectRejected(["import", "servers", json], mentioning: "item 2")
        let jobs = f.dir.write("j.csv", bytes: Array("name,gpus,gpu_memory\nj".utf8) + [0] + Array("1,1,1GB\n".utf8))
        try f.expectRejected(["import", "jobs", jobs], mentioning: "line 2")
        let jobsJSON = f.dir.write("j.json", #"[{"name": "esc\u001b[31m", "gpus": 1, "gpu_memory": "1GB"}]"#)
        try f.expectRejected(["import", "jobs", jobsJSON], mentioning: "item 1")
    }

    @Test func unprintableTextIsEscapedOnOutput() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "ok", "--gpu", "l4", "--gpus", "1"))
        // A name stored by an older plan, before names were checked.
        let q = try DatabaseQueue(path: f.db)
        try q.write { try $0.execute(sql: "UPDATE servers SET name = ?, site = ? WHERE name = 'ok'", arguments: ["old\u{1B}]0;x\u{07}", "s\u{08}"]) }
        try q.close()
        let table = f.plan("servers")
        #expect(table.status == 0)
        #expect(!table.stdout.contains("\u{1B}") && !table.stdout.contains("\u{07}") && !table.stdout.contains("\u{08}"))
        #expect(table.stdout.contains("old\\u{1B}]0;x\\u{7}"), "\(table.stdout)")
        let csv = f.plan("servers", "--format", "csv").stdout
        #expect(!csv.contains("\u{1B}"))
        let json = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(json.first?["name"] as? String == "old\u{1B}]0;x\u{07}")
        // Error messages escape what the user typed, too.
        let r = f.plan("remove-server", "\u{1B}[2J")
        #expect(r.status == 1 && !r.stderr.contains("\u{1B}") && r.stderr.contains("\\u{1B}[2J"), "\(r.stderr)")
    }

    // MARK: 8. Unicode forms

    @Test func namesAreOneNameInEveryUnicodeForm() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let nfc = "j\u{E9}"
        let nfd = "je\u{301}"
        ok(f.plan("add-server", nfc, "--gpu", "l4", "--gpus", "2"))
        try f.expectRejected(["add-server", nfd, "--gpu", "l4", "--gpus", "1"], mentioning: "already exists")
        ok(f.plan("job", "add", nfd, "--gpus", "1", "--gpu-memory", "1GB"))
        try f.expectRejected(["job", "add", nfc, "--gpus", "1", "--gpu-memory", "1GB"], mentioning: "already exists")
        ok(f.plan("place", "--job", nfc))
        ok(f.plan("unplace", "--job", nfd))
        ok(f.plan("place", "--job", nfd))
        let stored = try jsonArray(f.plan("jobs", "--format", "json").stdout).map { $0["name"] as! String }
        #expect(stored.count == 1 && Array(stored[0].unicodeScalars) == Array(nfc.unicodeScalars), "stored in NFC")
        ok(f.plan("job", "remove", nfc))
        ok(f.plan("remove-server", nfd))
        #expect(try jsonArray(f.plan("servers", "--format", "json").stdout).isEmpty)
        // Imports normalise the same way.
        let csv = f.dir.write("s.csv", "name,gpu,gpus\n\(nfc),l4,1\n\(nfd),l4,1\n")
        try f.expectRejected(["import", "servers", csv], mentioning: "line 3")
    }

    // MARK: 9. One limit per field

    @Test func limitsAreTheSameOnEveryWayIn() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("init"))
        let long = String(repeating: "j", count: 257)
        try f.expectRejected(["job", "add", long, "--gpus", "1", "--gpu-memory", "1GB"], mentioning: "256 bytes")
        try f.expectRejected(["add-server", long, "--gpu", "l4", "--gpus", "1"], mentioning: "256 bytes")
        let longCSV = f.dir.write("j.csv", "name,gpus,gpu_memory\n\(long),1,1GB\n")
        try f.expectRejected(["import", "jobs", longCSV], mentioning: "256 bytes")
        try f.expectRejected(["job", "add", "p", "--gpus", "1", "--gpu-memory", "1GB", "--priority", "9223372036854775807"], mentioning: "--priority")
        try f.expectRejected(["job", "add", "p", "--gpus", "1", "--gpu-memory", "1GB", "--priority", "1000001"], mentioning: "1000000")
        let prioCSV = f.dir.write("p.csv", "name,gpus,gpu_memory,priority\np,1,1GB,1000001\n")
        try f.expectRejected(["import", "jobs", prioCSV], mentioning: "priority")
        ok(f.plan("job", "add", "p-max", "--gpus", "1", "--gpu-memory", "1GB", "--priority", "1000000"))
        ok(f.plan("job", "add", "p-min", "--gpus", "1", "--gpu-memory", "1GB", "--priority", "-1000000"))
        // A huge config.json is refused before it is read or stored.
        let big = f.dir.path("big.json")
        var text = #"{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "pad": ""#
        text += String(repeating: "x", count: 2 << 20) + "\"}"
        try Data(text.utf8).write(to: URL(fileURLWithPath: big))
        try f.expectRejected(["models", "add", "--config", big, "--id", "big"], mentioning: "bytes")
        try f.expectRejected(["job", "add", "b", "--model", big, "--mode", "infer"], mentioning: "bytes")
    }

    // MARK: 10. Read-only databases and estimate without one

    @Test func readOnlyDatabasesServeReadOnlyCommandsAndEstimateNeedsNone() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n1", "--gpu", "l4", "--gpus", "1"))
        ok(f.plan("job", "add", "j", "--gpus", "1", "--gpu-memory", "1GB"))
        func chattr(_ flag: String) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            p.arguments = [flag, f.db]
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
        if Self.isRoot, chattr("+i") {
            defer { _ = chattr("-i") }
            let before = fileBytes(f.db)
            for args in [["servers"], ["jobs", "--format", "json"], ["capacity"], ["gaps"], ["gpus"], ["place", "--dry-run"],
                         ["estimate", "--model", "llama-3-8b"]] {
                let r = f.plan(args)
                #expect(r.status == 0, "\(args): \(r.stderr)")
            }
            let w = f.plan("add-server", "n2", "--gpu", "l4", "--gpus", "1")
            #expect(w.status == 1 && w.stderr.contains("read-only"), "\(w.stderr)")
            #expect(fileBytes(f.db) == before)
        }
        // estimate never requires the database: a damaged one is reported and the seeds used.
        let junk = f.dir.write("junk.sqlite", "this is not a database")
        let e = runPlan(["--db", junk, "estimate", "--model", "llama-3-8b", "--format", "json"])
        #expect(e.status == 0 && e.stderr.hasPrefix("warning: "), "\(e.stderr)")
        #expect(try jsonObject(e.stdout)["per_gpu"] != nil)
        // ... and a missing one is not created.
        let none = f.dir.path("none.sqlite")
        ok(runPlan(["--db", none, "estimate", "--model", "llama-3-8b"]))
        #expect(!FileManager.default.fileExists(atPath: none))
    }

    // MARK: 11. Messages

    @Test func messagesNameWhatTheUserGave() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n1", "--gpu", "h100-sxm-80gb", "--gpus", "1"))
        func err(_ args: [String]) -> String {
            let r = f.plan(args)
            #expect(r.status != 0 && r.stderr.hasPrefix("error: "), "\(args): \(r.stderr)")
            return r.stderr
        }
        let tp = err(["estimate", "--model", "llama-3-8b", "--gpus", "64"])
        #expect(tp.contains("--gpus 64") && !tp.contains("--tp 64"), "\(tp)")
        let h = err(["estimate", "--model", "llama-3-8b", "--headroom", "-1"])
        #expect(h.contains("--headroom") && !h.contains("Missing value"), "\(h)")
        let both = err(["unplace", "--all", "--job", "x"])
        #expect(both.contains("not both"), "\(both)")
        let fifo = f.dir.path("cfg.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let fm = err(["estimate", "--model", fifo])
        #expect(fm.contains("FIFO") && !fm.contains("permission"), "\(fm)")
        if Self.isRoot {
            let zero = f.dir.path("zero")
            #expect(Self.mknod(zero, major: 1, minor: 5))
            let z = err(["estimate", "--model", zero])
            #expect(z.contains("character device"), "\(z)")
        }
        #expect(symlink(f.dir.path("loop-b"), f.dir.path("loop-a")) == 0 && symlink(f.dir.path("loop-a"), f.dir.path("loop-b")) == 0)
        let loop = err(["estimate", "--model", f.dir.path("loop-a")])
        #expect(loop.contains("symbolic links") && !loop.contains("unknown model"), "\(loop)")
        let obj = f.dir.write("obj.json", #"{"name": "a", "gpu": "l4", "gpus": 1}"#)
        let o = err(["import", "servers", obj])
        #expect(o.contains("JSON object") && !o.contains("quote"), "\(o)")
        // "needs >= X; the largest has X": the two sizes differ when printed.
        // h100-sxm-80gb has 85,520,809,984 bytes (79.65 GiB); this job needs 1,000 bytes more.
        ok(f.plan("job", "add", "tight", "--gpus", "1", "--gpu-memory", "85520810984"))
        let gaps = f.plan("place", "--format", "json").stdout
        let reason = (try jsonObject(gaps)["unplaced"] as? [[String: Any]])?.first?["reason"] as? String ?? ""
        let sizes = reason.components(separatedBy: " GiB").count
        #expect(!reason.isEmpty && (sizes < 3 || reason.contains("bytes")), "\(reason)")
        #expect(!reason.contains("1 GPUs"), "\(reason)")
        // Any program can hold the lock; the message does not blame another plan.
        let holder = try DatabaseQueue(path: f.db)
        var locked = RunResult(status: 0, stdout: "", stderr: "")
        try holder.inTransaction(.immediate) { _ in
            locked = runPlan(["--db", f.db, "add-server", "n2", "--gpu", "l4", "--gpus", "1"], env: ["PLAN_BUSY_TIMEOUT": "0.2"])
            return .rollback
        }
        try holder.close()
        #expect(locked.status == 1 && locked.stderr.contains("another connection") && !locked.stderr.contains("another plan process"), "\(locked.stderr)")
    }

    // MARK: 12. Lenient input

    @Test func lenientInputIsRefused() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("init"))
        let dup = f.dir.write("dup.json", #"[{"name": "a", "gpu": "l4", "gpus": 1, "gpus": 8}]"#)
        try f.expectRejected(["import", "servers", dup], mentioning: "twice")
        let trailing = f.dir.write("trail.json", #"[{"name": "a", "gpu": "l4", "gpus": 1,}]"#)
        try f.expectRejected(["import", "servers", trailing], mentioning: "trailing comma")
        let trailingArray = f.dir.write("trail2.json", #"[{"name": "a", "gpu": "l4", "gpus": 1},]"#)
        try f.expectRejected(["import", "servers", trailingArray], mentioning: "trailing comma")
        let cfg = f.dir.write("dup-config.json", #"{"vocab_size": 1000, "hidden_size": 64, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#)
        try f.expectRejected(["models", "add", "--config", cfg, "--id", "d"], mentioning: "twice")
        try f.expectRejected(["add-server", " ", "--gpu", "l4", "--gpus", "1"], mentioning: "white space")
        try f.expectRejected(["add-server", "x", "--gpu", "l4", "--gpus", "1", "--host-memory", "0.5"], mentioning: "'0.5'")
        // Invalid UTF-8 on the command line.
        let bad = Self.shell(#""$PLAN" --db "$DB" add-server "$(printf 'bad\xff')" --gpu l4 --gpus 1"#, f)
        #expect(bad.status == 64 && bad.stderr.contains("not valid UTF-8"), "\(bad.stderr)")
        #expect(try jsonArray(f.plan("servers", "--format", "json").stdout).isEmpty)
        // A relative XDG_DATA_HOME is ignored (the XDG base-directory spec).
        let home = f.dir.path("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        ok(runPlan(["servers"], env: ["HOME": home, "XDG_DATA_HOME": "rel/data"], cwd: f.dir.path("")))
        #expect(FileManager.default.fileExists(atPath: home + "/.local/share/plan/plan.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: f.dir.path("rel")))
        // A device as the database is refused and nothing is created next to it.
        if Self.isRoot {
            let dev = f.dir.path("devnull")
            #expect(Self.mknod(dev, major: 1, minor: 3))
            let r = runPlan(["--db", dev, "servers"])
            #expect(r.status == 1 && r.stderr.contains("character device"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dev + "-journal") && !FileManager.default.fileExists(atPath: dev + "-wal"))
        }
    }

    // MARK: 13. The demo has its own database

    @Test func theDemoNeverWritesIntoTheDefaultInventory() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let data = dir.path("data")
        let real = dir.path("real.sqlite")
        ok(runPlan(["--db", real, "add-server", "prod-1", "--gpu", "l4", "--gpus", "1"]))
        let before = try dumpDatabase(real)
        let r = runPlan(["demo"], env: ["XDG_DATA_HOME": data, "PLAN_DB": real])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(data + "/plan/demo.sqlite"), "the demo says where its database is")
        #expect(try dumpDatabase(real) == before)
        #expect(!FileManager.default.fileExists(atPath: data + "/plan/plan.sqlite"))
        let servers = try jsonArray(runPlan(["--db", data + "/plan/demo.sqlite", "servers", "--format", "json"]).stdout)
        #expect(servers.count == 5 && servers.allSatisfy { ($0["name"] as! String).hasPrefix("demo-") })
    }
}
