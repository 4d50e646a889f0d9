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
              plan estimate --model llama-3-8b --gpu a100-sxm-40gb --engine vllm --max-model-len 8192   (vLLM's KV cache)
              plan estimate --model llama-3-8b --users 200 --context 4096 --tokens-per-s 20           (replicas per GPU type)
              plan estimate --model llama-3-8b --mode train --train-tokens 2B --deadline 24h        (time and cost)

            Components are bytes on the most loaded GPU. Formulas and sources: docs/estimator.md. \
            Needs no database: the catalogs built into plan are used, or the database's when one exists \
            (your prices and models); a missing database is not created.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Catalog id, alias (e.g. meta-llama/Meta-Llama-3-8B-Instruct), or a config.json path or folder.")
    var model: String
    @OptionGroup var workloadOptions: WorkloadOptions
    @OptionGroup var splitOptions: SplitOptions
    @OptionGroup(title: "Serving engine, speed and cost") var speedOptions: SpeedOptions
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
    @OptionGroup var output: PageFormatOptions
    @Option(name: .customLong("output"), help: "Write the estimate to this file (for example the --format html page) instead of standard output.")
    var outputFile: String?

    func run(in ctx: Context) throws {
        let catalog = try Self.catalog(ctx)
        let resolved = try ModelResolver.resolve(model, catalog: catalog, assumeDense: assumeDense)
        let w = try workloadOptions.workload()
        let split = try splitOptions.split(mode: w.mode)
        let options = try workloadOptions.options(headroom: headroom)
        let gpu = try splitOptions.gpu.map { name -> GPUType in
            guard let g = catalog.gpu(named: name) else {
                throw PlanError.usage("unknown GPU '\(name)' for --gpu; valid: \(catalog.gpus.map(\.id).joined(separator: ", "))")
            }
            return g
        }
        let speed = try speedOptions.request(mode: w.mode)
        if w.gpuMemoryUtilization != nil && gpu == nil && speed.engine != .vllm {
            throw PlanError.usage("--gpu-memory-utilization needs --gpu to know the memory it reserves")
        }
        let a = resolved.architecture
        if w.mode == .infer, splitOptions.tp == nil, let g = splitOptions.gpus, g > 1, a.heads % split.tp != 0 {
            let valid = (1...min(a.heads, 1024)).filter { a.heads % $0 == 0 }.map { String($0 * split.pp) }
            throw PlanError.usage(
                "--gpus \(g) serves one copy with tensor parallelism over \(split.tp) GPUs, but \(split.tp) does not divide the model's "
                    + "\(a.heads) attention heads; valid --gpus: \(valid.joined(separator: ", ")) (or give --tp and --pp)")
        }
        var request = EstimateRequest(
            model: resolved, workload: w, split: split, gpu: gpu, options: options, dtypeGiven: workloadOptions.dtypeOption != nil,
            includeMTP: includeMTP, strategy: splitOptions.strategy, tp: splitOptions.tp, pp: splitOptions.pp,
            maxRecommendations: maxRecommendations)
        request.speed = speed
        request.skus = catalog.skus
        let result: EstimateResult
        do {
            result = try Estimating.run(request, gpus: catalog.gpus)
        } catch let e as EstimateError {
            throw PlanError.usage(e.cliMessage)
        }
        let checkpoint = resolved.checkpoint.map {
            EstimateReport.CheckpointSummary(
                files: $0.files.count, tensors: $0.tensors, bytes: $0.bytes, elements: $0.elements, bytesByDtype: $0.bytesByDType)
        }
        let report = EstimateReport(
            modelID: resolved.id, architecture: resolved.architecture, checkpoint: checkpoint, workload: w, gpu: gpu, result: result,
            speed: speed)
        let format = output.format ?? .table
        guard let path = outputFile else {
            ctx.out.render(report, format)
            return
        }
        try ReportFile.write(format.text.map { report.text($0) } ?? report.html, to: path, databasePath: ctx.databasePath)
        if format == .table { ctx.out.line("wrote the estimate to \(path)") }
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
