import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import PlanModel
import Reports

struct Estimate: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate GPU memory per GPU for training or serving a model, and which GPUs fit.",
        discussion: """
            Examples:
              plan estimate --model meta-llama/Meta-Llama-3-8B-Instruct                      (serve, bf16)
              plan estimate --model llama-3-8b --mode train --gpu h100-sxm-80gb              (full fine-tune)
              plan estimate --model llama-3-8b --mode train --gpus 4 --strategy zero3 --gpu h100
              plan estimate --model ./my-model/config.json --mode train --method qlora --gpu rtx-4090-24gb

            Components are bytes on the most loaded GPU. Formulas and sources: docs/estimator.md. \
            Needs no database: the catalogs built into plan are used, or the database's when one exists \
            (your prices and models); a missing database is not created.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Catalog id, alias (e.g. meta-llama/Meta-Llama-3-8B-Instruct), or a config.json path or folder.")
    var model: String
    @OptionGroup var workloadOptions: WorkloadOptions
    @OptionGroup var splitOptions: SplitOptions
    @Option(parsing: .unconditional, help: "Fraction of GPU memory kept free when judging a fit (default 0.1).") var headroom: Double?
    @Flag(
        name: .customLong("assume-dense"),
        help: "Estimate a model_type plan does not know as a dense Llama-style decoder even when its config has fields that signal experts, latent attention or a state space (a warning says so).")
    var assumeDense = false
    @Flag(
        name: .customLong("include-mtp"),
        help: "Serve the multi-token-prediction layers too (num_nextn_predict_layers, for speculative decoding); they are reported as mtp_parameters either way.")
    var includeMTP = false
    @Option(name: .customLong("max-recommendations"), help: "How many recommendations to print (0 = none).")
    var maxRecommendations: Int = 10
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let catalog = try Self.catalog(ctx)
        let resolved = try ModelResolver.resolve(model, catalog: catalog, assumeDense: assumeDense)
        let w = try workloadOptions.workload()
        let split = try splitOptions.split(mode: w.mode)
        var options = try workloadOptions.options(headroom: headroom)
        let gpu = try splitOptions.gpu.map { name -> GPUType in
            guard let g = catalog.gpu(named: name) else {
                throw PlanError.usage("unknown GPU '\(name)' for --gpu; valid: \(catalog.gpus.map(\.id).joined(separator: ", "))")
            }
            return g
        }
        if w.gpuMemoryUtilization != nil && gpu == nil {
            throw PlanError.usage("--gpu-memory-utilization needs --gpu to know the memory it reserves")
        }
        let a = resolved.architecture
        if w.mode == .infer, splitOptions.tp == nil, let g = splitOptions.gpus, g > 1, a.heads % split.tp != 0 {
            let valid = (1...min(a.heads, 1024)).filter { a.heads % $0 == 0 }.map { String($0 * split.pp) }
            throw PlanError.usage(
                "--gpus \(g) serves one copy with tensor parallelism over \(split.tp) GPUs, but \(split.tp) does not divide the model's "
                    + "\(a.heads) attention heads; valid --gpus: \(valid.joined(separator: ", ")) (or give --tp and --pp)")
        }
        do {
            try Estimator.validate(a, w, split)
        } catch let e as EstimateError {
            throw PlanError.usage(e.message)
        }
        if w.mode == .infer && headroom == nil { options.headroom = 0.1 }
        var checkpointWarnings: [String] = []
        if let c = resolved.checkpoint {
            if w.mode == .infer && workloadOptions.dtypeOption == nil { options.checkpointWeightBytes = c.bytes }
            let params = ParameterCount(a).total
            let unquantized = c.bytesByDType.keys.allSatisfy { ["BF16", "F16", "F32"].contains($0) }
            if unquantized && abs(c.elements - params) * 100 > params {
                checkpointWarnings.append(
                    "the checkpoint holds \(Human.grouped(c.elements)) elements in \(c.tensors) tensors, but its config.json describes "
                        + "\(Human.grouped(params)) parameters (\(String(format: "%+.1f", Double(c.elements - params) / Double(params) * 100))%): "
                        + "weights are taken from the checkpoint")
            }
        }
        // A quantized checkpoint's config says how its weights are stored; serve it that way
        // unless --dtype says otherwise (a checkpoint folder's own bytes win over both).
        var quantized: QuantizedWeights? = nil
        if w.mode == .infer, workloadOptions.dtypeOption == nil, options.checkpointWeightBytes == nil {
            quantized = try QuantizedWeights.from(config: resolved.config)
            if let q = quantized { options.checkpointWeightBytes = q.bytes(a, includeMTP: includeMTP) }
        }
        options.includeMTP = includeMTP
        var e = Estimator.estimate(a, w, split, gpu: gpu, options: options)
        e.warnings = a.notes + checkpointWarnings + e.warnings
        if let q = quantized, q.method == "mxfp4", let g = gpu, !g.fp4 {
            e.warnings.append(
                "\(g.name) has no native FP4: MXFP4 experts run through a weight-only kernel that dequantizes them per matmul "
                    + "(the memory is the same; compute is slower than on a GPU with FP4 tensor cores)")
        }
        // docs/calibration/families/activations.md lists the families measured.
        if w.mode == .train && !Activations.calibratedTypes.contains(a.modelType) {
            e.warnings.append(
                "training activations for \(a.modelType) are not yet calibrated on measurements of its modeling code: "
                    + "they are the Llama/Mixtral terms of the same widths")
        }
        if let mla = a.latent, w.mode == .train, w.attention == .sdpa, mla.qkHeadDim != mla.vHeadDim {
            e.warnings.append(
                "activations for \(a.modelType)'s latent attention with sdpa are as measured on CPU, where q/k head dim "
                    + "\(mla.qkHeadDim) != v head dim \(mla.vHeadDim) sends sdpa to its fp32 math path, which keeps the s^2 scores; "
                    + "on CUDA the memory-efficient kernel keeps far less (--attention flash estimates a fused kernel)")
        }
        let recs = Array(
            Recommender.recommend(
                a, w, gpus: catalog.gpus, options: options, strategy: splitOptions.strategy, tp: splitOptions.tp,
                pp: splitOptions.pp, offload: splitOptions.offload
            ).prefix(max(0, maxRecommendations)))
        var report = EstimateReport(
            model: resolved, workload: w, estimate: e, gpu: gpu, options: options, recommendations: recs)
        report.quantization = quantized
        switch output.format {
        case .json: ctx.out.write(JSONOutput.encode(report.json))
        case .csv: ctx.out.write(report.csv)
        case .table: ctx.out.write(report.table)
        }
    }
}

extension Estimate {
    /// The catalogs: the database's when one exists (your prices and models), else the seeds.
    /// An estimate never needs the database: one that cannot be read is reported in one warning
    /// line and the built-in catalogs are used.
    static func catalog(_ ctx: Context) throws -> CatalogSnapshot {
        guard ctx.databaseExists else { return try CatalogSnapshot.seeds(ctx.resources()) }
        do {
            return try ctx.store(readOnly: true).catalog()
        } catch {
            ctx.err.line("warning: \(describe(error).0); estimating with the built-in catalogs instead")
            return try CatalogSnapshot.seeds(ctx.resources())
        }
    }
}

/// The estimate in the three output formats.
struct EstimateReport {
    var model: ResolvedModel
    var workload: Workload
    var estimate: MemoryEstimate
    var gpu: GPUType?
    var options: EstimateOptions
    var recommendations: [Recommendation]
    /// The weight layout from the config's quantization_config, when it set the weights.
    var quantization: QuantizedWeights? = nil

    struct JSON: Encodable {
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
        struct CheckpointJSON: Encodable {
            var files: Int
            var tensors: Int
            var bytes: Int
            var elements: Int
            var bytesByDtype: [String: Int]
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
        var checkpoint: CheckpointJSON?
        var headroomFraction: Double
        var warnings: [String]
        var notes: [String]
        var assumptions: [String]
    }

    var fits: Bool? { gpu.map { Estimator.fits(estimate, gpu: $0, headroom: options.headroom) } }

    var json: JSON {
        let e = estimate
        return JSON(
            model: .init(
                id: model.id, parameters: e.parameters, trainableParameters: e.trainableParameters, activeParameters: e.activeParameters,
                mtpParameters: ParameterCount(model.architecture).mtp),
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
            checkpoint: model.checkpoint.map {
                .init(files: $0.files.count, tensors: $0.tensors, bytes: $0.bytes, elements: $0.elements, bytesByDtype: $0.bytesByDType)
            },
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

    var csv: String {
        CSVWriter.render(header: ["component", "bytes"], rows: components.map { [$0.0, String($0.1)] })
    }

    var table: String {
        let e = estimate
        let w = workload
        var out = ""
        out += "Model \(model.id): \(Human.grouped(e.parameters)) parameters"
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

    /// Where the article's rules of thumb (shared/seed) disagree with the computation.
    var notes: [String] {
        let e = estimate
        let w = workload
        var notes: [String] = []
        let bf16Weights = e.parameters * 2
        if w.mode == .train && w.method == .full && e.split.gpus == 1 && e.split.offload == .none {
            let states = e.weights + e.gradients + e.optimizerStates + e.masterWeights
            let ruleHigh = bf16Weights * 5
            if states > ruleHigh {
                let perParam = Double(states) / Double(e.parameters)
                notes.append(
                    "the rule of thumb 'weights x 2 + 2-3x' (\(Human.gib(bf16Weights * 4))-\(Human.gib(ruleHigh))) is too low: "
                        + "\(w.precision.rawValue)-precision \(w.optimizer.rawValue) keeps \(String(format: "%.1f", perParam)) bytes per parameter, "
                        + "\(Human.gib(states)) of model states before activations; shard them (ZeRO-3/FSDP over several GPUs), "
                        + "offload the optimizer to CPU, or use --optimizer adamw-8bit / --precision pure")
            }
        }
        if w.mode == .infer && e.total > Int(Double(e.weights) * 1.2) + (2 << 30) {
            notes.append(
                "more than 'weights + 20%' (\(Human.gib(Int(Double(e.weights) * 1.2)))): the KV cache (\(Human.gib(e.kvCache))) and activations grow with batch and context")
        }
        return notes
    }

    var assumptions: [String] {
        var a: [String] = []
        let w = workload
        let overhead = estimate.overheadParts.sorted { $0.key < $1.key }.map { "\($0.key) \(Human.gib($0.value))" }
        a.append("overhead per GPU: " + overhead.joined(separator: ", ") + " (CUDA context is a stated constant)")
        if w.mode == .train {
            a.append(
                w.precision == .mixed
                    ? "mixed precision: 16-bit weights and gradients, fp32 master weights and optimizer states (ZeRO paper: 16 bytes/parameter with AdamW)"
                    : "pure precision: weights, gradients and optimizer states all in \(w.dtype.rawValue)")
            if options.gradientFP32 { a.append("gradients accumulated in fp32 (--fp32-grads)") }
            a.append("activations: what PyTorch keeps for backward in Hugging Face transformers (calibrated on torch 2.15 / transformers 5.24), including the fp32 log-softmax of the logits")
            if w.checkpointing { a.append("full recomputation keeps each layer's input; recomputing one layer is counted in overhead") }
        } else {
            a.append("activations: prefill working memory: the largest of one layer's intermediates and the logits of the last position per sequence")
            a.append(w.kvSlidingWindow ? "sliding-window layers keep only their window of KV" : "KV cache holds every layer's full sequence (transformers' cache after a prefill)")
        }
        if let q = quantization {
            a.append("weights: \(q.description); \(Human.grouped(options.checkpointWeightBytes ?? 0)) bytes for the whole model")
        }
        if let c = model.checkpoint {
            a.append(
                "weights: \(options.checkpointWeightBytes != nil ? "taken from" : "computed from the config, not from") the checkpoint's "
                    + "\(c.files.count) safetensors file\(c.files.count == 1 ? "" : "s") (\(Human.grouped(c.bytes)) bytes of tensors, headers only read)")
        }
        if [.int4, .int8, .fp8].contains(w.dtype) && options.quantGroupSize == nil {
            a.append("\(w.dtype.rawValue) weights in the packed convention (no scales, all parameters); pass --quant-group-size for GPTQ/AWQ layouts")
        }
        if w.dtype == .nf4 { a.append("nf4: bitsandbytes NF4 with double quantization (4.127 bits) for linear layers; embeddings, output layer and norms in 16-bit") }
        a.append("fits: total <= GPU memory x (1 - \(options.headroom)); prices: catalog reference prices (see `plan gpus`)")
        return a
    }
}
