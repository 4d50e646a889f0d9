import MemoryEstimation
import PlanModel

/// A job as a front end received it (flags or an import row), before validation.
public struct JobRequest: Sendable {
    public var name: String
    /// A catalog id, alias or path; nil for a pre-sized job.
    public var model: String?
    public var workload = Workload()
    /// Whether a mode was given (a model job must say train or infer).
    public var modeGiven = false
    /// Whether a weight dtype was given; if not, a model served keeps its config's quantized layout.
    public var dtypeGiven = false
    public var offload: Offload = .none
    public var fp32Grads = false
    public var quantGroupSize: Int?
    public var replicas = 1
    public var priority = 0
    public var gpus: Int?
    public var gpuMemory: Int?
    public var sameServer = false
    public var gpuTypes: [String] = []
    public var headroom: Double?
    public var strategy: Strategy?
    public var tp: Int?
    public var pp: Int?
    /// A fabric id or "any": the least network it needs to span servers.
    public var minFabric: String?
    /// Serving: the engine and the traffic (users, context, tokens per second) that size the replicas.
    public var serving: SpeedRequest?

    public init(name: String) { self.name = name }
}

/// A model the request names, resolved by the front end (a catalog entry, or a config it read).
public struct ResolvedJobModel: Sendable {
    public var architecture: ModelArchitecture
    public var config: JSONValue
    /// The catalog id when it came from the catalog (the job then refers to it).
    public var catalogID: String?
    public init(architecture: ModelArchitecture, config: JSONValue, catalogID: String?) {
        self.architecture = architecture
        self.config = config
        self.catalogID = catalogID
    }
}

/// Why a job request is refused: each case names the job and the setting.
public enum JobError: Error, Equatable, Sendable, CustomStringConvertible {
    case memoryForModelJob(job: String)
    case gpusNotMultipleOfGroup(job: String, gpus: Int, group: Int)
    case modeMissing(job: String)
    case replicasForTraining(job: String)
    case estimate(job: String, EstimateError)
    case neitherModelNorSized(job: String)
    case replicasForSized(job: String)
    case splitForSized(job: String)
    case servingForTraining(job: String)
    case replicasWithTraffic(job: String)

    public var description: String {
        switch self {
        case .memoryForModelJob(let j): "job '\(j)': a model job is sized by the estimator; it takes no GPU memory of its own"
        case .gpusNotMultipleOfGroup(let j, let g, let group): "job '\(j)': \(g) GPUs must be a multiple of tp x pp = \(group)"
        case .modeMissing(let j): "job '\(j)': a model job must say whether it trains or serves"
        case .replicasForTraining(let j): "job '\(j)': replicas are for inference; a training job is one gang"
        case .estimate(let j, let e): "job '\(j)': \(e)"
        case .neitherModelNorSized(let j): "job '\(j)': give a model and a mode, or a GPU count and GPU memory"
        case .replicasForSized(let j): "job '\(j)': replicas are for inference model jobs"
        case .splitForSized(let j): "job '\(j)': strategy, tp, pp and offload are for model jobs; a pre-sized job is N whole GPUs"
        case .servingForTraining(let j): "job '\(j)': a serving engine and traffic are for model jobs that serve"
        case .replicasWithTraffic(let j): "job '\(j)': its traffic sets the replicas; give users, context and tokens per second, or replicas, not both"
        }
    }
}

/// The rules a job must meet before it is stored (one place for every front end: flags, import
/// files, the demo).
public enum JobRules {
    /// Validates `r`; `resolve` turns its model name into an architecture (the front end reads files
    /// or the catalog). Returns what the store keeps.
    public static func validate(_ r: JobRequest, resolve: (String) throws -> ResolvedJobModel) throws -> NewJob {
        let group = (r.tp ?? 1) * (r.pp ?? 1)
        if let model = r.model {
            if r.gpuMemory != nil { throw JobError.memoryForModelJob(job: r.name) }
            if let g = r.gpus, g % group != 0 { throw JobError.gpusNotMultipleOfGroup(job: r.name, gpus: g, group: group) }
            guard r.modeGiven else { throw JobError.modeMissing(job: r.name) }
            let resolved = try resolve(model)
            let w = r.workload
            if w.mode == .train && r.replicas != 1 { throw JobError.replicasForTraining(job: r.name) }
            if w.mode == .train && r.serving != nil { throw JobError.servingForTraining(job: r.name) }
            if r.serving?.target != nil && r.replicas != 1 { throw JobError.replicasWithTraffic(job: r.name) }
            let dp = max(1, (r.gpus ?? 1) / group)
            do {
                try Estimator.validate(
                    resolved.architecture, w,
                    ParallelSplit(
                        strategy: r.strategy ?? .defaultFor(offload: r.offload, dataParallel: dp), dp: dp, tp: r.tp ?? 1,
                        pp: r.pp ?? 1, offload: r.offload))
                if let t = r.serving?.target { try Speed.check(t, resolved.architecture, r.serving!) }
            } catch let e as EstimateError {
                throw JobError.estimate(job: r.name, e)
            }
            let spec = JobSpec(
                workload: w, offload: r.offload, fp32Grads: r.fp32Grads, quantGroupSize: r.quantGroupSize, serving: r.serving,
                configWeights: w.mode == .infer && !r.dtypeGiven ? true : nil)
            return NewJob(
                name: r.name, kind: .llm, mode: w.mode, modelID: resolved.catalogID,
                modelConfig: resolved.catalogID == nil ? resolved.config : nil, spec: spec.json, replicas: r.replicas,
                priority: r.priority, gpus: r.gpus, gpuTypes: r.gpuTypes, headroom: r.headroom, strategy: r.strategy, tp: r.tp,
                pp: r.pp, minFabric: r.minFabric)
        }
        guard let gpus = r.gpus, let gpuMemory = r.gpuMemory else { throw JobError.neitherModelNorSized(job: r.name) }
        if r.replicas != 1 { throw JobError.replicasForSized(job: r.name) }
        if r.strategy != nil || r.tp != nil || r.pp != nil || r.offload != .none { throw JobError.splitForSized(job: r.name) }
        if r.serving != nil { throw JobError.servingForTraining(job: r.name) }
        return NewJob(
            name: r.name, kind: .sized, spec: .object([:]), replicas: 1, priority: r.priority, gpus: gpus, gpuMemoryBytes: gpuMemory,
            sameServer: r.sameServer, gpuTypes: r.gpuTypes, headroom: r.headroom, minFabric: r.minFabric)
    }
}
