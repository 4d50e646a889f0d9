import Foundation
import GRDB
import PlanModel

extension PlanStore {
    /// Makes the fleet match a cluster's node list, in one transaction: servers are matched by name;
    /// new ones are added, changed ones updated (a change of GPU type or count on a server that runs
    /// jobs is refused unless `force`, which unplaces them), and servers from the same source that the
    /// list no longer has are reported, and removed with `prune` (refused while they run jobs unless
    /// `force`). `dryRun` computes the report and writes nothing.
    /// `keep`: nodes of the source left out of this import on purpose (`--exclude`); never missing.
    public func syncServers(
        _ specs: [NewServer], source: FleetSource, prune: Bool, force: Bool, dryRun: Bool, keep: Set<String> = []
    ) throws -> SyncReport {
        if dryRun { return try read { db in try Self.sync(specs, source: source, prune: prune, force: force, apply: false, keep: keep, db) } }
        return try write { db in try Self.sync(specs, source: source, prune: prune, force: force, apply: true, keep: keep, db) }
    }

    static func sync(
        _ specs: [NewServer], source: FleetSource, prune: Bool, force: Bool, apply: Bool, keep: Set<String>, _ db: Database
    ) throws -> SyncReport {
        let gpuTypes = try fetchGPUTypes(db)
        let usual = try usualSKUs(db)
        let existing = Dictionary(uniqueKeysWithValues: try ServerRow.order(ServerRow.Columns.id).fetchAll(db).map { ($0.name, $0) })
        var report = SyncReport()
        var fresh: [NewServer] = []
        var seen = Set<String>()
        for (i, spec) in specs.enumerated() {
            let s = try validated(spec, index: i)
            guard seen.insert(s.name).inserted else { throw RowError(index: i, .duplicateServer(name: s.name)) }
            guard let t = GPUType.named(s.gpu, in: gpuTypes) else {
                throw RowError(index: i, .unknownServerGPU(gpu: s.gpu, valid: gpuTypes.map(\.id)))
            }
            guard let old = existing[s.name] else {
                fresh.append(s)
                report.added.append(s.name)
                continue
            }
            let host = s.hostMemoryBytes ?? old.hostMemoryBytes
            let fabric = s.fabric ?? old.fabric ?? usual["\(t.id)/\(s.gpus)"]?.fabric ?? Fabric.none.id
            var fields: [String] = []
            func note(_ name: String, _ before: String, _ after: String) { if before != after { fields.append("\(name): \(before) -> \(after)") } }
            note("gpus", "\(old.gpuCount) x \(old.gpuTypeID)", "\(s.gpus) x \(t.id)")
            note("host memory", Bytes(old.hostMemoryBytes).gibString, Bytes(host).gibString)
            note("site", old.site, s.site)
            note("rack", old.rack, s.rack)
            note("fabric", old.fabric ?? "", fabric)
            note("state", old.origin.state.rawValue, s.origin.state.rawValue)
            note("partitions", old.origin.partitions.joined(separator: ","), s.origin.partitions.joined(separator: ","))
            note("gres type", old.origin.gresType, s.origin.gresType)
            note("source", old.origin.source == .manual ? "manual" : old.origin.source.rawValue, s.origin.source.rawValue)
            guard !fields.isEmpty else {
                report.unchanged += 1
                continue
            }
            report.changed.append(SyncReport.Change(server: s.name, fields: fields))
            let gpusChange = old.gpuCount != s.gpus || old.gpuTypeID != t.id
            if gpusChange {
                let jobs = try jobsOn(server: old.id, db)
                if !jobs.isEmpty && !force {
                    // A dry run says what would be refused instead of refusing.
                    guard !apply else { throw StoreError.serverChangeRunsJobs(server: s.name, change: fields[0], jobs: jobs) }
                    report.needsForce = true
                }
                report.unplacedJobs += jobs
            }
            guard apply else { continue }
            if gpusChange {
                try unplaceJobs(onServer: old.id, db)
                try db.execute(sql: "DELETE FROM gpus WHERE server_id = ?", arguments: [old.id])
                let insertGPU = try db.cachedStatement(sql: "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) VALUES (?, ?, ?, ?)")
                for idx in 0..<s.gpus { try insertGPU.execute(arguments: [old.id, idx, t.id, t.memoryBytes]) }
            }
            try db.execute(
                sql: """
                    UPDATE servers SET gpu_type_id = ?, gpu_count = ?, host_memory_bytes = ?, site = ?, rack = ?, fabric = ?,
                        source = ?, state = ?, partitions = ?, gres_type = ? WHERE id = ?
                    """,
                arguments: [
                    t.id, s.gpus, host, s.site, s.rack, fabric, s.origin.source.rawValue, s.origin.state.rawValue,
                    s.origin.partitions.joined(separator: ","), s.origin.gresType, old.id,
                ])
        }
        report.missing = existing.values.filter {
            $0.origin.source == source && source != .manual && !seen.contains($0.name) && !keep.contains($0.name)
        }
            .map(\.name).sorted(by: naturalLess)
        if prune {
            for name in report.missing {
                let id = existing[name]!.id
                let jobs = try jobsOn(server: id, db)
                if !jobs.isEmpty && !force {
                    guard !apply else { throw StoreError.serverRunsJobs(server: name, jobs: jobs) }
                    report.needsForce = true
                }
                report.unplacedJobs += jobs
                report.removed.append(name)
                guard apply else { continue }
                try unplaceJobs(onServer: id, db)
                try db.execute(sql: "DELETE FROM servers WHERE id = ?", arguments: [id])
            }
        }
        report.unplacedJobs = Array(Set(report.unplacedJobs)).sorted(by: naturalLess)
        if apply && !fresh.isEmpty { try insertServers(fresh, gpuTypes: gpuTypes, usual: usual, db) }
        return report
    }

    /// Jobs with a placement on the server, by name.
    static func jobsOn(server id: Int, _ db: Database) throws -> [String] {
        try String.fetchAll(
            db,
            sql: """
                SELECT DISTINCT j.name FROM jobs j JOIN placements p ON p.job_id = j.id
                JOIN placement_gpus pg ON pg.placement_id = p.id JOIN gpus g ON g.id = pg.gpu_id
                WHERE g.server_id = ? ORDER BY j.name
                """, arguments: [id])
    }

    /// Removes every placement of the jobs that hold a GPU of the server (a gang is all or nothing),
    /// and unpins them: pinned means fully placed, running work.
    static func unplaceJobs(onServer id: Int, _ db: Database) throws {
        let held = """
            SELECT p.job_id FROM placements p JOIN placement_gpus pg ON pg.placement_id = p.id
            JOIN gpus g ON g.id = pg.gpu_id WHERE g.server_id = ?
            """
        try db.execute(sql: "UPDATE jobs SET pinned = 0 WHERE id IN (\(held))", arguments: [id])
        try db.execute(sql: "DELETE FROM placements WHERE job_id IN (\(held))", arguments: [id])
    }
}
