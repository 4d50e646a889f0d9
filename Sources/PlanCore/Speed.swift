import Foundation
import MemoryEstimation
import PlanModel

/// Traffic a serving deployment must carry: `users` sequences at once, each with `context` tokens,
/// each reading `tokensPerSecond`, and a first token within `ttft` seconds when given.
public struct ServingTarget: Sendable, Equatable, Hashable, Codable {
    public var users: Int
    public var context: Int
    public var tokensPerSecond: Double
    public var ttft: Double?

    public init(users: Int, context: Int, tokensPerSecond: Double, ttft: Double? = nil) {
        self.users = users
        self.context = context
        self.tokensPerSecond = tokensPerSecond
        self.ttft = ttft
    }
}

/// How speed and money are asked for: the serving engine, the efficiencies, the work (tokens to
/// train, a deadline, traffic to serve), and how a GPU-hour is priced.
public struct SpeedRequest: Sendable, Equatable, Hashable, Codable {
    public var engine: ServingEngine = .transformers
    public var vllm = VLLMSettings()
    public var efficiencies = Efficiencies()
    /// Training tokens (dataset tokens x epochs).
    public var trainTokens: Double?
    /// Seconds a run may take; configurations that take longer are dropped.
    public var deadline: Double?
    public var target: ServingTarget?
    /// Price a GPU-hour by its purchase price over this many years instead of the on-demand price.
    public var amortizeYears: Double?

    public init() {}

    /// Whether recommendations are ranked by the cost of the work rather than by purchase price.
    public var ranksByWork: Bool { trainTokens != nil || target != nil }
}

/// A recommendation with its speed and the cost of the work.
public struct CostedRecommendation: Sendable, Equatable {
    public var recommendation: Recommendation
    /// Replicas (serving to a target) or 1.
    public var replicas: Int
    /// GPUs in all: count x replicas.
    public var gpus: Int
    public var hourlyUSD: Double
    public var timeSeconds: Double?
    public var gpuHours: Double?
    public var runCost: Double?
    public var decodeTokensPerSecond: Double?
    public var timeToFirstToken: Double?
    public var costPerMillionTokens: Double?
    /// vLLM: requests of max_model_len one replica holds.
    public var maxConcurrency: Double?
}

/// Speed and cost: the price of a GPU-hour, serving speed and memory per engine, training time,
/// sizing to traffic, and the ranking of recommendations by the cost of the work.
public enum Speed {
    /// A GPU-hour: the purchase price over `amortizeYears` (24 x 365 hours a year), else on demand.
    public static func hourly(_ gpu: GPUType, amortizeYears: Double?) -> Double {
        if let y = amortizeYears { return Double(gpu.priceUSD) / (y * 8760) }
        return gpu.hourlyUSD
    }

    /// The fastest fabric a SKU of this GPU type ships with (bytes/s per GPU, one port each), and its
    /// widest server.
    public static func network(_ gpu: GPUType, skus: [ServerSKU]) -> (fabric: Int?, perServer: Int) {
        let own = skus.filter { $0.gpu == gpu.id }
        let fabric = own.compactMap { Fabric.named($0.fabric) }.filter { $0.gbps > 0 }.map(\.bytesPerSecond).max()
        return (fabric, own.map(\.gpusPerServer).max() ?? 8)
    }

    /// The weight format's tensor-core family: fp8 and fp4 weights compute there where the GPU can.
    public static func weightFormat(_ w: Workload, quantization: QuantizedWeights?) -> String {
        if let q = quantization { return q.method == "fp8" ? "fp8" : (q.method == "mxfp4" ? "fp4" : "bf16") }
        return w.dtype == .fp8 ? "fp8" : "bf16"
    }

    /// What the serving engine does with one rank of `split` on `gpu`.
    public static func serving(
        _ a: ModelArchitecture, _ w: Workload, _ e: MemoryEstimate, split: ParallelSplit, gpu: GPUType, options: EstimateOptions,
        request: SpeedRequest, quantization: QuantizedWeights?
    ) -> ServingEstimate {
        let elementBytes = w.dtype == .fp32 ? 4 : 2
        let kvBytes = w.kvDType?.bytes ?? elementBytes
        switch request.engine {
        case .vllm:
            var s = request.vllm
            s.gpuMemoryUtilization = s.gpuMemoryUtilization ?? w.gpuMemoryUtilization
            let padding = quantization?.method == "mxfp4" ? VLLM.mxfp4ExpertPadding(a, tp: split.tp, pp: split.pp, gpu: gpu) : 0
            // vLLM quantizes linear layers only (`Fp8Config.get_quant_method` and its kin return
            // nothing for embeddings and the output head): with `--dtype fp8/int8/int4` and no layout of
            // its own, what the packed convention counts at that width stays 16-bit.
            var unquantized = 0
            if quantization == nil && options.quantGroupSize == nil && options.checkpointWeightBytes == nil,
                let width = WeightStorage.packedBytesPerWeight(w.dtype)
            {
                unquantized = Int((Double(ParamShard(a, tp: split.tp, pp: split.pp).nonLinear) * (2 - width)).rounded(.up))
            }
            return VLLM.estimate(
                a, weights: e.weights + padding + unquantized, elementBytes: elementBytes, kvBytes: kvBytes, tp: split.tp, pp: split.pp, gpu: gpu, settings: s)
        case .transformers:
            return ServingEstimate.transformers(a, w, e, split: split, gpu: gpu, headroom: options.headroom, kvBytes: kvBytes)
        }
    }

    /// Serving speed of one replica with `batch` sequences at `context` tokens and prompts of `prompt`.
    public static func servingSpeed(
        _ a: ModelArchitecture, _ w: Workload, _ e: MemoryEstimate, split: ParallelSplit, gpu: GPUType, format: String, batch: Int,
        context: Int, prompt: Int, efficiencies: Efficiencies
    ) -> ServingSpeed? {
        let elementBytes = w.dtype == .fp32 ? 4 : 2
        let kvAtContext = KVCache.bytes(
            a, batch: 1, tokens: context, bytesPerElement: w.kvDType?.bytes ?? elementBytes, tp: split.tp, pp: split.pp, windowed: true)
        return Roofline.serving(
            a, parameters: e.parameters, activeParameters: e.activeParameters, weights: e.weights, kvBytesAtContext: kvAtContext,
            tp: split.tp, pp: split.pp, gpu: gpu, weightFormat: format, batch: batch, context: context, prompt: prompt,
            elementBytes: elementBytes, efficiencies: efficiencies)
    }

    /// A target's context must fit the longest request the engine serves: vLLM's max_model_len, or the
    /// model's own max_position_embeddings.
    public static func check(_ t: ServingTarget, _ a: ModelArchitecture, _ r: SpeedRequest) throws {
        let limit = r.engine == .vllm ? (r.vllm.maxModelLen ?? a.maxPositions) : a.maxPositions
        guard t.context <= limit else {
            throw EstimateError.outOfRange(
                .context, value: String(t.context),
                valid: "at most \(limit) tokens, the longest request \(r.engine == .vllm && r.vllm.maxModelLen != nil ? "--max-model-len allows" : "the model takes (max_position_embeddings)")")
        }
    }

    /// Replicas of `split` on `gpu` that carry `target`: enough KV for the users at their context,
    /// enough decode speed per user, and a first token within the TTFT; nil when even one user per
    /// replica is too slow or does not fit.
    static func replicas(
        for target: ServingTarget, _ a: ModelArchitecture, _ w: Workload, _ e: MemoryEstimate, serving: ServingEstimate,
        split: ParallelSplit, gpu: GPUType, format: String, efficiencies: Efficiencies
    ) -> (replicas: Int, speed: ServingSpeed)? {
        // No engine serves a context longer than its longest request.
        guard target.context <= serving.maxModelLen || serving.engine == .transformers else { return nil }
        // Sequences one replica holds at the target's context.
        let perSequence = serving.engine == .vllm
            ? max(serving.kvBytesPerRequest / max(serving.maxModelLen, 1), 1) * target.context
            : serving.kvBytesPerToken * target.context
        let held = min(serving.kvCacheBytes / max(perSequence, 1), serving.engine == .vllm ? serving.maxNumSeqs : Int.max)
        guard held >= 1 else { return nil }
        func speed(_ r: Int) -> ServingSpeed? {
            servingSpeed(
                a, w, e, split: split, gpu: gpu, format: format, batch: (target.users + r - 1) / r, context: target.context,
                prompt: target.context, efficiencies: efficiencies)
        }
        // Fewer users per replica decode faster: the fewest replicas whose batch is fast enough.
        var lo = (target.users + held - 1) / held
        var hi = target.users
        guard let fastest = speed(hi), fastest.decodeTokensPerSecondPerSequence >= target.tokensPerSecond else { return nil }
        if let t = target.ttft, fastest.timeToFirstToken > t { return nil }
        // `best` is always the speed at `hi`: `hi` moves only where the speed was just computed.
        var best = fastest
        while lo < hi {
            let mid = (lo + hi) / 2
            if let s = speed(mid), s.decodeTokensPerSecondPerSequence >= target.tokensPerSecond {
                hi = mid
                best = s
            } else {
                lo = mid + 1
            }
        }
        return (hi, best)
    }

    /// vLLM's own rule for which splits serve: for each GPU type the fewest GPUs (tensor x pipeline
    /// parallel, one replica) whose KV cache holds one request of max_model_len; by price, like
    /// `Recommender.recommend`.
    public static func vllmRecommendations(
        _ a: ModelArchitecture, _ w: Workload, gpus: [GPUType], options: EstimateOptions, request: SpeedRequest, quantization: QuantizedWeights?,
        tp: Int?, pp: Int?, maxTP: Int = 8
    ) -> [Recommendation] {
        let layouts = Recommender.layouts(a, maxTP: maxTP, tp: tp, pp: pp).sorted { ($0.0 * $0.1, $0.1) < ($1.0 * $1.1, $1.1) }
        var memo: [ParallelSplit: MemoryEstimate] = [:]
        var out: [Recommendation] = []
        for gpu in gpus {
            for (t, p) in layouts {
                let split = ParallelSplit(tp: t, pp: p)
                let e = memo[split] ?? Estimator.estimate(a, w, split, options: options)
                memo[split] = e
                let s = serving(a, w, e, split: split, gpu: gpu, options: options, request: request, quantization: quantization)
                if s.fits {
                    let held = s.weightsBytes + s.nonTorchBytes + s.activationPeakBytes + s.cudaGraphBytes + s.kvCacheBytes
                    out.append(
                        Recommendation(
                            gpu: gpu.id, count: t * p, split: split, perGPUTotal: held, headroom: gpu.memoryBytes - held,
                            cost: gpu.priceUSD * t * p))
                    break
                }
            }
        }
        return out.sorted { ($0.cost, $0.count, $0.gpu) < ($1.cost, $1.count, $1.gpu) }
    }

    /// The recommendations with speed and cost; when the work is stated, ranked by its cost and
    /// filtered by the deadline.
    public static func costed(
        _ recs: [Recommendation], _ a: ModelArchitecture, _ w: Workload, options: EstimateOptions, quantization: QuantizedWeights?,
        catalog: CatalogSnapshot, request: SpeedRequest, search: (GPUType, Int) -> Recommendation?
    ) -> [CostedRecommendation] {
        let format = weightFormat(w, quantization: quantization)
        var out: [CostedRecommendation] = []
        for r0 in recs {
            guard let gpu = catalog.gpu(named: r0.gpu) else { continue }
            let hourly = hourly(gpu, amortizeYears: request.amortizeYears)
            var r = r0
            var c = CostedRecommendation(recommendation: r, replicas: 1, gpus: r.count, hourlyUSD: hourly)
            if w.mode == .train {
                guard let tokens = request.trainTokens else {
                    out.append(c)
                    continue
                }
                let (fabric, perServer) = network(gpu, skus: catalog.skus)
                func time(_ r: Recommendation) -> TrainingTime? {
                    let e = Estimator.estimate(a, w, r.split, options: options)
                    return Roofline.training(
                        a, w, split: r.split, parameters: e.parameters, activeParameters: e.activeParameters, trainable: e.trainableParameters, gpu: gpu,
                        gpusPerServer: perServer, fabricBytesPerSecond: fabric, tokens: tokens, efficiencies: request.efficiencies)
                }
                var t = time(r)
                if let deadline = request.deadline {
                    // More GPUs until the deadline is met (each count's simplest split that fits).
                    var counts = Recommender.counts.filter { $0 > r.count }[...]
                    while (t.map { $0.seconds > deadline } ?? true), let n = counts.popFirst() {
                        guard let bigger = search(gpu, n) else { continue }
                        r = bigger
                        t = time(r)
                    }
                    guard let met = t, met.seconds <= deadline else { continue }
                }
                c.recommendation = r
                c.gpus = r.count
                if let t {
                    c.timeSeconds = t.seconds
                    c.gpuHours = t.gpuHours
                    // A price of 0 is no price: the run has no cost to rank by.
                    if hourly > 0 { c.runCost = t.gpuHours * hourly }
                }
            } else {
                let e = Estimator.estimate(a, w, r.split, gpu: gpu, options: options)
                let serving = serving(a, w, e, split: r.split, gpu: gpu, options: options, request: request, quantization: quantization)
                if request.engine == .vllm { c.maxConcurrency = serving.maxConcurrency }
                if let target = request.target {
                    guard let (replicas, s) = replicas(
                        for: target, a, w, e, serving: serving, split: r.split, gpu: gpu, format: format, efficiencies: request.efficiencies)
                    else { continue }
                    c.replicas = replicas
                    c.gpus = replicas * r.count
                    c.decodeTokensPerSecond = s.decodeTokensPerSecond * Double(replicas)
                    c.timeToFirstToken = s.timeToFirstToken
                } else if let s = servingSpeed(
                    a, w, e, split: r.split, gpu: gpu, format: format, batch: w.batch, context: w.seq, prompt: w.seq,
                    efficiencies: request.efficiencies)
                {
                    c.decodeTokensPerSecond = s.decodeTokensPerSecond
                    c.timeToFirstToken = s.timeToFirstToken
                }
                if let tps = c.decodeTokensPerSecond, tps > 0, hourly > 0 {
                    c.costPerMillionTokens = Double(c.gpus) * hourly / (tps * 3600) * 1e6
                }
            }
            out.append(c)
        }
        guard request.ranksByWork else { return out }
        // Training ranks by the run's cost, serving by the replicas' price per hour; what has no such
        // figure (no time across servers without a fabric, no price) comes last.
        func key(_ c: CostedRecommendation) -> Double {
            if w.mode == .train { return c.runCost ?? .infinity }
            return c.hourlyUSD > 0 ? Double(c.gpus) * c.hourlyUSD : .infinity
        }
        return out.sorted { (key($0), $0.gpus, $0.recommendation.gpu) < (key($1), $1.gpus, $1.recommendation.gpu) }
    }
}
