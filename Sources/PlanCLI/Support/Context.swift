import ArgumentParser
import Foundation
import Inventory
import PlanModel
import Reports

/// Options every command accepts.
public struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The plan database (SQLite). Default: $PLAN_DB, else ${XDG_DATA_HOME:-$HOME/.local/share}/plan/plan.sqlite.",
            valueName: "path"))
    public var db: String?

    public init() {}
}

/// Options of commands that print data.
public struct FormatOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: table, json or csv. JSON and CSV sizes are integer bytes.")
    public var format: OutputFormat = .table

    public init() {}
}

extension OutputFormat: ExpressibleByArgument {}

/// `--format` of a command that also draws a page: table, json, csv or html.
public struct PageFormatOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: table, json, csv or html (one self-contained page). JSON and CSV sizes are integer bytes.")
    public var format: PageFormat?

    public init() {}
}

extension PageFormat: ExpressibleByArgument {}

/// Everything a command needs from the outside world, built once from the global options, so
/// tests can run commands in-process with captured output.
public final class Context: @unchecked Sendable {
    public let out: OutputSink
    public let err: OutputSink
    public let environment: [String: String]
    /// `--db` from the command line, if given.
    public var dbOverride: String?
    private var openedStore: PlanStore?
    private var foundResources: Resources?
    /// The temporary folder of a dry run's scratch database, removed on close.
    private var scratchDirectory: String?

    public init(out: OutputSink, err: OutputSink, environment: [String: String]) {
        self.out = out
        self.err = err
        self.environment = environment
    }

    /// The context of the running process: stdout, stderr and its environment.
    public static func process() -> Context {
        Context(
            out: OutputSink(fd: 1), err: OutputSink(fd: 2),
            environment: ProcessInfo.processInfo.environment)
    }

    /// Takes a `--db` from the command line, written before the command name or among its
    /// options (the later one wins): the one place that checks it. nil leaves the choice as is.
    func takeDatabaseOption(_ value: String?) throws(PlanError) {
        guard let value else { return }
        guard !value.isEmpty else { throw PlanError.usage("--db is empty; give the path of a database file such as ./plan.sqlite") }
        dbOverride = value
    }

    /// Where the database is: `--db`, then `PLAN_DB`, then the XDG data folder.
    public var databasePath: String {
        if let d = dbOverride, !d.isEmpty { return d }
        if let d = environment["PLAN_DB"], !d.isEmpty { return d }
        return defaultDatabasePath
    }

    var usesDefaultLocation: Bool {
        (dbOverride ?? "").isEmpty && (environment["PLAN_DB"] ?? "").isEmpty
    }

    /// The demo's own database, next to the default one.
    var demoDatabasePath: String {
        (defaultDatabasePath as NSString).deletingLastPathComponent + "/demo.sqlite"
    }

    var defaultDatabasePath: String {
        let base: String
        // The XDG base-directory spec: a relative XDG_DATA_HOME is invalid and is ignored.
        if let x = environment["XDG_DATA_HOME"], x.hasPrefix("/") {
            base = x
        } else {
            base = (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share"
        }
        return base + "/plan/plan.sqlite"
    }

    public func resources() throws -> Resources {
        if let r = foundResources { return r }
        let r = try Resources.locate(environment: environment)
        foundResources = r
        return r
    }

    /// The opened database, created and migrated on first use.
    ///
    /// `readOnly`: the command only reads, so a database file that cannot be written is opened
    /// read-only rather than refused.
    public func store(readOnly: Bool = false) throws -> PlanStore {
        if let s = openedStore {
            if !readOnly && !s.writable {
                throw PlanError("cannot write to database '\(s.path)': the file or its folder is read-only")
            }
            return s
        }
        let path = databasePath
        if usesDefaultLocation {
            let dir = (path as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let s = try PlanStore.open(path: path, resources: try resources(), readOnly: readOnly, busyTimeout: try busyTimeout())
        openedStore = s
        return s
    }

    /// A dry run on a database that does not exist yet: a fresh, seeded database in a temporary
    /// folder, removed when the process closes it, so that nothing appears where the command looked.
    public func storeForDryRun() throws -> PlanStore {
        if openedStore != nil || databaseExists { return try store() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plan-dry-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        scratchDirectory = dir
        let s = try PlanStore.open(path: dir + "/plan.sqlite", resources: try resources(), readOnly: false, busyTimeout: try busyTimeout())
        openedStore = s
        return s
    }

    /// Closes the database (checkpointing the WAL into the main file) before the process exits.
    public func close() {
        try? openedStore?.close()
        openedStore = nil
        if let d = scratchDirectory {
            try? FileManager.default.removeItem(atPath: d)
            scratchDirectory = nil
        }
    }

    /// `PLAN_BUSY_TIMEOUT`: seconds a write waits for another connection's transaction (default 60).
    func busyTimeout() throws -> TimeInterval {
        guard let text = environment["PLAN_BUSY_TIMEOUT"], !text.isEmpty else { return PlanStore.defaultBusyTimeout }
        guard let v = Double(text), v >= 0, v <= 86_400 else {
            throw PlanError.usage("invalid PLAN_BUSY_TIMEOUT '\(Names.escaped(text))'; expected seconds from 0 to 86400")
        }
        return v
    }

    /// Whether the command has committed a change to the database (so a failure to print its
    /// report must say the change was kept).
    public var savedChanges: Bool { openedStore?.savedChanges ?? false }

    /// Whether a database already exists where this command would look.
    public var databaseExists: Bool { FileManager.default.fileExists(atPath: databasePath) }
}

/// A command that runs with a `Context`.
public protocol PlanCommand: ParsableCommand {
    var global: GlobalOptions { get }
    func run(in ctx: Context) throws
}

extension PlanCommand {
    public func run() throws {
        let ctx = Context.process()
        try ctx.takeDatabaseOption(global.db)
        defer {
            ctx.out.flush()
            ctx.err.flush()
        }
        try run(in: ctx)
    }
}
