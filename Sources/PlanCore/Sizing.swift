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
    /// Serving: the engine whose accounting sizes a replica, and the traffic that sets how many.
    public var serving: SpeedRequest?
    /// Serve the weights as the model's config stores them (its quantization_config), as
    /// `plan estimate` does when no --dtype is given. Nil for jobs added before this was kept.
    public var configWeights: Bool?

    public init(
        workload: Workload, offload: Offload = .none, fp32Grads: Bool = false, quantGroupSize: Int? = nil, serving: SpeedRequest? = nil,
        configWeights: Bool? = nil
    ) {
        self.configWeights = configWeights
        self.workload = workload
        self.offload = offload
        self.fp32Grads = fp32Grads
        self.quantGroupSize = quantGroupSize
        self.serving = serving
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
    var cache: [SizingKey: Sizing] = [:]

    /// A job's shapes, fewest GPUs first, why there are none when that is the case, and for a job
    /// sized by its traffic, the replicas it needs.
    struct Sizing {
        var shapes: [UnitShape]
        var reason: String?
        var replicas: Int? = nil
    }

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

    /// How a job is sized (cached per distinct sizing).
    mutating func sizing(for j: JobRecord) -> Sizing {
        let key = sizingKey(j)
        if let hit = cache[key] { return hit }
        let result = compute(j)
        cache[key] = result
        return result
    }

    /// The replicas a job sized by its traffic needs on the fleet (and the SKUs, for `plan gaps`);
    /// nil for every other job.
    public mutating func trafficReplicas(for j: JobRecord) -> Int? { sizing(for: j).replicas }

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

    func compute(_ j: JobRecord) -> Sizing {
        let (shapes, reason, replicas) = computeShapes(j)
        return Sizing(shapes: shapes, reason: reason, replicas: replicas)
    }

    func computeShapes(_ j: JobRecord) -> ([UnitShape], String?, Int?) {
        let job = j.job
        let allowed = Set(job.gpuTypes)
        let candidates = fleet.filter { allowed.isEmpty || allowed.contains($0.type.id) }
        if candidates.isEmpty {
            return ([], allowed.isEmpty
                ? "the fleet has no servers; add some with `plan add-server`"
                : "none of its allowed GPU types (\(job.gpuTypes.sorted().joined(separator: ", "))) is in the fleet; add such servers or allow other types", nil)
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
                    + (job.sameServer ? " and at most \(largest.maxPerServer) per server" : ""), nil)
            }
            return (sorted(shapes), nil, nil)
        }
        guard let inputs = Self.estimatorInputs(j) else {
            return ([], "its model configuration cannot be read; remove the job and add it again", nil)
        }
        let (a, spec, options, quantization) = (inputs.architecture, inputs.spec, inputs.options, inputs.quantization)
        if spec.workload.mode == .infer, let serving = spec.serving {
            return servingShapes(j, a, spec, serving, candidates: candidates, options: options, quantization: quantization)
        }
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
                return ([], "needs --tp \(fixed) inside one server, but its GPU types have at most \(widest) GPUs per server", nil)
            }
            if let n = job.gpus {
                return ([], "no split over exactly --gpus \(n) of the fleet's GPU types fits; the largest GPU here is \(largest.type.id) "
                    + "(\(Bytes(largest.type.memoryBytes).gibString)); allow more GPUs or other types", nil)
            }
            let one = Estimator.estimate(a, spec.workload, ParallelSplit(offload: spec.offload), options: options)
            return ([], "no split over up to 1024 GPUs of the fleet's types fits: on one GPU it needs \(Bytes(one.total).gibString); "
                + "the largest GPU here is \(largest.type.id) (\(Bytes(largest.type.memoryBytes).gibString)) with up to \(largest.maxPerServer) per server", nil)
        }
        return (sorted(shapes), nil, nil)
    }

    /// What the estimator needs to size an LLM job.
    struct EstimatorInputs {
        var architecture: ModelArchitecture
        var spec: JobSpec
        var options: EstimateOptions
        var quantization: QuantizedWeights?
    }

    /// An LLM job's architecture, stored settings and estimator options (its headroom, gradient and
    /// quantization settings, a quantized checkpoint's weight bytes); nil for a pre-sized job or a
    /// configuration that cannot be read.
    static func estimatorInputs(_ j: JobRecord) -> EstimatorInputs? {
        let job = j.job
        guard job.kind == .llm, let config = j.modelConfig, let a = try? ModelArchitecture(config: config, origin: job.name),
            let spec = JobSpec.decode(job.spec)
        else { return nil }
        var options = EstimateOptions()
        options.headroom = job.headroom ?? Headroom.estimated
        options.gradientFP32 = spec.fp32Grads
        options.quantGroupSize = spec.quantGroupSize
        // Served as its config stores it (a quantized checkpoint), as `plan estimate` does.
        var quantization: QuantizedWeights? = nil
        if spec.configWeights == true, spec.workload.mode == .infer, let q = try? QuantizedWeights.from(config: config) {
            quantization = q
            options.checkpointWeightBytes = q.bytes(a)
        }
        return EstimatorInputs(architecture: a, spec: spec, options: options, quantization: quantization)
    }

    /// The bytes per GPU of an LLM job under `split` on `gpu`, component by component, as sizing
    /// computed them (a served replica under vLLM keeps no headroom), and the headroom it keeps.
    public func breakdown(for j: JobRecord, gpu: GPUType, split: PlacementSplit) -> (MemoryEstimate, headroom: Double)? {
        guard let inputs = Self.estimatorInputs(j) else { return nil }
        var options = inputs.options
        let w = inputs.spec.workload
        if w.mode == .infer, inputs.spec.serving?.engine == .vllm { options.headroom = 0 }
        let strategy: Strategy = if case .training(let s) = split.strategy { s } else { .ddp }
        let parallel = ParallelSplit(strategy: strategy, dp: split.dp, tp: split.tp, pp: split.pp, offload: inputs.spec.offload)
        return (Estimator.estimate(inputs.architecture, w, parallel, gpu: gpu, options: options), options.headroom)
    }

    /// The cheapest shape sizing found for a job (fewest GPUs, then the smallest GPU), if any.
    public mutating func firstShape(for j: JobRecord) -> UnitShape? { sizing(for: j).shapes.first }

    /// A serving job with an engine or traffic: per GPU type, the smallest replica the engine starts
    /// (inside one server) and, for traffic, how many carry it. Its unit count is the replicas of the
    /// type whose replicas cost least per hour; every type that carries the traffic with at most that
    /// many is an alternative shape, so any mix of that many replicas carries it.
    func servingShapes(
        _ j: JobRecord, _ a: ModelArchitecture, _ spec: JobSpec, _ serving: SpeedRequest, candidates: [(type: GPUType, maxPerServer: Int)],
        options: EstimateOptions, quantization: QuantizedWeights?
    ) -> ([UnitShape], String?, Int?) {
        let job = j.job
        let w = spec.workload
        var options = options
        if serving.engine == .vllm { options.headroom = 0 }
        var sized: [(shape: UnitShape, replicas: Int, perHour: Double)] = []
        for (t, maxPer) in candidates where t.bf16 || !w.needsBF16 {
            let recs =
                serving.engine == .vllm
                ? Speed.vllmRecommendations(
                    a, w, gpus: [t], options: options, request: serving, quantization: quantization, tp: job.tp, pp: job.pp, maxTP: min(8, maxPer))
                : Recommender.recommend(a, w, gpus: [t], options: options, tp: job.tp, pp: job.pp, maxTP: min(8, maxPer))
            guard let r = recs.first, r.count <= maxPer else { continue }
            var replicas = 1
            if let target = serving.target {
                let e = Estimator.estimate(a, w, r.split, gpu: t, options: options)
                let engine = Speed.serving(a, w, e, split: r.split, gpu: t, options: options, request: serving, quantization: quantization)
                guard let (n, _) = Speed.replicas(
                    for: target, a, w, e, serving: engine, split: r.split, gpu: t, format: Speed.weightFormat(w, quantization: quantization),
                    efficiencies: serving.efficiencies)
                else { continue }
                replicas = n
            }
            let shape = UnitShape(
                gpuType: t.id, gpus: r.count, tp: r.split.tp, pp: r.split.pp, dp: 1, strategy: .replica, sameServer: true,
                perGPUBytes: r.perGPUTotal, fabric: job.fabricRequirement)
            sized.append((shape, replicas, Double(replicas * r.count) * t.hourlyUSD))
        }
        // The cheapest per hour; a type without a price (0) after every priced one, then fewest GPUs.
        func cost(_ x: (shape: UnitShape, replicas: Int, perHour: Double)) -> Double { x.perHour > 0 ? x.perHour : .infinity }
        guard let best = sized.min(by: { (cost($0), $0.replicas * $0.shape.gpus, $0.shape.gpuType) < (cost($1), $1.replicas * $1.shape.gpus, $1.shape.gpuType) })
        else {
            let what = serving.target.map {
                "\($0.users) users at \($0.context) tokens and \(Self.rate($0.tokensPerSecond)) tokens/s each"
                    + ($0.ttft.map { " within \(Self.rate($0))s to the first token" } ?? "")
            }
            return ([], "no GPU type in the fleet serves it\(what.map { " at " + $0 } ?? "") with one replica inside a server"
                + (serving.engine == .vllm ? " (vLLM's start-up check)" : ""), nil)
        }
        let replicas = serving.target == nil ? job.replicas : best.replicas
        return (sorted(sized.filter { $0.replicas <= replicas }.map(\.shape)), nil, serving.target == nil ? nil : replicas)
    }

    static func rate(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(format: "%g", x) }

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
        let sizing = sizing(for: j)
        let placed = ignorePlaced ? Set<Int>() : Set(j.placements.map(\.replica))
        return (0..<(sizing.replicas ?? j.job.replicas)).filter { !placed.contains($0) }.map {
            JobUnit(job: j.name, replica: $0, priority: j.job.priority, shapes: sizing.shapes, noShapeReason: sizing.reason)
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
            // A server that takes no new work (cordoned, drained, down) keeps what it holds and offers nothing.
            let free = s.takesWork ? s.gpus.filter { $0.job == nil || ignoring.contains($0.job!) } : []
            let hostUsed = s.gpus.filter { $0.job != nil && !ignoring.contains($0.job!) }.reduce(0) { $0 + $1.hostBytes }
            let fabric = Fabric.named(s.fabric) ?? .none
            return ServerState(
                name: s.name, gpuType: s.gpuType, gpuCount: s.gpuCount, free: free.map(\.index), hostFree: s.hostMemoryBytes - hostUsed,
                gpuMemory: s.gpuMemoryBytes, network: network(site: s.site, fabric: fabric), fabricGbps: fabric.gbps, fabricRDMA: fabric.rdma)
        }
    }
}
