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

    /// How long a writer waits for another process's transaction before giving up, by default.
    public static let defaultBusyTimeout: TimeInterval = 60
    /// How long this store's writers wait.
    public let busyTimeout: TimeInterval

    /// Opens (creating if needed) the database at `path`, applies pending migrations and
    /// (re-)loads the catalog seeds when they changed, then checks that the schema is the one the
    /// migrations made and that no row breaks a foreign key.
    ///
    /// With `readOnly`, a file that cannot be written (its mode, or its folder) is opened
    /// read-only instead of refused: nothing is migrated or re-seeded, and a pending migration is
    /// an error that says so. Without it, such a file is refused.
    public static func open(
        path: String, resources: Resources, readOnly: Bool = false, busyTimeout: TimeInterval = defaultBusyTimeout
    ) throws -> PlanStore {
        let writable = try checkLocation(path, readOnly: readOnly)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.readonly = !writable
        // WAL lets readers and one writer work at once. Set it ourselves rather than with GRDB's
        // `.wal` option, which writes to the file on every open: a read-only command must not.
        if writable {
            config.prepareDatabase { db in
                if try String.fetchOne(db, sql: "PRAGMA journal_mode") != "wal" {
                    _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                }
            }
        }
        config.label = "plan"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw StoreError.open(path: path, error)
        }
        let store = PlanStore(queue: queue, path: path, resources: resources, writable: writable, busyTimeout: busyTimeout)
        try store.migrate()
        if writable { try store.seedIfNeeded() }
        try store.checkIntegrity()
        return store
    }

    /// Whether the file was opened for writing.
    public let writable: Bool
    /// Whether a write transaction of a command (not a migration or seeding) has been committed.
    public internal(set) var savedChanges = false

    init(
        queue: DatabaseQueue, path: String, resources: Resources, writable: Bool = true,
        busyTimeout: TimeInterval = defaultBusyTimeout
    ) {
        self.busyTimeout = busyTimeout
        self.queue = queue
        self.path = path
        self.resources = resources
        self.writable = writable
    }

    /// Refuses locations that cannot hold a database before SQLite touches them, so the message
    /// names the problem and nothing is created. Returns whether the database can be written.
    static func checkLocation(_ path: String, readOnly: Bool) throws -> Bool {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw StoreError.folderMissing(path: path, folder: dir)
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            guard fm.isWritableFile(atPath: dir) else {
                throw StoreError.folderNotWritable(path: path, folder: dir)
            }
            return true
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR:
            throw StoreError.isFolder(path: path)
        default:
            throw StoreError.notRegularFile(path: path, kind: FileKind.describe(st.st_mode))
        }
        guard fm.isReadableFile(atPath: path) else {
            throw StoreError.notReadable(path: path)
        }
        if let handle = FileHandle(forReadingAtPath: path) {
            let header = handle.readData(ofLength: 16)
            try? handle.close()
            if !header.isEmpty && header != Data("SQLite format 3\u{0}".utf8) {
                throw StoreError.notADatabase(path: path)
            }
        }
        let writable = fm.isWritableFile(atPath: path) && fm.isWritableFile(atPath: dir)
        if !writable && !readOnly {
            throw StoreError.notWritable(path: path, folder: dir, fileWritable: fm.isWritableFile(atPath: path))
        }
        return writable
    }

    /// Closes the connection; the last one out checkpoints the WAL into the database file.
    public func close() throws { try queue.close() }

    /// Runs `body` in one IMMEDIATE write transaction, mapping SQLite errors to sentences.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        let result = try maintenanceWrite(body)
        savedChanges = true
        return result
    }

    /// A write transaction that is not a command's change (migrating, seeding).
    func maintenanceWrite<T>(_ body: (Database) throws -> T) throws -> T {
        guard writable else {
            throw StoreError.openedReadOnly(path: path)
        }
        do {
            return try queue.write(body)
        } catch let error as DatabaseError {
            throw StoreError.map(error, path: path, waited: busyTimeout)
        }
    }

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch let error as DatabaseError {
            throw StoreError.map(error, path: path, waited: busyTimeout)
        }
    }
}

extension StoreError {
    /// SQLite's own text for an error it did not explain further.
    private static func detail(_ error: DatabaseError) -> String {
        error.message ?? "SQLite error \(error.resultCode.rawValue)"
    }

    static func open(path: String, _ error: DatabaseError) -> StoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return .notADatabase(path: path)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return .openDenied(path: path)
        case .SQLITE_CORRUPT:
            return .openCorrupt(path: path)
        default:
            return .openFailed(path: path, detail: detail(error))
        }
    }

    /// Turns a SQLite error into a sentence; constraint failures that reach here (the store checks
    /// inputs first) are described by the constraint's table and column.
    static func map(_ error: DatabaseError, path: String, waited: TimeInterval) -> StoreError {
        switch error.resultCode {
        case .SQLITE_CONSTRAINT:
            return .integrity(detail: error.message ?? "")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .locked(path: path, seconds: Int(waited))
        case .SQLITE_READONLY:
            return .readOnly(path: path)
        case .SQLITE_NOTADB:
            return .notADatabase(path: path)
        case .SQLITE_CORRUPT:
            return .corrupt(path: path)
        case .SQLITE_FULL:
            return .diskFull(path: path)
        default:
            return .sqlite(path: path, detail: detail(error))
        }
    }
}
