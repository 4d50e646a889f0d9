import MemoryEstimation
import PlanCore
import PlanModel

/// `plan estimate`: the bytes per GPU, component by component, whether it fits, and which GPUs.
public struct EstimateReport: Report {
    /// What `--model` named: its id (catalog id or path), architecture and checkpoint.
    public var modelID: String
    public var architecture: ModelArchitecture
    public var checkpoint: CheckpointSummary?
    public var workload: Workload
    public var estimate: MemoryEstimate
    public var gpu: GPUType?
    public var options: EstimateOptions
    public var recommendations: [Recommendation]
    /// The weight layout from the config's quantization_config, when it set the weights.
    public var quantization: QuantizedWeights?

    /// A checkpoint folder's safetensors headers, summed.
    public struct CheckpointSummary: Encodable, Sendable {
        public var files: Int
        public var tensors: Int
        public var bytes: Int
        public var elements: Int
        public var bytesByDtype: [String: Int]
        public init(files: Int, tensors: Int, bytes: Int, elements: Int, bytesByDtype: [String: Int]) {
            self.files = files
            self.tensors = tensors
            self.bytes = bytes
            self.elements = elements
            self.bytesByDtype = bytesByDtype
        }
    }

    public init(
        modelID: String, architecture: ModelArchitecture, checkpoint: CheckpointSummary?, workload: Workload, estimate: MemoryEstimate,
        gpu: GPUType?, options: EstimateOptions, recommendations: [Recommendation], quantization: QuantizedWeights?
    ) {
        self.modelID = modelID
        self.architecture = architecture
        self.checkpoint = checkpoint
        self.workload = workload
        self.estimate = estimate
        self.gpu = gpu
        self.options = options
        self.recommendations = recommendations
        self.quantization = quantization
    }

    var notes: [String] { EstimateAdvice.notes(estimate, workload) }
    var assumptions: [String] {
        EstimateAdvice.assumptions(
            estimate, workload, options: options, quantization: quantization?.description,
            checkpoint: checkpoint.map { ($0.files, $0.bytes) })
    }

    public struct JSON: Encodable {
        struct Model: Encodable {
            var id: String
            var parameters: Int
            var trainableParameters: Int
            var activeParameters: Int
            var mtpParameters: Int
        }
        struct PerGPU: Encodable {
            var weights, gradients, optimizerStates, masterWeights, activations, kvCache, overhead, total: Int
        }
        struct Split: Encodable {
            var strategy: String
            var dp, tp, pp: Int
            var offload: String
        }
        struct Rec: Encodable {
            var gpu: String
            var count: Int
            var strategy: String
            var tp, pp, dp: Int
            var perGpuTotal: Int
            var headroom: Int
            var price: Int
        }
        struct GPU: Encodable {
            var id: String
            var memoryBytes: Int
            var usableBytes: Int
        }
        var model: Model
        var perGpu: PerGPU
        var gpus: Int
        var split: Split
        var fits: Bool?
        var gpu: GPU?
        var hostMemoryBytes: Int
        var reservedBytes: Int?
        var kvCapacityTokens: Int?
        var overheadParts: [String: Int]
        var workload: Workload
        var recommendations: [Rec]
        var checkpoint: CheckpointSummary?
        var headroomFraction: Double
        var warnings: [String]
        var notes: [String]
        var assumptions: [String]
    }

    var fits: Bool? { gpu.map { Estimator.fits(estimate, gpu: $0, headroom: options.headroom) } }

    public var document: JSON {
        let e = estimate
        return JSON(
            model: .init(
                id: modelID, parameters: e.parameters, trainableParameters: e.trainableParameters, activeParameters: e.activeParameters,
                mtpParameters: ParameterCount(architecture).mtp),
            perGpu: .init(
                weights: e.weights, gradients: e.gradients, optimizerStates: e.optimizerStates, masterWeights: e.masterWeights,
                activations: e.activations, kvCache: e.kvCache, overhead: e.overhead, total: e.total),
            gpus: e.gpus,
            split: .init(strategy: e.split.strategy.rawValue, dp: e.split.dp, tp: e.split.tp, pp: e.split.pp, offload: e.split.offload.rawValue),
            fits: fits,
            gpu: gpu.map { .init(id: $0.id, memoryBytes: $0.memoryBytes, usableBytes: Int(Double($0.memoryBytes) * (1 - options.headroom))) },
            hostMemoryBytes: e.hostBytes, reservedBytes: e.reservedBytes, kvCapacityTokens: e.kvCapacityTokens,
            overheadParts: e.overheadParts, workload: workload,
            recommendations: recommendations.map {
                .init(gpu: $0.gpu, count: $0.count, strategy: $0.split.strategy.rawValue, tp: $0.split.tp, pp: $0.split.pp, dp: $0.split.dp,
                      perGpuTotal: $0.perGPUTotal, headroom: $0.headroom, price: $0.cost)
            },
            checkpoint: checkpoint,
            headroomFraction: options.headroom, warnings: e.warnings, notes: notes, assumptions: assumptions)
    }

    var components: [(String, Int)] {
        let e = estimate
        return [
            ("weights", e.weights), ("gradients", e.gradients), ("optimizer_states", e.optimizerStates),
            ("master_weights", e.masterWeights), ("activations", e.activations), ("kv_cache", e.kvCache),
            ("overhead", e.overhead), ("total", e.total),
        ]
    }

    public var csv: String {
        CSVWriter.render(header: ["component", "bytes"], rows: components.map { [$0.0, String($0.1)] })
    }

    public var table: String {
        let e = estimate
        let w = workload
        var out = ""
        out += "Model \(modelID): \(Human.grouped(e.parameters)) parameters"
        if e.activeParameters != e.parameters { out += " (\(Human.grouped(e.activeParameters)) active per token)" }
        out += "\n"
        if w.mode == .train {
            out += "Workload: train \(w.method.rawValue), \(w.dtype.rawValue) \(w.precision.rawValue) precision, \(w.optimizer.rawValue), "
            out += "batch \(w.batch) x \(w.seq) tokens, \(w.attention.rawValue) attention\(w.checkpointing ? ", checkpointing" : "")"
            out += "; trainable \(Human.grouped(e.trainableParameters))\n"
        } else {
            out += "Workload: serve, \(w.dtype.rawValue) weights, KV \(w.kvDType?.rawValue ?? "compute dtype"), batch \(w.batch) x \(w.seq) tokens\n"
        }
        let s = e.split
        out += "Split: \(s.gpus) GPU\(s.gpus == 1 ? "" : "s") (\(w.mode == .train ? s.strategy.rawValue + ", " : "")dp \(s.dp), tp \(s.tp), pp \(s.pp)"
        out += s.offload == .none ? ")\n\n" : ", offload \(s.offload.rawValue); host memory \(Human.gib(e.hostBytes)) per GPU)\n\n"
        var t = TextTable(["COMPONENT (PER GPU)", "BYTES", "GiB"], rightAligned: [1, 2])
        for (name, bytes) in components {
            if name == "total" { t.add(["", "", ""]) }
            t.add([name, Human.grouped(bytes), Human.gib(bytes)])
        }
        out += t.render()
        if let r = e.reservedBytes {
            out += "Serving reservation: \(Human.gib(r)) per GPU (--gpu-memory-utilization); room for \(Human.grouped(e.kvCapacityTokens ?? 0)) KV tokens\n"
        }
        if let gpu, let fits {
            let usable = Int(Double(gpu.memoryBytes) * (1 - options.headroom))
            out += "\n\(fits ? "Fits" : "Does not fit") one \(gpu.id) (\(Human.gib(gpu.memoryBytes)), \(Human.gib(usable)) usable with \(percent(options.headroom)) headroom)"
            out += fits ? "\n" : ": needs \(Human.gib(e.total)) per GPU\n"
        }
        if !recommendations.isEmpty {
            out += "\nWhich GPUs, how many (cheapest first; \(percent(options.headroom)) headroom):\n"
            var r = TextTable(["GPU", "COUNT", "STRATEGY", "TP", "PP", "PER GPU", "FREE", "GPU PRICE"], rightAligned: [1, 3, 4, 5, 6, 7])
            for x in recommendations {
                r.add([x.gpu, String(x.count), w.mode == .train ? x.split.strategy.rawValue : "-", String(x.split.tp), String(x.split.pp),
                       Human.gib(x.perGPUTotal), Human.gib(x.headroom), Human.usd(x.cost)])
            }
            out += r.render()
        } else {
            out += "\nNo GPU in the catalog fits this workload with up to 1024 GPUs.\n"
        }
        for n in notes { out += "\nNote: \(n)\n" }
        if !e.warnings.isEmpty { out += "\n" + e.warnings.map { "Warning: \($0)" }.joined(separator: "\n") + "\n" }
        out += "\nAssumptions:\n" + assumptions.map { "- \($0)" }.joined(separator: "\n") + "\n"
        return out
    }

    func percent(_ f: Double) -> String { "\(Int((f * 100).rounded()))%" }
}
