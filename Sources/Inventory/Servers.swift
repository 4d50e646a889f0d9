import Foundation
import GRDB
import PlanModel


extension PlanStore {
    /// Adds servers and one row per GPU, all or none. Throws `RowError` naming the first bad one.
    @discardableResult
    public func addServers(_ specs: [NewServer]) throws -> Int {
        try write { db in
            let gpuTypes = try Self.fetchGPUTypes(db)
            var names = Set(try String.fetchAll(db, sql: "SELECT name FROM servers"))
            var checked: [NewServer] = []
            checked.reserveCapacity(specs.count)
            for (i, spec) in specs.enumerated() {
                let s = try Self.validated(spec, index: i)
                guard GPUType.named(s.gpu, in: gpuTypes) != nil else {
                    throw RowError(index: i, .unknownServerGPU(gpu: s.gpu, valid: gpuTypes.map(\.id)))
                }
                guard !names.contains(s.name) else {
                    throw RowError(index: i, .duplicateServer(name: s.name))
                }
                names.insert(s.name)
                checked.append(s)
            }
            try Self.insertServers(checked, gpuTypes: gpuTypes, usual: try Self.usualSKUs(db), db)
            return specs.count
        }
    }

    /// Inserts checked servers and one row per GPU; host memory and fabric default to the usual SKU's.
    static func insertServers(_ servers: [NewServer], gpuTypes: [GPUType], usual: [String: ServerSKURow], _ db: Database) throws {
        let insertServer = try db.cachedStatement(
            sql: """
                INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes, site, rack, fabric, source, state, partitions, gres_type)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let insertGPU = try db.cachedStatement(
            sql: "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) VALUES (?, ?, ?, ?)")
        for s in servers {
            let t = GPUType.named(s.gpu, in: gpuTypes)!
            let host = s.hostMemoryBytes ?? usual["\(t.id)/\(s.gpus)"]?.hostMemoryBytes ?? Self.defaultHostMemory(gpuMemory: t.memoryBytes, gpus: s.gpus)
            let fabric = s.fabric ?? usual["\(t.id)/\(s.gpus)"]?.fabric ?? Fabric.none.id
            try insertServer.execute(arguments: [
                s.name, t.id, s.gpus, host, s.site, s.rack, fabric, s.origin.source.rawValue, s.origin.state.rawValue,
                s.origin.partitions.joined(separator: ","), s.origin.gresType,
            ])
            let serverID = db.lastInsertedRowID
            for idx in 0..<s.gpus {
                try insertGPU.execute(arguments: [serverID, idx, t.id, t.memoryBytes])
            }
        }
    }

    /// Host memory assumed when neither the user nor a matching SKU says: twice the GPU memory,
    /// rounded up to a whole GiB (NVIDIA's DGX systems ship with about 2x GPU memory in host RAM).
    public static func defaultHostMemory(gpuMemory: Int, gpus: Int) -> Int {
        let bytes = 2 * gpuMemory * gpus
        return (bytes + Bytes.gib - 1) / Bytes.gib * Bytes.gib
    }

    /// The server as stored: names and labels checked and in NFC (`Names`), counts in range.
    static func validated(_ spec: NewServer, index i: Int) throws -> NewServer {
        var s = spec
        do {
            s.name = try Names.checked(s.name, .name("server name"))
            s.site = try Names.checked(s.site, .label("site"))
            s.rack = try Names.checked(s.rack, .label("rack"))
        } catch {
            throw RowError(index: i, .invalidName(error))
        }
        guard s.gpus >= 1, s.gpus <= 1024 else {
            throw RowError(index: i, .gpuCountOutOfRange(server: s.name, gpus: s.gpus))
        }
        if let h = s.hostMemoryBytes, h <= 0 {
            throw RowError(index: i, .hostMemoryNotPositive(server: s.name, bytes: h))
        }
        if let f = s.fabric {
            guard let known = Fabric.named(f) else { throw RowError(index: i, .unknownFabric(server: s.name, fabric: f)) }
            s.fabric = known.id
        }
        return s
    }

    /// The seeded SKU a server is taken to be when nobody said its host memory or fabric: the first
    /// (by id) with the same GPU type and GPU count, keyed "gpu/count". One rule for new servers and
    /// for servers added before fabrics were stored.
    static func usualSKUs(_ db: Database) throws -> [String: ServerSKURow] {
        var out: [String: ServerSKURow] = [:]
        for s in try ServerSKURow.filter(ServerSKURow.Columns.origin == CatalogOrigin.seed.rawValue).order(ServerSKURow.Columns.id).fetchAll(db) {
            let key = "\(s.gpuID)/\(s.gpusPerServer)"
            if out[key] == nil { out[key] = s }
        }
        return out
    }

    /// All servers with their GPUs and what holds each, in natural name order.
    public func servers() throws -> [ServerInfo] {
        try read { db in try Self.fetchServers(db) }
    }

    static func fetchServers(_ db: Database) throws -> [ServerInfo] {
        // Each placement's host memory is split evenly over its GPUs; count them once per placement.
        var holders: [Int: HeldGPURow] = [:]
        let held = try HeldGPURow.fetchCursor(db, sql: HeldGPURow.sql)
        while let h = try held.next() {
            holders[h.gpuID] = h
        }
        // GPUs in server order and servers in id order: one merge, no lookup per GPU.
        let gpus = try GPURow.order(GPURow.Columns.serverID, GPURow.Columns.idx).fetchCursor(db)
        var pending: (server: Int, slot: GPUSlot)? = nil
        func nextGPU() throws -> (server: Int, slot: GPUSlot)? {
            guard let g = try gpus.next() else { return nil }
            let h = holders[g.id]
            return (g.serverID, GPUSlot(id: g.id, index: g.idx, memoryBytes: g.memoryBytes, job: h?.job, replica: h?.replica, hostBytes: h?.hostBytesPerGPU ?? 0))
        }
        pending = try nextGPU()
        var result: [ServerInfo] = []
        let usual = try usualSKUs(db)
        let servers = try ServerRow.order(ServerRow.Columns.id).fetchCursor(db)
        while let s = try servers.next() {
            var slots: [GPUSlot] = []
            while let p = pending, p.server <= s.id {
                if p.server == s.id { slots.append(p.slot) }
                pending = try nextGPU()
            }
            result.append(
                ServerInfo(
                    id: s.id, name: s.name, gpuType: s.gpuTypeID, gpuCount: s.gpuCount, gpuMemoryBytes: slots.map(\.memoryBytes).min() ?? 0,
                    hostMemoryBytes: s.hostMemoryBytes, site: s.site, rack: s.rack, gpus: slots,
                    fabric: s.fabric ?? usual["\(s.gpuTypeID)/\(s.gpuCount)"]?.fabric ?? Fabric.none.id, origin: s.origin))
        }
        result.sort { naturalLess($0.name, $1.name) }
        return result
    }

    /// What removing a server did.
    public struct Removal: Sendable, Equatable {
        public var server: String
        /// Jobs that were unplaced (they are pending again).
        public var unplacedJobs: [String]
    }

    /// Removes a server and its GPUs. Refuses while jobs are placed on it unless `force`, which
    /// unplaces those jobs first (they become pending; nothing else is lost).
    public func removeServer(named raw: String, force: Bool) throws -> Removal {
        let name = Names.normalized(raw)
        return try write { db in
            guard let id = try Int.fetchOne(db, sql: "SELECT id FROM servers WHERE name = ?", arguments: [name]) else {
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM servers") ?? 0
                throw StoreError.unknownServer(name: name, known: count)
            }
            let jobs = try Self.jobsOn(server: id, db)
            if !jobs.isEmpty && !force {
                throw StoreError.serverRunsJobs(server: name, jobs: jobs)
            }
            try Self.unplaceJobs(onServer: id, db)
            try db.execute(sql: "DELETE FROM servers WHERE id = ?", arguments: [id])
            return Removal(server: name, unplacedJobs: jobs.sorted(by: naturalLess))
        }
    }
}
