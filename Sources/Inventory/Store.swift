import Foundation
import GRDB
import PlanModel

/// The plan database: one SQLite file holding the catalogs, the fleet, jobs and placements.
///
/// Every write method keeps its invariant inside one IMMEDIATE transaction, so a failed or
/// interrupted command leaves the file exactly as it was. WAL journaling and a busy timeout let
/// several `plan` processes share the file without "database is locked" failures.
public final class PlanStore: @unchecked Sendable {
    let queue: DatabaseQueue
    public let path: String
    let resources: Resources

    /// How long a writer waits for another process's transaction before giving up.
    static let busyTimeout: TimeInterval = 60

    /// Opens (creating if needed) the database at `path`, applies pending migrations and
    /// (re-)loads the catalog seeds when they changed.
    public static func open(path: String, resources: Resources) throws -> PlanStore {
        try checkLocation(path)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        // WAL lets readers and one writer work at once. Set it ourselves rather than with GRDB's
        // `.wal` option, which writes to the file on every open: a read-only command must not.
        config.prepareDatabase { db in
            if try String.fetchOne(db, sql: "PRAGMA journal_mode") != "wal" {
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
        }
        config.label = "plan"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw StoreError.open(path: path, error)
        }
        let store = PlanStore(queue: queue, path: path, resources: resources)
        try store.migrate()
        try store.seedIfNeeded()
        return store
    }

    init(queue: DatabaseQueue, path: String, resources: Resources) {
        self.queue = queue
        self.path = path
        self.resources = resources
    }

    /// Refuses locations that cannot hold a database before SQLite touches them, so the message
    /// names the problem and nothing is created.
    static func checkLocation(_ path: String) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw StoreError("cannot open database '\(path)': the folder '\(dir)' does not exist; create it or pick another --db path")
        }
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue {
                throw StoreError("cannot open database '\(path)': it is a folder; give a file path such as '\(path)/plan.sqlite'")
            }
            guard fm.isReadableFile(atPath: path) else {
                throw StoreError("cannot open database '\(path)': permission denied (not readable)")
            }
            guard fm.isWritableFile(atPath: path) else {
                throw StoreError("cannot open database '\(path)': the file is read-only; plan needs to write to it")
            }
            if let handle = FileHandle(forReadingAtPath: path) {
                let header = handle.readData(ofLength: 16)
                try? handle.close()
                if !header.isEmpty && header != Data("SQLite format 3\u{0}".utf8) {
                    throw StoreError("cannot open database '\(path)': the file is not a plan (SQLite) database")
                }
            }
        } else if !fm.isWritableFile(atPath: dir) {
            throw StoreError("cannot create database '\(path)': the folder '\(dir)' is not writable")
        }
    }

    /// Closes the connection; the last one out checkpoints the WAL into the database file.
    public func close() throws { try queue.close() }

    /// Runs `body` in one IMMEDIATE write transaction, mapping SQLite errors to sentences.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.write(body)
        } catch let error as DatabaseError {
            throw StoreError.map(error, path: path)
        }
    }

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch let error as DatabaseError {
            throw StoreError.map(error, path: path)
        }
    }
}

extension StoreError {
    static func open(path: String, _ error: DatabaseError) -> StoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return StoreError("cannot open database '\(path)': the file is not a plan (SQLite) database")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return StoreError("cannot open database '\(path)': permission denied or the location is not writable")
        case .SQLITE_CORRUPT:
            return StoreError("cannot open database '\(path)': the file is damaged (SQLite reports corruption)")
        default:
            return StoreError("cannot open database '\(path)': \(error.message ?? "SQLite error \(error.resultCode.rawValue)")")
        }
    }

    /// Turns a SQLite error into a sentence; constraint failures that reach here (the store checks
    /// inputs first) are described by the constraint's table and column.
    static func map(_ error: DatabaseError, path: String) -> StoreError {
        switch error.resultCode {
        case .SQLITE_CONSTRAINT:
            let msg = error.message ?? ""
            return StoreError("the change was refused by the database's integrity rules (\(msg)); nothing was written")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError("the database '\(path)' stayed locked by another plan process for \(Int(PlanStore.busyTimeout)) s; nothing was written, try again")
        case .SQLITE_READONLY:
            return StoreError("cannot write to database '\(path)': the file or its folder is read-only")
        case .SQLITE_NOTADB:
            return StoreError("cannot open database '\(path)': the file is not a plan (SQLite) database")
        case .SQLITE_CORRUPT:
            return StoreError("database '\(path)' is damaged (SQLite reports corruption)")
        case .SQLITE_FULL:
            return StoreError("cannot write to database '\(path)': the disk is full; nothing was written")
        default:
            return StoreError("database '\(path)': \(error.message ?? "SQLite error \(error.resultCode.rawValue)")")
        }
    }
}
