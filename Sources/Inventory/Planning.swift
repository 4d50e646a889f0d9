import Foundation
import GRDB
import PlanModel


extension PlanStore: InventoryStore {
    public func versionedSnapshot() throws -> (snapshot: PlanningSnapshot, version: Int) {
        try read { db in (try Self.snapshot(db, path: path), try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0) }
    }

    /// `PRAGMA data_version` changes when another connection commits, so an unchanged value means the
    /// snapshot the changes were computed on is still the database's state.
    public func apply(_ changes: PlanChanges, ifUnchangedSince version: Int) throws -> Bool {
        let applied = try maintenanceWrite { db -> Bool in
            guard try Int.fetchOne(db, sql: "PRAGMA data_version") == version else { return false }
            try Self.apply(changes, db)
            return true
        }
        if applied { savedChanges = true }
        return applied
    }

    public func applyLocked<T>(_ body: (PlanningSnapshot) throws -> (PlanChanges, T)) throws -> T {
        let result = try write { db in
            let (changes, result) = try body(try Self.snapshot(db, path: path))
            try Self.apply(changes, db)
            return result
        }
        return result
    }

    /// The planner's view, read inside a transaction.
    public func snapshot() throws -> PlanningSnapshot { try read { db in try Self.snapshot(db, path: path) } }

    static func snapshot(_ db: Database, path: String) throws -> PlanningSnapshot {
        PlanningSnapshot(
            servers: try fetchServers(db), jobs: try fetchJobs(db, path: path),
            catalog: CatalogSnapshot(gpus: try fetchGPUTypes(db), skus: try fetchSKUs(db), models: []))
    }

    static func apply(_ changes: PlanChanges, _ db: Database) throws {
        for id in changes.remove {
            try db.execute(sql: "DELETE FROM placements WHERE id = ?", arguments: [id])
        }
        for (job, n) in changes.replicas.sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "UPDATE jobs SET replicas = ? WHERE name = ?", arguments: [n, job])
        }
        guard !changes.add.isEmpty else { return }
        var jobIDs: [String: Int] = [:]
        // The two selected columns, by position.
        for row in try Row.fetchAll(db, JobRow.select(JobRow.Columns.name, JobRow.Columns.id)) { jobIDs[row[0]] = row[1] }
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO placements (job_id, replica, strategy, tp, pp, dp, gpu_type_id, per_gpu_bytes, host_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let hold = try db.cachedStatement(sql: "INSERT INTO placement_gpus (placement_id, gpu_id) VALUES (?, ?)")
        for p in changes.add {
            guard let job = jobIDs[p.job] else { throw StoreError.jobDisappeared(job: p.job) }
            do {
                try insert.execute(arguments: [job, p.replica, p.strategy.rawValue, p.tp, p.pp, p.dp, p.gpuType, p.perGPUBytes, p.hostBytes])
                let pid = db.lastInsertedRowID
                for g in p.gpuIDs { try hold.execute(arguments: [pid, g]) }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError.placementConflict(job: p.job)
            }
        }
    }
}
