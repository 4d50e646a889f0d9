import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Applies the SQL files in `Migrations/` (`0001_init.sql`, `0002_....sql`) in order, each once,
/// with GRDB's `DatabaseMigrator` (which records them in `grdb_migrations`).
///
/// The applied version is also `PRAGMA user_version` (cheap to read on every start-up) and each
/// migration is recorded in `schema_migrations`. A database from a newer `plan` is refused.
extension PlanStore {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    static func migrations(in resources: Resources) throws -> [Migration] {
        var result: [Migration] = []
        for name in resources.names(in: "Migrations") {
            guard let version = Int(name.prefix(while: { $0.isNumber })), version > 0 else { continue }
            guard let sql = resources.files["Migrations/" + name].flatMap({ String(data: $0, encoding: .utf8) }) else {
                throw StoreError.migrationUnreadable(name: name, origin: resources.origin)
            }
            result.append(Migration(version: version, name: name, sql: sql))
        }
        for (i, m) in result.enumerated() where m.version != i + 1 {
            throw StoreError.migrationNumbering(origin: resources.origin, found: m.name)
        }
        return result
    }

    /// The schema version recorded in the database.
    public func schemaVersion() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    func migrate() throws {
        let all = try Self.migrations(in: resources)
        // Both records in one read: another process's migration commits them together.
        let (current, recorded) = try read { db -> (Int, Int?) in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            guard try db.tableExists("schema_migrations") else { return (version, nil) }
            return (version, try Int.fetchOne(db, sql: "SELECT max(version) FROM schema_migrations"))
        }
        try refuseNewer(current, known: all.count)
        try checkRecordedVersion(current, recorded: recorded)
        guard current < all.count else { return }
        guard writable else {
            throw StoreError.schemaNeedsUpgradeReadOnly(path: path, version: current, target: all.count)
        }
        try Self.whileMigrating(path) {
            // Another process may have migrated while we waited for the lock.
            let now = try schemaVersion()
            try refuseNewer(now, known: all.count)
            guard now < all.count else { return }
            do {
                try maintenanceWrite { db in try Self.adoptRecordedMigrations(db, all) }
                try Self.migrator(all).migrate(queue)
            } catch let e as DatabaseError {
                let reached = (try? schemaVersion()) ?? now
                let failed = all.first { $0.version == reached + 1 }?.name ?? "?"
                if e.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
                    throw StoreError.migrationDangling(path: path, migration: failed)
                }
                throw StoreError.migrationDoesNotApply(path: path, version: reached, migration: failed, detail: e.message ?? "SQLite error")
            }
        }
    }

    /// GRDB's `DatabaseMigrator`, one migration per SQL file, each in its own transaction with
    /// deferred foreign-key checks. Each also writes plan's own records of the version
    /// (`schema_migrations` and `user_version`, cheap to read on every start-up), so a database is
    /// at one version or the next, never between.
    static func migrator(_ all: [Migration]) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for m in all {
            migrator.registerMigration(m.name) { db in
                try db.execute(
                    sql: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT")
                try db.execute(sql: m.sql)
                try db.execute(sql: "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", arguments: [m.version, m.name])
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
            }
        }
        return migrator
    }

    /// Databases made before plan used GRDB's migrator record their migrations only in
    /// `schema_migrations`; the migrator learns them from there, so they upgrade intact.
    static func adoptRecordedMigrations(_ db: Database, _ all: [Migration]) throws {
        guard try db.tableExists("schema_migrations"), try !db.tableExists("grdb_migrations") else { return }
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        for version in try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations ORDER BY version") {
            guard let m = all.first(where: { $0.version == version }) else { continue }
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [m.name])
        }
    }

    /// Runs `body` holding an exclusive `flock` on the database's folder. `DatabaseMigrator` reads
    /// which migrations are applied before it opens each migration's transaction, so two processes
    /// upgrading one file at once would both run the first pending migration; the lock makes the
    /// second wait and then find nothing to do. (The folder, not the file: closing a descriptor of
    /// the database file would drop SQLite's own POSIX locks on it.)
    static func whileMigrating(_ path: String, _ body: () throws -> Void) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = Glibc.open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return try body() }
        defer { Glibc.close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        try body()
    }

    /// `user_version` and `schema_migrations` are written together; when they disagree the file
    /// was edited by hand.
    private func checkRecordedVersion(_ version: Int, recorded: Int?) throws {
        guard version >= 0 else {
            throw StoreError.schemaVersionInvalid(path: path, version: version)
        }
        if let r = recorded, r != version {
            throw StoreError.migrationRecordDisagrees(path: path, version: version, recorded: r)
        }
        if recorded == nil && version > 0 {
            throw StoreError.migrationRecordMissing(path: path, version: version)
        }
    }

    /// Checks that every table, index and trigger the migrations create is there as they created
    /// it, and that no row already breaks a foreign key (possible only if the file was edited
    /// with foreign keys off). The expected schema comes from running the migrations on an
    /// in-memory database, so there is no second copy of it to keep in step.
    func checkIntegrity() throws {
        let all = try Self.migrations(in: resources)
        let expectedDB = try DatabaseQueue()
        try Self.migrator(all).migrate(expectedDB)
        let query = "SELECT type, name, tbl_name, ifnull(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name"
        func objects(_ db: Database) throws -> [String: (type: String, table: String, sql: String)] {
            var result: [String: (type: String, table: String, sql: String)] = [:]
            for row in try Row.fetchAll(db, sql: query) {
                result["\(row[0] as String) \(row[1] as String)"] = (row[0], row[2], row[3])
            }
            return result
        }
        let expected = try expectedDB.read(objects)
        let (actual, violations) = try read { db in
            (try objects(db), try Row.fetchAll(db, sql: "PRAGMA foreign_key_check"))
        }
        // Tables first, so a dropped table is named rather than its automatic index.
        let order = ["table": 0, "index": 1, "trigger": 2, "view": 3]
        func sortKey(_ k: String) -> (Int, String) { (order[String(k.split(separator: " ")[0])] ?? 9, k) }
        func name(_ k: String) -> String { String(k.split(separator: " ", maxSplits: 1)[1]) }
        for key in expected.keys.sorted(by: { sortKey($0) < sortKey($1) }) {
            let e = expected[key]!
            guard let a = actual[key] else {
                throw StoreError.schemaObjectMissing(path: path, kind: e.type, name: name(key), version: all.count)
            }
            if a.sql != e.sql {
                throw StoreError.schemaObjectChanged(path: path, kind: e.type, name: name(key), version: all.count)
            }
        }
        // A trigger or view added behind plan's back can change what a write does; refuse them.
        for key in actual.keys.sorted() where expected[key] == nil {
            let a = actual[key]!
            if a.type == "trigger" || a.type == "view" {
                throw StoreError.schemaObjectForeign(path: path, kind: a.type, name: name(key))
            }
        }
        if let first = violations.first {
            let table: String = first[0]
            let parent: String = first[2]
            let rowid: Int? = first[1]
            throw StoreError.danglingRows(path: path, count: violations.count, table: table, rowid: rowid, parent: parent)
        }
    }

    private func refuseNewer(_ version: Int, known: Int) throws {
        if version > known {
            throw StoreError.schemaNewer(path: path, version: version, known: known)
        }
    }
}
