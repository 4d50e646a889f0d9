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
    public var recommendations: [CostedRecommendation]
    /// The weight layout from the config's quantization_config, when it set the weights.
    public var quantization: QuantizedWeights?
    public var serving: ServingEstimate?
    public var servingSpeed: ServingSpeed?
    public var training: TrainingTime?
    public var hourlyUSD: Double?
    public var speed: SpeedRequest

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
        modelID: String, architecture: ModelArchitecture, checkpoint: CheckpointSummary?, workload: Workload, gpu: GPUType?,
        result: EstimateResult, speed: SpeedRequest
    ) {
        self.modelID = modelID
        self.architecture = architecture
        self.checkpoint = checkpoint
        self.workload = workload
        self.estimate = result.estimate
        self.gpu = gpu
        self.options = result.options
        self.recommendations = result.recommendations
        self.quantization = result.quantization
        self.serving = result.serving
        self.servingSpeed = result.servingSpeed
        self.training = result.training
        self.hourlyUSD = result.hourlyUSD
        self.speed = speed
    }

    var notes: [String] { EstimateAdvice.notes(estimate, workload) }
    var assumptions: [String] {
        EstimateAdvice.assumptions(
            estimate, workload, options: options, quantization: quantization?.description,
            checkpoint: checkpoint.map { ($0.files, $0.bytes) })
            + EstimateAdvice.speedAssumptions(workload, speed: speed, serving: serving, hasSpeed: servingSpeed != nil || training != nil)
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
            var replicas: Int
            var gpusTotal: Int
            var hourlyUsd: Double
            var timeS: Double?
            var gpuHours: Double?
            var runCost: Double?
            var decodeTokensPerS: Double?
            var timeToFirstTokenS: Double?
            var costPerMillionTokens: Double?
            var maxConcurrency: Double?
        }
        struct Serving: Encodable {
            var engine: String
            var sampler: String?
            var totalBytes: Int
            var usableBytes: Int
            var weightsBytes: Int
            var nonTorchBytes: Int
            var activationPeakBytes: Int
            var cudaGraphBytes: Int
            var kvCacheBytes: Int
            var kvCacheTokens: Int
            var kvBytesPerToken: Int
            var blockSize: Int
            var numGpuBlocks: Int
            var maxModelLen: Int
            var maxNumBatchedTokens: Int
            var maxNumSeqs: Int
            var gpuMemoryUtilization: Double
            var maxConcurrency: Double
            var fits: Bool
            var longestContext: Int?
            var utilizationNeeded: Double?
        }
        struct Throughput: Encodable {
            var batch: Int
            var context: Int
            var prompt: Int
            var computeDtype: String
            var peakTflops: Double
            var boundBy: String
            var decodeTokensPerS: Double
            var decodeTokensPerSPerSequence: Double
            var timePerOutputTokenS: Double
            var rooflineDecodeTokensPerSPerSequence: Double
            var prefillTokensPerS: Double
            var timeToFirstTokenS: Double
            var hourlyUsd: Double?
            var costPerMillionTokens: Double?
            var efficiencies: [String: Double]
        }
        struct Training: Encodable {
            var tokens: Double
            var steps: Double
            var timeS: Double
            var gpuHours: Double
            var hourlyUsd: Double?
            var runCost: Double?
            var tokensPerSPerGpu: Double
            var modelTflopsPerGpu: Double
            var impliedMfu: Double
            var modelFlopsPerToken: Double
            var executedFlopsPerToken: Double
            var computeDtype: String
            var peakTflops: Double
            var computeSPerStep: Double
            var dataParallelSPerStep: Double
            var tensorParallelSPerStep: Double
            var dataParallelLink: String
            var efficiencies: [String: Double]
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
        var serving: Serving?
        var throughput: Throughput?
        var trainingTime: Training?
        var checkpoint: CheckpointSummary?
        var headroomFraction: Double
        var warnings: [String]
        var notes: [String]
        var assumptions: [String]
    }

    var fits: Bool? {
        if let s = serving, s.engine == .vllm { return s.fits }
        return gpu.map { Estimator.fits(estimate, gpu: $0, headroom: options.headroom) }
    }

    var efficiencies: [String: Double] { Dictionary(uniqueKeysWithValues: speed.efficiencies.named) }

    /// One replica's GPUs x the hourly price over the tokens it decodes in an hour, per million.
    var costPerMillion: Double? {
        guard let s = servingSpeed, let h = hourlyUSD, h > 0, s.decodeTokensPerSecond > 0 else { return nil }
        return Double(estimate.split.gpus) * h / (s.decodeTokensPerSecond * 3600) * 1e6
    }

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
            gpu: gpu.map { .init(id: $0.id, memoryBytes: $0.memoryBytes, usableBytes: MemoryLine.usable($0.memoryBytes, headroom: options.headroom)) },
            hostMemoryBytes: e.hostBytes, reservedBytes: e.reservedBytes, kvCapacityTokens: e.kvCapacityTokens,
            overheadParts: e.overheadParts, workload: workload,
            recommendations: recommendations.map { c in
                let r = c.recommendation
                return .init(
                    gpu: r.gpu, count: r.count, strategy: r.split.strategy.rawValue, tp: r.split.tp, pp: r.split.pp, dp: r.split.dp,
                    perGpuTotal: r.perGPUTotal, headroom: r.headroom, price: r.cost, replicas: c.replicas, gpusTotal: c.gpus,
                    hourlyUsd: c.hourlyUSD, timeS: c.timeSeconds, gpuHours: c.gpuHours, runCost: c.runCost,
                    decodeTokensPerS: c.decodeTokensPerSecond, timeToFirstTokenS: c.timeToFirstToken,
                    costPerMillionTokens: c.costPerMillionTokens, maxConcurrency: c.maxConcurrency)
            },
            serving: serving.map {
                .init(
                    engine: $0.engine.rawValue, sampler: $0.sampler?.rawValue, totalBytes: $0.totalBytes, usableBytes: $0.usableBytes, weightsBytes: $0.weightsBytes,
                    nonTorchBytes: $0.nonTorchBytes, activationPeakBytes: $0.activationPeakBytes, cudaGraphBytes: $0.cudaGraphBytes,
                    kvCacheBytes: $0.kvCacheBytes, kvCacheTokens: $0.kvCacheTokens, kvBytesPerToken: $0.kvBytesPerToken,
                    blockSize: $0.blockSize, numGpuBlocks: $0.blocks, maxModelLen: $0.maxModelLen, maxNumBatchedTokens: $0.maxNumBatchedTokens,
                    maxNumSeqs: $0.maxNumSeqs, gpuMemoryUtilization: $0.gpuMemoryUtilization, maxConcurrency: $0.maxConcurrency,
                    fits: $0.fits, longestContext: $0.longestContext, utilizationNeeded: $0.utilizationNeeded)
            },
            throughput: servingSpeed.map {
                .init(
                    batch: $0.batch, context: $0.context, prompt: $0.prompt, computeDtype: $0.computeDType, peakTflops: $0.peakFLOPS / 1e12,
                    boundBy: $0.decodeBoundBy, decodeTokensPerS: $0.decodeTokensPerSecond,
                    decodeTokensPerSPerSequence: $0.decodeTokensPerSecondPerSequence, timePerOutputTokenS: $0.timePerOutputToken,
                    rooflineDecodeTokensPerSPerSequence: $0.rooflineTokensPerSecondPerSequence, prefillTokensPerS: $0.prefillTokensPerSecond,
                    timeToFirstTokenS: $0.timeToFirstToken, hourlyUsd: hourlyUSD, costPerMillionTokens: costPerMillion,
                    efficiencies: efficiencies)
            },
            trainingTime: training.map { t in
                .init(
                    tokens: t.tokens, steps: t.steps, timeS: t.seconds, gpuHours: t.gpuHours, hourlyUsd: hourlyUSD,
                    runCost: hourlyUSD.flatMap { $0 > 0 ? $0 * t.gpuHours : nil }, tokensPerSPerGpu: t.tokensPerSecondPerGPU,
                    modelTflopsPerGpu: t.modelTFLOPSPerGPU, impliedMfu: t.impliedMFU, modelFlopsPerToken: t.modelFLOPsPerToken,
                    executedFlopsPerToken: t.executedFLOPsPerToken, computeDtype: t.computeDType, peakTflops: t.peakFLOPS / 1e12,
                    computeSPerStep: t.computeSecondsPerStep, dataParallelSPerStep: t.dataParallelSecondsPerStep,
                    tensorParallelSPerStep: t.tensorParallelSecondsPerStep, dataParallelLink: t.dataParallelLink,
                    efficiencies: efficiencies)
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
        if let v = serving, v.engine == .vllm {
            out += "\n" + vllmTable(v)
        }
        if let gpu, let fits {
            if let v = serving, v.engine == .vllm {
                out += "\n\(fits ? "Starts" : "Does not start") on one \(gpu.id) with vLLM: KV cache for \(Human.grouped(v.kvCacheTokens)) tokens, "
                out += String(format: "%.2f", v.maxConcurrency) + " requests of \(Human.grouped(v.maxModelLen)) tokens at once\n"
            } else {
                let usable = MemoryLine.usable(gpu.memoryBytes, headroom: options.headroom)
                out += "\n\(fits ? "Fits" : "Does not fit") one \(gpu.id) (\(Human.gib(gpu.memoryBytes)), \(Human.gib(usable)) usable with \(percent(options.headroom)) headroom)"
                out += fits ? "\n" : ": needs \(Human.gib(e.total)) per GPU\n"
            }
        }
        if let s = servingSpeed {
            out += "\nSpeed of one replica (\(s.batch) sequence\(s.batch == 1 ? "" : "s") at \(Human.grouped(s.context)) tokens, "
            out += "\(s.computeDType) peak \(Self.number(s.peakFLOPS / 1e12)) TFLOPS; decode \(s.decodeBoundBy)-bound):\n"
            out += "  decode \(Self.number(s.decodeTokensPerSecond)) tokens/s (\(Self.number(s.decodeTokensPerSecondPerSequence)) per sequence, "
            out += "\(Self.number(s.timePerOutputToken * 1000)) ms per token; roofline \(Self.number(s.rooflineTokensPerSecondPerSequence)))\n"
            out += "  prefill \(Self.number(s.prefillTokensPerSecond)) tokens/s; time to first token \(Self.number(s.timeToFirstToken * 1000)) ms "
            out += "for a \(Human.grouped(s.prompt))-token prompt\n"
            if let c = costPerMillion { out += "  $\(Self.number(c)) per million output tokens at $\(Self.number(hourlyUSD ?? 0))/GPU-hour\n" }
        }
        if let t = training {
            out += "\nTime to train \(Human.grouped(Int(t.tokens))) tokens on \(e.split.gpus) x \(gpu?.id ?? "-"): \(Self.duration(t.seconds)), "
            out += "\(Self.number(t.gpuHours)) GPU-hours"
            if let h = hourlyUSD, h > 0 { out += ", $\(Human.grouped(Int((t.gpuHours * h).rounded())))" }
            out += "\n  \(Self.number(t.tokensPerSecondPerGPU)) tokens/s per GPU, \(Self.number(t.modelTFLOPSPerGPU)) model TFLOPS per GPU "
            out += "(MFU \(Self.number(t.impliedMFU * 100))% of \(t.computeDType) \(Self.number(t.peakFLOPS / 1e12)) TFLOPS)\n"
        }
        if !recommendations.isEmpty {
            let byWork = speed.ranksByWork
            out += "\nWhich GPUs, how many (\(byWork ? "cheapest work first" : "cheapest first"); "
            out += speed.engine == .vllm && w.mode == .infer ? "vLLM's start-up check):\n" : "\(percent(options.headroom)) headroom):\n"
            let training = w.mode == .train
            var header = ["GPU", "COUNT", "STRATEGY", "TP", "PP", "PER GPU", "FREE", "GPU PRICE", "$/GPU-H"]
            if training { header += ["TIME", "GPU-HOURS", "RUN COST"] } else { header += ["TOK/S", "TTFT", "$/M TOK"] }
            if speed.target != nil { header.insert("REPLICAS", at: 2) }
            var r = TextTable(header, rightAligned: Set(1..<header.count).subtracting([speed.target != nil ? 3 : 2]))
            for c in recommendations {
                let x = c.recommendation
                var row = [x.gpu, String(c.gpus), training ? x.split.strategy.rawValue : "-", String(x.split.tp), String(x.split.pp),
                           Human.gib(x.perGPUTotal), Human.gib(x.headroom), Human.usd(x.cost), c.hourlyUSD > 0 ? Self.number(c.hourlyUSD) : "-"]
                if training {
                    row += [c.timeSeconds.map(Self.duration) ?? "-", c.gpuHours.map(Self.number) ?? "-",
                            c.runCost.map { "$" + Human.grouped(Int($0.rounded())) } ?? "-"]
                } else {
                    row += [c.decodeTokensPerSecond.map(Self.number) ?? "-", c.timeToFirstToken.map { Self.number($0 * 1000) + " ms" } ?? "-",
                            c.costPerMillionTokens.map { "$" + Self.number($0) } ?? "-"]
                }
                if speed.target != nil { row.insert(String(c.replicas), at: 2) }
                r.add(row)
            }
            out += r.render()
        } else if speed.target != nil {
            out += "\nNo GPU type in the catalog carries this traffic: no replica both holds a user's context and decodes at "
            out += "--tokens-per-s for one user\(speed.target?.ttft != nil ? ", within --ttft" : "").\n"
        } else if speed.deadline != nil {
            out += "\nNo GPU in the catalog does this work within the deadline with up to 1024 GPUs.\n"
        } else {
            out += "\nNo GPU in the catalog fits this workload with up to 1024 GPUs.\n"
        }
        for n in notes { out += "\nNote: \(n)\n" }
        if !e.warnings.isEmpty { out += "\n" + e.warnings.map { "Warning: \($0)" }.joined(separator: "\n") + "\n" }
        out += "\nAssumptions:\n" + assumptions.map { "- \($0)" }.joined(separator: "\n") + "\n"
        return out
    }

    func percent(_ f: Double) -> String { "\(Int((f * 100).rounded()))%" }

    /// vLLM's start-up accounting, term by term.
    func vllmTable(_ v: ServingEstimate) -> String {
        var out = "vLLM start-up on one GPU (CUDA total \(Human.gib(v.totalBytes))\(v.totalMeasured ? "" : ", estimated")"
        out += " x gpu_memory_utilization \(v.gpuMemoryUtilization); max_model_len \(v.maxModelLen), max_num_batched_tokens "
        out += "\(v.maxNumBatchedTokens), max_num_seqs \(v.maxNumSeqs), block_size \(v.blockSize)\(v.sampler.map { ", \($0.rawValue) sampler" } ?? "")):\n"
        var t = TextTable(["TERM", "BYTES", "GiB"], rightAligned: [1, 2])
        for (name, b) in [
            ("usable", v.usableBytes), ("- weights", v.weightsBytes), ("- non-torch", v.nonTorchBytes),
            ("- activation peak", v.activationPeakBytes), ("- cuda graphs", v.cudaGraphBytes), ("= kv cache", v.kvCacheBytes),
        ] {
            t.add([name, Human.grouped(b), Human.gib(b)])
        }
        out += t.render()
        out += "KV cache: \(Human.grouped(v.blocks)) blocks of \(v.blockSize) tokens, \(Human.grouped(v.kvCacheTokens)) tokens\n"
        return out
    }

    /// A rate or price with three significant digits (1,234; 123; 12.3; 1.23; 0.123).
    static func number(_ x: Double) -> String {
        if !x.isFinite { return "-" }
        let a = abs(x)
        if a >= 1000 { return Human.grouped(Int(x.rounded())) }
        if a >= 100 { return String(format: "%.0f", x) }
        if a >= 10 { return String(format: "%.1f", x) }
        if a >= 1 { return String(format: "%.2f", x) }
        return String(format: "%.3f", x)
    }

    /// Seconds as hours or days (and minutes for short runs).
    static func duration(_ s: Double) -> String {
        if s < 3600 { return "\(Int((s / 60).rounded(.up))) min" }
        if s < 72 * 3600 { return number(s / 3600) + " h" }
        return number(s / 86400) + " days"
    }
}
