import Foundation
import GRDB

/// A fresh temporary folder, removed by the caller with `cleanup()`.
public struct TempDir {
    public let url: URL
    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func write(_ name: String, _ text: String) -> String {
        let p = path(name)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }
    public func write(_ name: String, bytes: [UInt8]) -> String {
        let p = path(name)
        try! Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }
    public func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// The repository root (for Seeds/, Migrations/ and the built binary).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// What a run of the binary printed and returned.
public struct RunResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Whether the process died from a signal (a trap, a crash or a kill) rather than exiting.
    public var signaled: Bool = false

    public init(status: Int32, stdout: String, stderr: String, signaled: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.signaled = signaled
    }
}

/// The `plan` executable built next to this test bundle.
public func planBinary() -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent(),
        Bundle.main.bundleURL,
        repositoryRoot.appendingPathComponent(".build/debug"),
    ]
    for dir in candidates {
        let u = dir.appendingPathComponent("plan")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue { return u }
    }
    return repositoryRoot.appendingPathComponent(".build/debug/plan")
}

/// Runs the built `plan` binary with `args`, from `cwd` (default: a neutral folder), with a clean
/// environment plus `env`.
@discardableResult
public func runPlan(_ args: [String], env: [String: String] = [:], cwd: String? = nil, stdin: String? = nil) -> RunResult {
    var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
    for (k, v) in env { environment[k] = v }
    return runProcess(planBinary(), args, environment: environment, cwd: cwd ?? "/", stdin: stdin)
}

/// Runs `executable` with `args` and exactly `environment`, from `cwd`; returns what it printed.
public func runProcess(_ executable: URL, _ args: [String], environment: [String: String], cwd: String, stdin: String? = nil) -> RunResult {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    p.environment = environment
    p.currentDirectoryURL = URL(fileURLWithPath: cwd)
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    if let stdin {
        let inPipe = Pipe()
        p.standardInput = inPipe
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        try? inPipe.fileHandleForWriting.close()
    } else {
        p.standardInput = FileHandle.nullDevice
    }
    try! p.run()
    // Read both pipes concurrently so a large output cannot block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        outBox.data = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let outData = outBox.data
    p.waitUntilExit()
    return RunResult(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
}

/// The bytes of a file (empty when missing).
public func fileBytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

/// A logical dump of a database: every table's rows in primary-key order, plus the schema and
/// user_version. Two equal dumps mean the same content.
public func dumpDatabase(_ path: String) throws -> String {
    // A normal (not read-only) connection that only reads: closing it as the last connection
    // checkpoints and removes the WAL file, leaving the main file as the store left it.
    let q = try DatabaseQueue(path: path)
    defer { try? q.close() }
    return try q.read { db in
        var out = "user_version=\(try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0)\n"
        let tables = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        for t in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name") {
            out += t + "\n"
        }
        for t in tables {
            out += "-- \(t)\n"
            let columns = try db.columns(in: t).count
            let order = (1...max(1, min(columns, 2))).map(String.init).joined(separator: ", ")
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(t)\" ORDER BY \(order)") {
                out += row.description + "\n"
            }
        }
        return out
    }
}

/// How many rows of the database at `path` refer to a missing row (`PRAGMA foreign_key_check`).
public func foreignKeyViolations(_ path: String) throws -> Int {
    let q = try DatabaseQueue(path: path)
    defer { try? q.close() }
    return try q.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count }
}

/// A deterministic pseudo-random generator (SplitMix64) for property tests.
public struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
