import MemoryEstimation
import PlanModel

/// What `plan estimate` was asked: a resolved model, a workload and split, and where to look.
public struct EstimateRequest: Sendable {
    public var model: ResolvedModel
    public var workload: Workload
    public var split: ParallelSplit
    /// The GPU to judge the fit on (`--gpu`), if any.
    public var gpu: GPUType?
    public var options: EstimateOptions
    /// `--dtype` was given: the checkpoint's or the config's quantized layout does not override it.
    public var dtypeGiven: Bool
    public var includeMTP: Bool
    /// Restrictions on the recommendation search (`--strategy`, `--tp`, `--pp`, `--offload`).
    public var strategy: Strategy?
    public var tp: Int?
    public var pp: Int?
    public var maxRecommendations: Int
    /// The engine, efficiencies and the work (tokens to train, traffic to serve) for speed and cost.
    public var speed = SpeedRequest()
    /// Server SKUs, for the fabric training traffic crosses between servers.
    public var skus: [ServerSKU] = []

    public init(
        model: ResolvedModel, workload: Workload, split: ParallelSplit, gpu: GPUType?, options: EstimateOptions, dtypeGiven: Bool,
        includeMTP: Bool, strategy: Strategy?, tp: Int?, pp: Int?, maxRecommendations: Int
    ) {
        self.model = model
        self.workload = workload
        self.split = split
        self.gpu = gpu
        self.options = options
        self.dtypeGiven = dtypeGiven
        self.includeMTP = includeMTP
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
        self.maxRecommendations = maxRecommendations
    }
}

/// What the estimate found: the bytes per GPU (with its warnings), the options it ran with (the
/// weight bytes a checkpoint or quantized config set), and which GPUs fit.
public struct EstimateResult: Sendable {
    public var estimate: MemoryEstimate
    public var options: EstimateOptions
    /// The weight layout from the config's quantization_config, when it set the weights.
    public var quantization: QuantizedWeights?
    public var recommendations: [CostedRecommendation]
    /// Serving on `--gpu`: what the engine reserves, and how fast one replica decodes at the
    /// workload's batch and context.
    public var serving: ServingEstimate?
    public var servingSpeed: ServingSpeed?
    /// Training on `--gpu` with the split given, when the tokens to train are.
    public var training: TrainingTime?
    /// The GPU-hour price used for `--gpu` (on demand, or amortised).
    public var hourlyUSD: Double?
}

/// The `plan estimate` use case: which weights to count (a checkpoint's bytes, a quantized
/// config's layout, or the dtype), the estimate, what it cannot vouch for, and the recommendations.
public enum Estimating {
    public static func run(_ r: EstimateRequest, gpus: [GPUType]) throws -> EstimateResult {
        let a = r.model.architecture
        let w = r.workload
        var options = r.options
        options.includeMTP = r.includeMTP
        try Estimator.validate(a, w, r.split)
        var warnings = a.notes
        if let c = r.model.checkpoint {
            if w.mode == .infer && !r.dtypeGiven { options.checkpointWeightBytes = c.bytes }
            if let mismatch = checkpointMismatch(c, parameters: ParameterCount(a).total) { warnings.append(mismatch) }
        }
        // A quantized checkpoint's config says how its weights are stored; serve it that way
        // unless --dtype says otherwise (a checkpoint folder's own bytes win over both).
        var quantized: QuantizedWeights? = nil
        if w.mode == .infer, !r.dtypeGiven, options.checkpointWeightBytes == nil {
            quantized = try QuantizedWeights.from(config: r.model.config)
            if let q = quantized { options.checkpointWeightBytes = q.bytes(a, includeMTP: r.includeMTP) }
        }
        if let t = r.speed.target { try Speed.check(t, a, r.speed) }
        var e = Estimator.estimate(a, w, r.split, gpu: r.gpu, options: options)
        e.warnings = warnings + e.warnings + modelWarnings(a, w, gpu: r.gpu, quantization: quantized)
        let speed = r.speed
        let recs =
            w.mode == .infer && speed.engine == .vllm
            ? Speed.vllmRecommendations(a, w, gpus: gpus, options: options, request: speed, quantization: quantized, tp: r.tp, pp: r.pp)
            : Recommender.recommend(a, w, gpus: gpus, options: options, strategy: r.strategy, tp: r.tp, pp: r.pp, offload: r.split.offload)
        let catalog = CatalogSnapshot(gpus: gpus, skus: r.skus, models: [])
        let costed = Speed.costed(
            recs, a, w, options: options, quantization: quantized, catalog: catalog, request: speed
        ) { gpu, count in
            Recommender.recommend(
                a, w, gpus: [gpu], options: options, strategy: r.strategy, tp: r.tp, pp: r.pp, offload: r.split.offload, count: count
            ).first
        }
        var result = EstimateResult(
            estimate: e, options: options, quantization: quantized, recommendations: Array(costed.prefix(max(0, r.maxRecommendations))))
        guard let gpu = r.gpu else { return result }
        result.hourlyUSD = Speed.hourly(gpu, amortizeYears: speed.amortizeYears)
        if w.mode == .infer {
            let serving = Speed.serving(a, w, e, split: r.split, gpu: gpu, options: options, request: speed, quantization: quantized)
            result.serving = serving
            result.servingSpeed = Speed.servingSpeed(
                a, w, e, split: r.split, gpu: gpu, format: Speed.weightFormat(w, quantization: quantized), batch: w.batch, context: w.seq,
                prompt: w.seq, efficiencies: speed.efficiencies)
            if result.servingSpeed == nil { result.estimate.warnings.append(noPeak(gpu)) }
            if speed.engine == .vllm && !serving.fits { result.estimate.warnings.append(vllmRefusal(serving)) }
            if speed.engine == .vllm && speed.vllm.sampler == nil && serving.fits {
                // The sampler path is the install's, and no log line we read says which: say when the
                // sort-based path would turn the start into a refusal.
                var sorting = speed
                sorting.vllm.sampler = .pytorch
                let sorted = Speed.serving(a, w, e, split: r.split, gpu: gpu, options: options, request: sorting, quantization: quantized)
                if !sorted.fits { result.estimate.warnings.append(samplerCaveat(serving, sorted)) }
            }
        } else if let tokens = speed.trainTokens {
            let (fabric, perServer) = Speed.network(gpu, skus: r.skus)
            result.training = Roofline.training(
                a, w, split: r.split, parameters: e.parameters, activeParameters: e.activeParameters, trainable: e.trainableParameters, gpu: gpu,
                gpusPerServer: perServer, fabricBytesPerSecond: fabric, tokens: tokens, efficiencies: speed.efficiencies)
            if result.training == nil {
                result.estimate.warnings.append(
                    Roofline.peak(gpu, weights: "bf16") == nil
                        ? noPeak(gpu)
                        : "\(r.split.gpus) GPUs span servers of \(perServer) \(gpu.id), and no server SKU of it has a fabric to carry the traffic")
            }
        }
        return result
    }

    static func noPeak(_ gpu: GPUType) -> String {
        "\(gpu.id) has no peak TFLOPS in the catalog: no speed or time can be given for it"
    }

    /// vLLM's refusal, in its own terms: what one request needs, what is there, the longest context
    /// that fits, and the settings that would make room.
    static func vllmRefusal(_ s: ServingEstimate) -> String {
        let gib = { (b: Int) in String(format: "%.2f GiB", Double(b) / Double(1 << 30)) }
        if s.kvCacheBytes <= 0 {
            return "vLLM would not start: after the weights (\(gib(s.weightsBytes))), non-torch memory, the profiling peak "
                + "(\(gib(s.activationPeakBytes))) and CUDA graphs (\(gib(s.cudaGraphBytes))) nothing of the \(gib(s.usableBytes)) "
                + "it may use (gpu_memory_utilization \(s.gpuMemoryUtilization)) is left for the KV cache ("
                + "\(gib(s.kvCacheBytes))); use more tensor parallelism (--tp), quantized weights, or a larger GPU"
        }
        var fixes: [String] = []
        if let u = s.utilizationNeeded { fixes.append("--gpu-memory-utilization \(u)") }
        if let l = s.longestContext, l > 0 { fixes.append("--max-model-len \(l)") }
        fixes.append("--kv-dtype fp8")
        fixes.append("more tensor parallelism (--tp)")
        return "vLLM would not start: one request of max_model_len \(s.maxModelLen) needs \(gib(s.kvBytesPerRequest)) of KV cache, "
            + "more than the \(gib(s.kvCacheBytes)) available; the estimated maximum model length is \(s.longestContext ?? 0). "
            + "Try " + fixes.joined(separator: ", or ")
    }

    /// vLLM starts with the fused samplers (the default) but not with PyTorch's sort-based one.
    static func samplerCaveat(_ fused: ServingEstimate, _ sorted: ServingEstimate) -> String {
        let gib = { (b: Int) in String(format: "%.2f GiB", Double(b) / Double(1 << 30)) }
        return "vLLM starts only with the FlashInfer or Triton sampler (assumed; vLLM 0.17 and later, or a Docker image): with "
            + "PyTorch's sort-based sampler (vLLM 0.11.1 to 0.16, or a pip install without FlashInfer; its log says \"Falling back to the "
            + "PyTorch-native implementation\") the profiling peak is \(gib(sorted.activationPeakBytes)), not \(gib(fused.activationPeakBytes)), "
            + "and one request of max_model_len \(sorted.maxModelLen) does not fit (check with --vllm-sampler pytorch)"
    }

    /// An unquantized checkpoint whose element count is more than 1% off the config's parameters.
    static func checkpointMismatch(_ c: Checkpoint, parameters: Int) -> String? {
        let unquantized = c.bytesByDType.keys.allSatisfy { ["BF16", "F16", "F32"].contains($0) }
        guard unquantized && abs(c.elements - parameters) * 100 > parameters else { return nil }
        let percent = String(format: "%+.1f", Double(c.elements - parameters) / Double(parameters) * 100)
        return "the checkpoint holds \(Human.grouped(c.elements)) elements in \(c.tensors) tensors, but its config.json describes "
            + "\(Human.grouped(parameters)) parameters (\(percent)%): weights are taken from the checkpoint"
    }

    /// What the estimate cannot vouch for on this model, workload and GPU.
    static func modelWarnings(_ a: ModelArchitecture, _ w: Workload, gpu: GPUType?, quantization: QuantizedWeights?) -> [String] {
        var warnings: [String] = []
        if let q = quantization, q.method == "mxfp4", let g = gpu, !g.fp4 {
            warnings.append(
                "\(g.name) has no native FP4: MXFP4 experts run through a weight-only kernel that dequantizes them per matmul "
                    + "(the memory is the same; compute is slower than on a GPU with FP4 tensor cores)")
        }
        // docs/calibration/families/activations.md lists the families measured.
        if w.mode == .train && !Activations.calibratedTypes.contains(a.modelType) {
            warnings.append(
                "training activations for \(a.modelType) are not yet calibrated on measurements of its modeling code: "
                    + "they are the Llama/Mixtral terms of the same widths")
        }
        if let mla = a.latent, w.mode == .train, w.attention == .sdpa, mla.qkHeadDim != mla.vHeadDim {
            warnings.append(
                "activations for \(a.modelType)'s latent attention with sdpa are as measured on CPU, where q/k head dim "
                    + "\(mla.qkHeadDim) != v head dim \(mla.vHeadDim) sends sdpa to its fp32 math path, which keeps the s^2 scores; "
                    + "on CUDA the memory-efficient kernel keeps far less (--attention flash estimates a fused kernel)")
        }
        return warnings
    }
}
