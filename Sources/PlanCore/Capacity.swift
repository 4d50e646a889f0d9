import PlanModel

/// `plan capacity`: free GPUs and memory per server and per GPU type, and the largest block a job
/// could get.
public struct CapacityReport: Sendable {
    public struct ServerRow: Encodable, Sendable {
        public var name, gpu: String
        public var gpus, freeGpus: Int
        public var freeMemoryBytes: Int
        public var largestBlockGpus: Int
    }
    public struct TypeRow: Encodable, Sendable {
        public var gpu: String
        public var servers, gpus, freeGpus: Int
        public var freeMemoryBytes: Int
        public var largestBlockGpus: Int
        public var largestBlockServer: String?
        public var wholeFreeServers: Int
        public var usedGpus: Int
        public var memoryBytes, usedMemoryBytes: Int
        /// usedGpus / gpus.
        public var usedFraction: Double
        /// The share of the free GPUs that sit on partly used servers, where a job that wants a whole
        /// server cannot use them: 0 when every free GPU is on a wholly free server (or none is free).
        public var fragmentation: Double
    }
    public struct JSON: Encodable, Sendable {
        public var servers: [ServerRow]
        public var gpuTypes: [TypeRow]
        public var totalGpus: Int
        public var freeGpus: Int
        public var freeMemoryBytes: Int
        public var usedGpus: Int
        public var memoryBytes, usedMemoryBytes: Int
    }

    public var json: JSON
    /// Whether the table lists every server after the per-type summary.
    public var perServer: Bool

    public static func compute(_ servers: [ServerInfo], perServer: Bool = true) -> CapacityReport {
        let rows = servers.map { s in
            ServerRow(
                name: s.name, gpu: s.gpuType, gpus: s.gpuCount, freeGpus: s.availableGPUs.count,
                freeMemoryBytes: s.availableGPUs.reduce(0) { $0 + $1.memoryBytes }, largestBlockGpus: s.availableGPUs.count)
        }
        let memory = servers.map { $0.gpus.reduce(0) { $0 + $1.memoryBytes } }
        var types: [TypeRow] = []
        for t in Set(servers.map(\.gpuType)).sorted() {
            let mine = rows.indices.filter { rows[$0].gpu == t }.map { (row: rows[$0], memory: memory[$0]) }
            let best = mine.map(\.row).max { ($0.freeGpus, $1.name) < ($1.freeGpus, $0.name) }
            let gpus = mine.reduce(0) { $0 + $1.row.gpus }, free = mine.reduce(0) { $0 + $1.row.freeGpus }
            let total = mine.reduce(0) { $0 + $1.memory }, freeMemory = mine.reduce(0) { $0 + $1.row.freeMemoryBytes }
            let wholeFree = mine.filter { $0.row.freeGpus == $0.row.gpus }
            let freeOnPartly = free - wholeFree.reduce(0) { $0 + $1.row.freeGpus }
            types.append(
                TypeRow(
                    gpu: t, servers: mine.count, gpus: gpus, freeGpus: free, freeMemoryBytes: freeMemory,
                    largestBlockGpus: best?.freeGpus ?? 0, largestBlockServer: (best?.freeGpus ?? 0) > 0 ? best?.name : nil,
                    wholeFreeServers: wholeFree.count, usedGpus: gpus - free, memoryBytes: total, usedMemoryBytes: total - freeMemory,
                    usedFraction: gpus > 0 ? Double(gpus - free) / Double(gpus) : 0,
                    fragmentation: free > 0 ? Double(freeOnPartly) / Double(free) : 0))
        }
        let totalMemory = memory.reduce(0, +), freeMemory = rows.reduce(0) { $0 + $1.freeMemoryBytes }
        let totalGPUs = rows.reduce(0) { $0 + $1.gpus }, free = rows.reduce(0) { $0 + $1.freeGpus }
        let json = JSON(
            servers: rows, gpuTypes: types, totalGpus: totalGPUs, freeGpus: free, freeMemoryBytes: freeMemory, usedGpus: totalGPUs - free,
            memoryBytes: totalMemory, usedMemoryBytes: totalMemory - freeMemory)
        return CapacityReport(json: json, perServer: perServer)
    }
}
