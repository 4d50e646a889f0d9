import Placement
import PlanModel

extension UnplacedReason {
    /// One sentence a person can act on: what the unit needs, what the fleet (or the catalog) has,
    /// and what else it could run on.
    public var sentence: String {
        switch self {
        case .noShape(let why): return why ?? "no GPU type in the fleet can hold it"
        case .noRoom(let r): return Self.noRoom(r)
        case .noSKUOfType(let t): return "no server SKU in the catalog has \(t) GPUs; add one with `plan skus add`"
        case .widerThanSKUs(let needs, let t, let largest): return "needs \(needs) \(t) GPUs in one server; the largest SKU has \(largest)"
        case .noSKUHolds: return "no server SKU can hold it (GPU memory or host memory for offload too small)"
        case .noFabric(let shape, let largest):
            return "needs \(shape.gpus) \(shape.gpuType) GPUs across servers (at most \(largest) per server) on a fabric of at least "
                + "\(shape.fabric.description); no \(shape.gpuType) SKU in the catalog has one"
        }
    }

    /// Servers with free GPUs that take no new work (cordoned, drained, down), by GPU type: found once
    /// per run, named in the reasons of units of their type.
    public static func idleServers(_ servers: [ServerInfo]) -> [String: [ServerInfo]] {
        Dictionary(grouping: servers.filter { !$0.takesWork && $0.freeGPUs > 0 }, by: \.gpuType)
    }

    /// The sentence, and which servers of the shape's type take no new work while they have free
    /// GPUs: they are why "taken" is not the whole story.
    public func sentence(idle: [String: [ServerInfo]]) -> String {
        guard case .noRoom(let r) = self, let servers = idle[r.shape.gpuType], !servers.isEmpty else { return sentence }
        let named = servers.prefix(3).map { "\($0.name) (\($0.origin.state.rawValue))" }.joined(separator: ", ")
        return sentence + "; \(servers.count) \(r.shape.gpuType) server\(servers.count == 1 ? "" : "s") with free GPUs take\(servers.count == 1 ? "s" : "") "
            + "no new work: \(named)\(servers.count > 3 ? ", ..." : "")"
    }

    static func noRoom(_ r: NoRoom) -> String {
        let shape = r.shape
        var need: String
        let perGPU = "\(shape.gpuType) \(shape.gpus == 1 ? "GPU" : "GPUs") with >= \(Bytes(shape.perGPUBytes).gibString) each"
        if shape.sameServer || shape.groups == 1 {
            need = "needs \(shape.gpus) \(perGPU)\(shape.gpus == 1 ? "" : " on one server")"
            if shape.tp > 1 { need += " (tp=\(shape.tp))" }
        } else {
            need = "needs \(shape.gpus) \(perGPU) in \(shape.groups) group\(shape.groups == 1 ? "" : "s") of \(shape.tp) per server"
            if shape.pp > 1 { need += " (tp=\(shape.tp), pp=\(shape.pp))" }
        }
        if shape.hostBytesPerGPU > 0 { need += " plus \(Bytes(shape.hostBytesPerGPU * shape.gpus).gibString) of host memory for offload" }
        let have: String
        if !r.fleetHasType {
            have = "the fleet has no \(shape.gpuType) servers"
        } else if let best = r.largestFree {
            have = "the largest free block is \(best.free) x \(shape.gpuType) on \(best.server)"
                + (shape.groups > 1 && !shape.sameServer ? " (\(r.freeOfType) free in all)" : "")
        } else {
            have = "every \(shape.gpuType) GPU is taken"
        }
        var have2 = have
        if r.fabricBinds {
            have2 += "; no network of servers on a fabric of at least \(shape.fabric.description) has \(shape.gpus) of them free "
                + "(`plan add-server --fabric`, or the job's --min-fabric)"
        }
        switch r.binding {
        case .hostMemory?:
            have2 += "; its GPUs are free, but no such server has the host memory its offload needs"
        case .higherPriority(let count, let jobs)?:
            have2 += "; held by higher-priority work (\(count) placement\(count == 1 ? "" : "s"): \(jobs.joined(separator: ", "))"
                + (count > jobs.count ? ", ...)" : ")")
        case .samePriority(let count)?:
            have2 += "; work of the same priority holds the rest (\(count) placement\(count == 1 ? "" : "s"); as many as fit are placed)"
        case nil:
            break
        }
        var sentence = "\(need); \(have2)"
        if !r.alternatives.isEmpty {
            sentence += "; it could also run on " + r.alternatives.map { "\($0.gpus) x \($0.gpuType)" }.joined(separator: " or ")
        }
        return sentence
    }
}
