import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import PlanCore
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
            throw PlanError.usage(e.cliMessage)
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
        let checkpoint = resolved.checkpoint.map {
            EstimateReport.CheckpointSummary(
                files: $0.files.count, tensors: $0.tensors, bytes: $0.bytes, elements: $0.elements, bytesByDtype: $0.bytesByDType)
        }
        let report = EstimateReport(
            modelID: resolved.id, architecture: resolved.architecture, checkpoint: checkpoint, workload: w, estimate: e, gpu: gpu,
            options: options, recommendations: recs, quantization: quantized)
        ctx.out.render(report, output.format)
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
