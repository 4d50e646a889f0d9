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
    }
    public struct JSON: Encodable, Sendable {
        public var servers: [ServerRow]
        public var gpuTypes: [TypeRow]
        public var totalGpus: Int
        public var freeGpus: Int
        public var freeMemoryBytes: Int
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
        var types: [TypeRow] = []
        for t in Set(servers.map(\.gpuType)).sorted() {
            let mine = rows.filter { $0.gpu == t }
            let best = mine.max { ($0.freeGpus, $1.name) < ($1.freeGpus, $0.name) }
            types.append(
                TypeRow(
                    gpu: t, servers: mine.count, gpus: mine.reduce(0) { $0 + $1.gpus }, freeGpus: mine.reduce(0) { $0 + $1.freeGpus },
                    freeMemoryBytes: mine.reduce(0) { $0 + $1.freeMemoryBytes }, largestBlockGpus: best?.freeGpus ?? 0,
                    largestBlockServer: (best?.freeGpus ?? 0) > 0 ? best?.name : nil,
                    wholeFreeServers: mine.filter { $0.freeGpus == $0.gpus }.count))
        }
        let json = JSON(
            servers: rows, gpuTypes: types, totalGpus: rows.reduce(0) { $0 + $1.gpus }, freeGpus: rows.reduce(0) { $0 + $1.freeGpus },
            freeMemoryBytes: rows.reduce(0) { $0 + $1.freeMemoryBytes })
        return CapacityReport(json: json, perServer: perServer)
    }
}
