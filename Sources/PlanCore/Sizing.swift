import Foundation
import MemoryEstimation
import Placement
import PlanModel

/// The estimator settings a job was added with, stored as its `spec_json`.
public struct JobSpec: Codable, Equatable, Sendable {
    public var workload: Workload
    public var offload: Offload = .none
    public var fp32Grads: Bool = false
    public var quantGroupSize: Int?

    public init(workload: Workload, offload: Offload = .none, fp32Grads: Bool = false, quantGroupSize: Int? = nil) {
        self.workload = workload
        self.offload = offload
        self.fp32Grads = fp32Grads
        self.quantGroupSize = quantGroupSize
    }

    public static func decode(_ json: JSONValue) -> JobSpec? {
        guard let data = json.encodedString().data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode(JobSpec.self, from: data)
    }

    public var json: JSONValue {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return (try? JSONValue.parse(enc.encode(self))) ?? .object([:])
    }
}

/// Default headroom: 10% of GPU memory for estimated jobs; pre-sized jobs state what they need.
public enum Headroom {
    public static let estimated = 0.10
    public static let sized = 0.0
}

/// Turns jobs into planner units: for each GPU type in the fleet (and allowed), the smallest split
/// that fits, plus a tensor-parallel-free alternative. Results are cached per distinct sizing, so
/// thousands of jobs with a handful of shapes cost a handful of searches.
public struct Sizer {
    let gpuTypes: [String: GPUType]
    /// GPU types present in the fleet, with the most GPUs one of their servers has.
    let fleet: [(type: GPUType, maxPerServer: Int)]
    var cache: [SizingKey: ([UnitShape], String?)] = [:]

    /// `skus`: also size for the GPU types that can be bought (for `plan gaps`).
    public init(catalog: [GPUType], servers: [ServerInfo], skus: [ServerSKU] = []) {
        var byType: [String: GPUType] = [:]
        for g in catalog { byType[g.id] = g }
        gpuTypes = byType
        var maxPer: [String: Int] = [:]
        for s in servers { maxPer[s.gpuType] = max(maxPer[s.gpuType] ?? 0, s.gpuCount) }
        for k in skus { maxPer[k.gpu] = max(maxPer[k.gpu] ?? 0, k.gpusPerServer) }
        fleet = maxPer.keys.sorted().compactMap { id in byType[id].map { ($0, maxPer[id]!) } }
    }

    /// The shapes a job can take, fewest GPUs first, and why there are none when that is the case.
    public mutating func shapes(for j: JobRecord) -> ([UnitShape], String?) {
        let key = sizingKey(j)
        if let hit = cache[key] { return hit }
        let result = compute(j)
        cache[key] = result
        return result
    }

    /// Everything a job's shapes depend on; jobs with equal keys get the same shapes.
    struct SizingKey: Hashable {
        var kind: NewJob.Kind
        var mode: Mode?
        var modelConfig: JSONValue?
        var spec: JSONValue
        var gpus: Int?
        var gpuMemoryBytes: Int?
        var sameServer: Bool
        var gpuTypes: [String]
        var headroom: Double?
        var strategy: Strategy?
        var tp: Int?
        var pp: Int?
        var minFabric: String?
    }

    func sizingKey(_ j: JobRecord) -> SizingKey {
        let job = j.job
        return SizingKey(
            kind: job.kind, mode: job.mode, modelConfig: j.modelConfig, spec: job.spec, gpus: job.gpus, gpuMemoryBytes: job.gpuMemoryBytes,
            sameServer: job.sameServer, gpuTypes: job.gpuTypes, headroom: job.headroom, strategy: job.strategy, tp: job.tp, pp: job.pp,
            minFabric: job.minFabric)
    }

    func compute(_ j: JobRecord) -> ([UnitShape], String?) {
        let job = j.job
        let allowed = Set(job.gpuTypes)
        let candidates = fleet.filter { allowed.isEmpty || allowed.contains($0.type.id) }
        if candidates.isEmpty {
            return ([], allowed.isEmpty
                ? "the fleet has no servers; add some with `plan add-server`"
                : "none of its allowed GPU types (\(job.gpuTypes.sorted().joined(separator: ", "))) is in the fleet; add such servers or allow other types")
        }
        var shapes: [UnitShape] = []
        if job.kind == .sized {
            let need = job.gpuMemoryBytes ?? 0
            let n = job.gpus ?? 1
            let headroom = job.headroom ?? Headroom.sized
            for (t, maxPer) in candidates where Double(t.memoryBytes) * (1 - headroom) >= Double(need) {
                if job.sameServer && n > maxPer { continue }
                shapes.append(
                    UnitShape(gpuType: t.id, gpus: n, strategy: .sized, sameServer: job.sameServer, perGPUBytes: need, fabric: job.fabricRequirement))
            }
            if shapes.isEmpty {
                let largest = candidates.max { $0.type.memoryBytes < $1.type.memoryBytes }!
                let memoryNeeded = Int((Double(need) / (1 - headroom)).rounded(.up))
                let (needText, hasText) = Bytes.contrasted(memoryNeeded, largest.type.memoryBytes)
                let headroomText = headroom > 0 ? " (\(Bytes(need).gibString) plus \(Int((headroom * 100).rounded()))% headroom)" : ""
                return ([], "needs \(counted(n, "GPU")) with >= \(needText) each\(headroomText)\(job.sameServer ? " on one server" : ""); "
                    + "the largest GPU in the fleet is \(largest.type.id) with \(hasText)"
                    + (job.sameServer ? " and at most \(largest.maxPerServer) per server" : ""))
            }
            return (sorted(shapes), nil)
        }
        guard let config = j.modelConfig, let a = try? ModelArchitecture(config: config, origin: job.name),
            let spec = JobSpec.decode(job.spec)
        else {
            return ([], "its model configuration cannot be read; remove the job and add it again")
        }
        var options = EstimateOptions()
        options.headroom = job.headroom ?? Headroom.estimated
        options.gradientFP32 = spec.fp32Grads
        options.quantGroupSize = spec.quantGroupSize
        // BF16 work runs only where BF16 exists (V100 and T4 would need an fp16 variant of the job).
        for (t, maxPer) in candidates where t.bf16 || !spec.workload.needsBF16 {
            if let fixed = job.tp, fixed > maxPer { continue }
            let recs = Recommender.recommend(
                a, spec.workload, gpus: [t], options: options, strategy: job.strategy, tp: job.tp, pp: job.pp, offload: spec.offload,
                maxTP: min(8, maxPer), count: job.gpus)
            guard let r = recs.first else { continue }
            shapes.append(shape(r, a, spec, t, options, job, maxPer))
            if r.split.tp > 1 && job.tp == nil && spec.workload.mode == .train {
                let flat = Recommender.recommend(
                    a, spec.workload, gpus: [t], options: options, strategy: job.strategy, tp: 1, pp: job.pp, offload: spec.offload,
                    maxTP: 1, count: job.gpus)
                if let f = flat.first, f.count <= r.count * 2 { shapes.append(shape(f, a, spec, t, options, job, maxPer)) }
            }
        }
        if shapes.isEmpty {
            let largest = candidates.max { $0.type.memoryBytes < $1.type.memoryBytes }!
            let widest = candidates.map(\.maxPerServer).max() ?? 0
            if let fixed = job.tp, fixed > widest {
                return ([], "needs --tp \(fixed) inside one server, but its GPU types have at most \(widest) GPUs per server")
            }
            if let n = job.gpus {
                return ([], "no split over exactly --gpus \(n) of the fleet's GPU types fits; the largest GPU here is \(largest.type.id) "
                    + "(\(Bytes(largest.type.memoryBytes).gibString)); allow more GPUs or other types")
            }
            let one = Estimator.estimate(a, spec.workload, ParallelSplit(offload: spec.offload), options: options)
            return ([], "no split over up to 1024 GPUs of the fleet's types fits: on one GPU it needs \(Bytes(one.total).gibString); "
                + "the largest GPU here is \(largest.type.id) (\(Bytes(largest.type.memoryBytes).gibString)) with up to \(largest.maxPerServer) per server")
        }
        return (sorted(shapes), nil)
    }

    /// An inference replica that fits one server never spans servers; anything that spans needs
    /// the job's fabric.
    func shape(
        _ r: Recommendation, _ a: ModelArchitecture, _ spec: JobSpec, _ t: GPUType, _ options: EstimateOptions, _ job: NewJob, _ maxPer: Int
    ) -> UnitShape {
        let e = Estimator.estimate(a, spec.workload, r.split, gpu: t, options: options)
        let serving = spec.workload.mode != .train
        return UnitShape(
            gpuType: t.id, gpus: r.count, tp: r.split.tp, pp: r.split.pp, dp: r.split.dp,
            strategy: serving ? .replica : .training(r.split.strategy), sameServer: job.sameServer || (serving && r.count <= maxPer),
            perGPUBytes: r.perGPUTotal, hostBytesPerGPU: e.hostBytes, fabric: job.fabricRequirement)
    }

    /// Fewest GPUs first; then the smallest GPU that fits (keeps large GPUs for large jobs); then id.
    func sorted(_ shapes: [UnitShape]) -> [UnitShape] {
        shapes.sorted {
            let ma = gpuTypes[$0.gpuType]?.memoryBytes ?? 0
            let mb = gpuTypes[$1.gpuType]?.memoryBytes ?? 0
            return ($0.gpus, ma, $0.gpuType, $0.tp) < ($1.gpus, mb, $1.gpuType, $1.tp)
        }
    }

    /// Planner units for the replicas of `j` not yet placed (all of them with `ignorePlaced`).
    public mutating func units(for j: JobRecord, ignorePlaced: Bool) -> [JobUnit] {
        let (shapes, reason) = shapes(for: j)
        let placed = ignorePlaced ? Set<Int>() : Set(j.placements.map(\.replica))
        return (0..<j.job.replicas).filter { !placed.contains($0) }.map {
            JobUnit(job: j.name, replica: $0, priority: j.job.priority, shapes: shapes, noShapeReason: reason)
        }
    }
}

/// The fleet as the planner sees it.
public enum FleetState {
    /// Servers reach each other when they share a site and a fabric; a server without one (or
    /// bought, site "") reaches none, or the other servers of its fabric at site "".
    public static func network(site: String, fabric: Fabric) -> String? {
        fabric == .none ? nil : "\(site)/\(fabric.id)"
    }

    /// Planner servers (in `servers` order) with free GPUs; `ignoring` placements count as free.
    public static func planner(_ servers: [ServerInfo], ignoring: Set<String> = []) -> [ServerState] {
        servers.map { s in
            let free = s.gpus.filter { $0.job == nil || ignoring.contains($0.job!) }
            let hostUsed = s.gpus.filter { $0.job != nil && !ignoring.contains($0.job!) }.reduce(0) { $0 + $1.hostBytes }
            let fabric = Fabric.named(s.fabric) ?? .none
            return ServerState(
                name: s.name, gpuType: s.gpuType, gpuCount: s.gpuCount, free: free.map(\.index), hostFree: s.hostMemoryBytes - hostUsed,
                gpuMemory: s.gpuMemoryBytes, network: network(site: s.site, fabric: fabric), fabricGbps: fabric.gbps, fabricRDMA: fabric.rdma)
        }
    }
}
