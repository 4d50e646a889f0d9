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
                        gpu_memory_bytes, same_server, headroom, strategy, tp, pp)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let allow = try db.cachedStatement(sql: "INSERT OR IGNORE INTO job_gpu_types (job_id, gpu_type_id) VALUES (?, ?)")
            let gpuTypes = try Self.fetchGPUTypes(db)
            for (i, given) in jobs.enumerated() {
                var j = given
                do {
                    j.name = try Names.checked(j.name, .name("job name"))
                } catch let e as Names.Problem {
                    throw RowError(index: i, message: e.message)
                }
                guard Limits.priority.contains(j.priority) else {
                    throw RowError(
                        index: i,
                        message: "invalid priority \(j.priority) for job '\(j.name)'; expected a whole number from \(Limits.priority.lowerBound) to \(Limits.priority.upperBound)")
                }
                if let c = j.modelConfig, c.encodedString().utf8.count > Limits.configBytes {
                    throw RowError(index: i, message: "the model config of job '\(j.name)' is larger than \(Limits.configBytes) bytes")
                }
                guard !names.contains(j.name) else {
                    throw RowError(index: i, message: "a job named '\(j.name)' already exists; choose another name or remove it first")
                }
                names.insert(j.name)
                guard j.replicas >= 1, j.replicas <= 100_000 else {
                    throw RowError(index: i, message: "invalid replicas \(j.replicas) for job '\(j.name)'; expected 1 to 100000")
                }
                var modelID: String?
                if let m = j.modelID {
                    modelID = try String.fetchOne(db, sql: "SELECT id FROM models WHERE id = ? COLLATE NOCASE", arguments: [m])
                    if modelID == nil {
                        modelID = try String.fetchOne(db, sql: "SELECT model_id FROM model_aliases WHERE alias = ?", arguments: [m])
                    }
                    guard modelID != nil else {
                        throw RowError(index: i, message: "unknown model '\(m)' for job '\(j.name)'; see `plan models`")
                    }
                }
                var typeIDs: [String] = []
                for t in j.gpuTypes {
                    guard let id = GPUType.named(t, in: gpuTypes)?.id else {
                        let valid = gpuTypes.map(\.id).joined(separator: ", ")
                        throw RowError(index: i, message: "unknown GPU type '\(t)' for job '\(j.name)'; valid: \(valid)")
                    }
                    typeIDs.append(id)
                }
                try insert.execute(arguments: [
                    j.name, j.kind.rawValue, j.mode?.rawValue, modelID, j.modelConfig?.encodedString(), j.spec.encodedString(),
                    j.replicas, j.priority, j.gpus, j.gpuMemoryBytes, j.sameServer, j.headroom, j.strategy?.rawValue, j.tp, j.pp,
                ])
                let id = db.lastInsertedRowID
                for t in typeIDs { try allow.execute(arguments: [id, t]) }
            }
        }
    }

    /// All jobs with their placements, in natural name order.
    public func jobs() throws -> [JobRecord] {
        try read { db in try Self.fetchJobs(db) }
    }

    static func fetchJobs(_ db: Database) throws -> [JobRecord] {
        var allowed: [Int: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT job_id, gpu_type_id FROM job_gpu_types ORDER BY gpu_type_id") {
            allowed[row[0], default: []].append(row[1])
        }
        var placementGPUs: [Int: [(String, Int, Int)]] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT pg.placement_id, s.name, g.idx, g.id FROM placement_gpus pg
                JOIN gpus g ON g.id = pg.gpu_id JOIN servers s ON s.id = g.server_id
                """)
        {
            placementGPUs[row[0], default: []].append((row[1], row[2], row[3]))
        }
        var placements: [Int: [PlacementRecord]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM placements ORDER BY job_id, replica") {
            let id: Int = row["id"]
            let gpus = (placementGPUs[id] ?? []).sorted { naturalLess($0.0, $1.0) || ($0.0 == $1.0 && $0.1 < $1.1) }
            var allocs: [(server: String, gpus: [Int])] = []
            for (server, idx, _) in gpus {
                if allocs.last?.server == server { allocs[allocs.count - 1].gpus.append(idx) } else { allocs.append((server, [idx])) }
            }
            placements[row["job_id"], default: []].append(
                PlacementRecord(
                    id: id, replica: row["replica"], strategy: row["strategy"], tp: row["tp"], pp: row["pp"], dp: row["dp"],
                    gpuType: row["gpu_type_id"], perGPUBytes: row["per_gpu_bytes"], hostBytes: row["host_bytes"], allocations: allocs,
                    gpuIDs: gpus.map(\.2)))
        }
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT j.*, m.config_json AS catalog_config FROM jobs j LEFT JOIN models m ON m.id = j.model_id")
        var result = rows.map { row -> JobRecord in
            let id: Int = row["id"]
            func json(_ col: String) -> JSONValue? {
                guard let s = row[col] as String? else { return nil }
                return try? JSONValue.parse(Data(s.utf8))
            }
            let job = NewJob(
                name: row["name"], kind: NewJob.Kind(rawValue: row["kind"]) ?? .sized, mode: (row["mode"] as String?).flatMap(Mode.init),
                modelID: row["model_id"], modelConfig: json("model_config_json"), spec: json("spec_json") ?? .object([:]),
                replicas: row["replicas"], priority: row["priority"], gpus: row["gpus"], gpuMemoryBytes: row["gpu_memory_bytes"],
                sameServer: row["same_server"], gpuTypes: allowed[id] ?? [], headroom: row["headroom"],
                strategy: (row["strategy"] as String?).flatMap(Strategy.init), tp: row["tp"], pp: row["pp"])
            return JobRecord(id: id, job: job, modelConfig: json("model_config_json") ?? json("catalog_config"), placements: placements[id] ?? [])
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
                throw StoreError("unknown job '\(Names.escaped(name))'; `plan jobs` lists the \(count) known jobs")
            }
            try db.execute(sql: "DELETE FROM jobs WHERE name = ?", arguments: [name])
        }
    }

    /// Unplaces the named jobs (all when `names` is nil); returns the names that held GPUs.
    public func unplace(names raw: [String]?) throws -> [String] {
        let names = raw?.map(Names.normalized)
        return try write { db in
            if let names {
                for n in names where try Int.fetchOne(db, sql: "SELECT id FROM jobs WHERE name = ?", arguments: [n]) == nil {
                    throw StoreError("unknown job '\(Names.escaped(n))'; `plan jobs` lists the known jobs")
                }
            }
            let held = try String.fetchAll(
                db, sql: "SELECT DISTINCT j.name FROM jobs j JOIN placements p ON p.job_id = j.id ORDER BY j.name")
            let targets = names.map { Set($0) }
            let affected = held.filter { targets?.contains($0) ?? true }
            for n in affected {
                try db.execute(sql: "DELETE FROM placements WHERE job_id = (SELECT id FROM jobs WHERE name = ?)", arguments: [n])
            }
            return affected.sorted(by: naturalLess)
        }
    }
}
