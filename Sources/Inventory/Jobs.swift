import Foundation
import GRDB
import PlanModel


extension PlanStore {
    /// Adds jobs, all or none. Throws `RowError` naming the first bad one.
    public func addJobs(_ jobs: [NewJob]) throws {
        try write { db in
            var names = Set(try String.fetchAll(db, sql: "SELECT name FROM jobs"))
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (name, kind, mode, model_id, model_config_json, spec_json, replicas, priority, gpus,
                        gpu_memory_bytes, same_server, headroom, strategy, tp, pp, min_fabric)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let allow = try db.cachedStatement(sql: "INSERT OR IGNORE INTO job_gpu_types (job_id, gpu_type_id) VALUES (?, ?)")
            let gpuTypes = try Self.fetchGPUTypes(db)
            for (i, given) in jobs.enumerated() {
                var j = given
                do {
                    j.name = try Names.checked(j.name, .name("job name"))
                } catch let e as Names.Problem {
                    throw RowError(index: i, .invalidName(e))
                }
                guard Limits.priority.contains(j.priority) else {
                    throw RowError(index: i, .priorityOutOfRange(job: j.name, priority: j.priority, valid: Limits.priority))
                }
                if let c = j.modelConfig, c.encodedString().utf8.count > Limits.configBytes {
                    throw RowError(index: i, .modelConfigTooLarge(job: j.name, limit: Limits.configBytes))
                }
                guard !names.contains(j.name) else {
                    throw RowError(index: i, .duplicateJob(name: j.name))
                }
                names.insert(j.name)
                guard j.replicas >= 1, j.replicas <= 100_000 else {
                    throw RowError(index: i, .replicasOutOfRange(job: j.name, replicas: j.replicas))
                }
                var modelID: String?
                if let m = j.modelID {
                    modelID = try String.fetchOne(db, sql: "SELECT id FROM models WHERE id = ? COLLATE NOCASE", arguments: [m])
                    if modelID == nil {
                        modelID = try String.fetchOne(db, sql: "SELECT model_id FROM model_aliases WHERE alias = ?", arguments: [m])
                    }
                    guard modelID != nil else {
                        throw RowError(index: i, .unknownModel(model: m, job: j.name))
                    }
                }
                if let f = j.minFabric, FabricRequirement(parsing: f) == nil {
                    throw RowError(index: i, .unknownMinFabric(job: j.name, fabric: f))
                }
                var typeIDs: [String] = []
                for t in j.gpuTypes {
                    guard let id = GPUType.named(t, in: gpuTypes)?.id else {
                        throw RowError(index: i, .unknownJobGPUType(type: t, job: j.name, valid: gpuTypes.map(\.id)))
                    }
                    typeIDs.append(id)
                }
                try insert.execute(arguments: [
                    j.name, j.kind.rawValue, j.mode?.rawValue, modelID, j.modelConfig?.encodedString(), j.spec.encodedString(),
                    j.replicas, j.priority, j.gpus, j.gpuMemoryBytes, j.sameServer, j.headroom, j.strategy?.rawValue, j.tp, j.pp,
                    j.minFabric?.lowercased(),
                ])
                let id = db.lastInsertedRowID
                for t in typeIDs { try allow.execute(arguments: [id, t]) }
            }
        }
    }

    /// All jobs with their placements, in natural name order.
    public func jobs() throws -> [JobRecord] {
        try read { db in try Self.fetchJobs(db, path: path) }
    }

    /// Every job with its placements; `path` names the file when a stored label is unknown.
    static func fetchJobs(_ db: Database, path: String) throws -> [JobRecord] {
        // A stored label as its enum: a value plan never writes is an error, not a default.
        func label<T: RawRepresentable>(_ raw: String, _ table: String, _ column: String) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: raw) else {
                throw StoreError.unknownStoredValue(path: path, table: table, column: column, value: raw)
            }
            return value
        }
        var allowed: [Int: [String]] = [:]
        for a in try JobGPUTypeRow.order(JobGPUTypeRow.Columns.gpuTypeID).fetchAll(db) {
            allowed[a.jobID, default: []].append(a.gpuTypeID)
        }
        var placementGPUs: [Int: [PlacedGPURow]] = [:]
        for g in try PlacedGPURow.fetchAll(db, sql: PlacedGPURow.sql) {
            placementGPUs[g.placementID, default: []].append(g)
        }
        var placements: [Int: [PlacementRecord]] = [:]
        for p in try PlacementRow.order(PlacementRow.Columns.jobID, PlacementRow.Columns.replica).fetchAll(db) {
            let gpus = (placementGPUs[p.id] ?? []).sorted {
                naturalLess($0.server, $1.server) || ($0.server == $1.server && $0.index < $1.index)
            }
            var allocs: [(server: String, gpus: [Int])] = []
            for g in gpus {
                if allocs.last?.server == g.server { allocs[allocs.count - 1].gpus.append(g.index) } else { allocs.append((g.server, [g.index])) }
            }
            placements[p.jobID, default: []].append(
                PlacementRecord(
                    id: p.id, replica: p.replica, strategy: try label(p.strategy, "placements", "strategy"), tp: p.tp, pp: p.pp,
                    dp: p.dp, gpuType: p.gpuTypeID, perGPUBytes: p.perGPUBytes, hostBytes: p.hostBytes, allocations: allocs,
                    gpuIDs: gpus.map(\.gpuID)))
        }
        // Thousands of jobs share a handful of model configs and specs: parse each text once.
        var parsed: [String: JSONValue?] = [:]
        func json(_ s: String?) -> JSONValue? {
            guard let s else { return nil }
            if let hit = parsed[s] { return hit }
            let v = try? JSONValue.parse(Data(s.utf8))
            parsed[s] = v
            return v
        }
        var result = try JobWithCatalogRow.fetchAll(db, sql: JobWithCatalogRow.sql).map { row -> JobRecord in
            let r = row.job
            let job = NewJob(
                name: r.name, kind: try label(r.kind, "jobs", "kind"), mode: try r.mode.map { try label($0, "jobs", "mode") },
                modelID: r.modelID, modelConfig: json(r.modelConfigJSON), spec: json(r.specJSON) ?? .object([:]), replicas: r.replicas,
                priority: r.priority, gpus: r.gpus, gpuMemoryBytes: r.gpuMemoryBytes, sameServer: r.sameServer,
                gpuTypes: allowed[r.id] ?? [], headroom: r.headroom,
                strategy: try r.strategy.map { try label($0, "jobs", "strategy") }, tp: r.tp, pp: r.pp,
                minFabric: r.minFabric, pinned: r.pinned)
            return JobRecord(
                id: r.id, job: job, modelConfig: json(r.modelConfigJSON) ?? json(row.catalogConfigJSON), placements: placements[r.id] ?? [])
        }
        result.sort { naturalLess($0.name, $1.name) }
        return result
    }

    /// Removes a job; its GPUs become free.
    public func removeJob(named raw: String) throws {
        let name = Names.normalized(raw)
        try write { db in
            guard try Int.fetchOne(db, sql: "SELECT id FROM jobs WHERE name = ?", arguments: [name]) != nil else {
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? 0
                throw StoreError.unknownJob(name: name, known: count)
            }
            try db.execute(sql: "DELETE FROM jobs WHERE name = ?", arguments: [name])
        }
    }

    /// Marks a placed job as running work (`pinned`), or as a plan again; no planner moves a pinned job.
    public func setPinned(_ raw: String, _ pinned: Bool) throws {
        let name = Names.normalized(raw)
        try write { db in
            guard let id = try Int.fetchOne(db, sql: "SELECT id FROM jobs WHERE name = ?", arguments: [name]) else {
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? 0
                throw StoreError.unknownJob(name: name, known: count)
            }
            if pinned {
                let replicas = try Int.fetchOne(db, sql: "SELECT replicas FROM jobs WHERE id = ?", arguments: [id]) ?? 0
                let placed = try Int.fetchOne(db, sql: "SELECT count(*) FROM placements WHERE job_id = ?", arguments: [id]) ?? 0
                guard placed >= replicas else { throw StoreError.pinUnplaced(name: name, placed: placed, replicas: replicas) }
            }
            try db.execute(sql: "UPDATE jobs SET pinned = ? WHERE id = ?", arguments: [pinned, id])
        }
    }

    /// Unplaces the named jobs (all when `names` is nil); returns the names that held GPUs.
    public func unplace(names raw: [String]?) throws -> [String] {
        let names = raw?.map(Names.normalized)
        return try write { db in
            if let names {
                for n in names where try Int.fetchOne(db, sql: "SELECT id FROM jobs WHERE name = ?", arguments: [n]) == nil {
                    throw StoreError.unknownJob(name: n, known: nil)
                }
            }
            let held = try String.fetchAll(
                db, sql: "SELECT DISTINCT j.name FROM jobs j JOIN placements p ON p.job_id = j.id ORDER BY j.name")
            let pinned = Set(try String.fetchAll(db, sql: "SELECT name FROM jobs WHERE pinned = 1"))
            if let n = names?.first(where: { pinned.contains($0) }) { throw StoreError.pinnedJob(name: n) }
            // Unplacing everything leaves running (pinned) work where it is.
            let targets = names.map { Set($0) }
            let affected = held.filter { targets?.contains($0) ?? !pinned.contains($0) }
            for n in affected {
                try db.execute(sql: "DELETE FROM placements WHERE job_id = (SELECT id FROM jobs WHERE name = ?)", arguments: [n])
            }
            return affected.sorted(by: naturalLess)
        }
    }
}
