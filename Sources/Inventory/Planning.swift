import Foundation
import GRDB
import PlanModel

/// Everything the planner reads, from one consistent transaction.
public struct PlanningSnapshot: Sendable {
    public var servers: [ServerInfo]
    public var jobs: [JobRecord]
    public var catalog: CatalogSnapshot
}

/// A placement to write: a job's unit on specific GPUs.
public struct NewPlacement: Sendable, Equatable {
    public var job: String
    public var replica: Int
    public var strategy: String
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var gpuType: String
    public var perGPUBytes: Int
    public var hostBytes: Int
    /// Database ids of the GPUs (`GPUSlot.id`).
    public var gpuIDs: [Int]

    public init(
        job: String, replica: Int, strategy: String, tp: Int, pp: Int, dp: Int, gpuType: String, perGPUBytes: Int, hostBytes: Int,
        gpuIDs: [Int]
    ) {
        self.job = job
        self.replica = replica
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
        self.dp = dp
        self.gpuType = gpuType
        self.perGPUBytes = perGPUBytes
        self.hostBytes = hostBytes
        self.gpuIDs = gpuIDs
    }
}

/// What a planning run changes: placements to drop (by id, for a repack) and placements to add.
public struct PlanChanges: Sendable {
    public var remove: [Int]
    public var add: [NewPlacement]

    public init(remove: [Int] = [], add: [NewPlacement] = []) {
        self.remove = remove
        self.add = add
    }
}

extension PlanStore {
    /// Plans on a snapshot and, unless `dryRun`, writes the changes `body` computes from it.
    ///
    /// Planning (estimating every job, then the placement search) runs outside the write lock:
    /// `body` works on a snapshot read in one read transaction, and the changes are applied in one
    /// IMMEDIATE transaction only if no other connection has committed since that snapshot
    /// (`PRAGMA data_version`). Otherwise the run plans again on a fresh snapshot; after three
    /// tries it plans under the lock, so a busy fleet still gets its plan. Concurrent `plan`
    /// processes therefore never give a GPU twice (and `UNIQUE(gpu_id)` backs that up), and an
    /// interrupted run leaves the previous plan intact.
    public func plan<T>(dryRun: Bool, _ body: (PlanningSnapshot) throws -> (PlanChanges, T)) throws -> T {
        if dryRun {
            return try read { db in try body(try Self.snapshot(db)).1 }
        }
        for _ in 0..<3 {
            let (snap, version) = try read { db in (try Self.snapshot(db), try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0) }
            let (changes, result) = try body(snap)
            let applied = try maintenanceWrite { db -> Bool in
                guard try Int.fetchOne(db, sql: "PRAGMA data_version") == version else { return false }
                try Self.apply(changes, db)
                return true
            }
            if applied {
                savedChanges = true
                return result
            }
        }
        return try write { db in
            let (changes, result) = try body(try Self.snapshot(db))
            try Self.apply(changes, db)
            return result
        }
    }

    /// The planner's view, read inside a transaction.
    public func snapshot() throws -> PlanningSnapshot { try read { db in try Self.snapshot(db) } }

    static func snapshot(_ db: Database) throws -> PlanningSnapshot {
        PlanningSnapshot(
            servers: try fetchServers(db), jobs: try fetchJobs(db),
            catalog: CatalogSnapshot(gpus: try fetchGPUTypes(db), skus: try fetchSKUs(db), models: []))
    }

    static func apply(_ changes: PlanChanges, _ db: Database) throws {
        for id in changes.remove {
            try db.execute(sql: "DELETE FROM placements WHERE id = ?", arguments: [id])
        }
        guard !changes.add.isEmpty else { return }
        var jobIDs: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, id FROM jobs") { jobIDs[row[0]] = row[1] }
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO placements (job_id, replica, strategy, tp, pp, dp, gpu_type_id, per_gpu_bytes, host_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let hold = try db.cachedStatement(sql: "INSERT INTO placement_gpus (placement_id, gpu_id) VALUES (?, ?)")
        for p in changes.add {
            guard let job = jobIDs[p.job] else { throw StoreError("job '\(p.job)' disappeared while planning; run plan place again") }
            do {
                try insert.execute(arguments: [job, p.replica, p.strategy, p.tp, p.pp, p.dp, p.gpuType, p.perGPUBytes, p.hostBytes])
                let pid = db.lastInsertedRowID
                for g in p.gpuIDs { try hold.execute(arguments: [pid, g]) }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                throw StoreError("placing '\(p.job)' would give a GPU to two jobs or place a replica twice; nothing was written")
            }
        }
    }
}
