import ArgumentParser
import Inventory
import MemoryEstimation
import PlanCore
import PlanModel

/// A user-facing error of the command layer: one sentence naming the bad value and what is valid.
public struct PlanError: Error, CustomStringConvertible {
    public var message: String
    /// 1 for runtime problems, 64 for bad usage.
    public var exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public static func usage(_ message: String) -> PlanError { PlanError(message, exitCode: 64) }

    public var description: String { message }
}

/// Exit codes are part of the interface.
public enum ExitCode {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    /// The command computed its result, but some jobs could not be placed (`plan place --strict`).
    public static let unplaced: Int32 = 3
    public static let usage: Int32 = 64
}

/// Maps any error to one line of text and an exit code.
func describe(_ error: Error) -> (String, Int32) {
    switch error {
    case let e as PlanError: return (e.message, e.exitCode)
    case let e as StoreError: return (e.cliMessage, ExitCode.failure)
    case let e as CoreError: return (e.description, ExitCode.failure)
    case let e as EstimateError: return (e.cliMessage, ExitCode.usage)
    case let e as JobError: return (e.cliMessage, ExitCode.usage)
    case let e as ConfigError: return (e.message, ExitCode.failure)
    case let e as ModelSourceError: return (e.description, ExitCode.failure)
    case let e as RowError: return (e.description, ExitCode.failure)
    case let e as ValidationError: return (e.message, ExitCode.usage)
    default: return ("\(error)", ExitCode.failure)
    }
}

extension EstimateError {
    /// The error in the CLI's terms: the flag, the value, and what is valid.
    var cliMessage: String {
        switch self {
        case .outOfRange(let s, let v, let valid): "invalid --\(s.rawValue) \(v); expected \(valid)"
        case .tooLarge(let b, let s):
            "--batch \(b) x --seq \(s) is too large for this model: the memory would exceed 4 exabytes; reduce --batch or --seq"
        case .tensorParallel(let tp, let heads, let valid):
            "--tp \(tp) must divide the model's \(heads) attention heads; valid: \(valid.map(String.init).joined(separator: ", "))"
        case .pipelineStages(let pp, let layers): "--pp \(pp) must be between 1 and the model's \(layers) layers"
        case .dataParallel: "the data-parallel degree must be at least 1"
        case .fullTrainingOfQuantized(let d):
            "--dtype \(d.rawValue) cannot be trained in full; use fp32, bf16 or fp16, or --method lora/qlora for a quantized base"
        case .loraTargets(let t, let type, let valid):
            "invalid --lora-targets '\(t.joined(separator: ","))' for model_type '\(type)'; valid: \(valid.joined(separator: ", "))"
        case .loraHalfOfFusedPair(let pair, let type):
            "--lora-targets: PEFT fuses \(pair.joined(separator: " and ")) into the experts' gate_up_proj on model_type '\(type)'; target both or neither"
        case .offloadNeedsSharding(.params): "--offload params needs --strategy zero3 or fsdp"
        case .offloadNeedsSharding: "--offload optimizer over several GPUs needs a sharded strategy: --strategy zero1, zero2, zero3 or fsdp"
        case .offloadNeedsTraining: "--offload applies to training (--mode train)"
        }
    }
}

extension StoreError {
    /// The error in the CLI's terms: the store's sentence, naming the flag where one is the fix.
    var cliMessage: String {
        switch self {
        case .folderMissing(let path, let folder):
            "cannot open database '\(path)': the folder '\(folder)' does not exist; create it or pick another --db path"
        case .schemaNewer(let path, let version, let known):
            "database '\(path)' has schema version \(version), newer than this plan understands (up to \(known)); "
                + "use a newer plan or another --db"
        case .serverRunsJobs(let server, let jobs):
            "server '\(server)' runs \(jobs.count) placed job(s) (\(jobs.joined(separator: ", "))); "
                + "unplace them first or pass --force to unplace them"
        case .serverChangeRunsJobs(let server, let change, let jobs):
            "server '\(server)' changes (\(change)) but runs \(jobs.count) placed job(s) (\(jobs.joined(separator: ", "))); "
                + "unplace them first or pass --force to unplace them"
        case .duplicateModel(let id): "a model named '\(id)' already exists; choose another --id"
        case .aliasTaken(let alias): "the alias '\(alias)' already names a model; choose another --alias"
        case .aliasRepeated: "an --alias is given twice; give each alias once"
        default: description
        }
    }
}

extension JobError {
    /// The error in the CLI's terms, naming `plan job add`'s flags (and the import columns).
    var cliMessage: String {
        switch self {
        case .memoryForModelJob(let j): "job '\(j)': --gpu-memory is for pre-sized jobs; a --model job is sized by the estimator (not both)"
        case .gpusNotMultipleOfGroup(let j, let g, let group): "job '\(j)': --gpus \(g) must be a multiple of --tp x --pp = \(group)"
        case .modeMissing(let j): "job '\(j)': give --mode train or --mode infer for a model job"
        case .replicasForTraining(let j): "job '\(j)': --replicas is for inference; a training job is one gang (use --gpus for its size)"
        case .estimate(let j, let e): "job '\(j)': \(e.cliMessage)"
        case .neitherModelNorSized(let j): "job '\(j)': give --model MODEL --mode train|infer, or a pre-sized job with --gpus N --gpu-memory SIZE"
        case .replicasForSized(let j): "job '\(j)': --replicas is for inference model jobs"
        case .splitForSized(let j): "job '\(j)': --strategy, --tp, --pp and --offload are for --model jobs; a pre-sized job is N whole GPUs"
        case .servingForTraining(let j):
            "job '\(j)': --engine, the vLLM settings and --users/--context/--tokens-per-s are for --model jobs with --mode infer"
        case .replicasWithTraffic(let j):
            "job '\(j)': --users/--context/--tokens-per-s set the replicas per GPU type; drop --replicas"
        }
    }
}
