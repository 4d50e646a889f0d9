import Foundation
import GRDB

/// Applies the SQL files in `Migrations/` (`0001_init.sql`, `0002_....sql`) in order, each once.
///
/// The applied version is `PRAGMA user_version` (cheap to read on every start-up) and each
/// migration is also recorded in `schema_migrations`. A database from a newer `plan` is refused.
extension PlanStore {
    struct Migration {
        var version: Int
        var name: String
        var sql: String
    }

    static func migrations(in dir: URL) throws -> [Migration] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var result: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard let version = Int(name.prefix(while: { $0.isNumber })), version > 0 else { continue }
            guard let sql = try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8) else {
                throw StoreError("cannot read migration '\(name)' in '\(dir.path)'")
            }
            result.append(Migration(version: version, name: name, sql: sql))
        }
        for (i, m) in result.enumerated() where m.version != i + 1 {
            throw StoreError("migrations in '\(dir.path)' must be numbered 0001, 0002, ... without gaps; found '\(m.name)'")
        }
        return result
    }

    /// The schema version recorded in the database.
    public func schemaVersion() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    func migrate() throws {
        let all = try Self.migrations(in: resources.migrationsDirectory)
        let current = try schemaVersion()
        try refuseNewer(current, known: all.count)
        guard current < all.count else { return }
        try write { db in
            // Another process may have migrated while we waited for the write lock.
            let now = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            try refuseNewer(now, known: all.count)
            try db.execute(
                sql: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT")
            for m in all where m.version > now {
                try db.execute(sql: m.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", arguments: [m.version, m.name])
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
            }
            // A migration may rebuild tables; make sure it left no dangling reference behind.
            if try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") != nil {
                throw StoreError("migrating '\(path)' would leave dangling references; nothing was changed")
            }
        }
    }

    private func refuseNewer(_ version: Int, known: Int) throws {
        if version > known {
            throw StoreError(
                "database '\(path)' has schema version \(version), newer than this plan understands (up to \(known)); "
                    + "use a newer plan or another --db")
        }
    }
}
