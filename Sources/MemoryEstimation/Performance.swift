import Foundation
import PlanModel

/// The fractions of a GPU's peak that a workload reaches. Each is a stated assumption, printed with
/// every figure it sets, and overridable (docs/estimator.md, speed). None may exceed 1, so no figure
/// can exceed the physical roofline.
public struct Efficiencies: Sendable, Equatable, Hashable, Codable {
    /// Decode: the fraction of peak memory bandwidth reached while streaming weights and KV.
    public var memoryBandwidth: Double = 0.7
    /// Prefill (and decode when compute-bound): model FLOPs utilization of the dense tensor peak.
    public var prefillMFU: Double = 0.5
    /// Training: FLOPs utilization of the dense tensor peak, recomputation counted as work done.
    public var trainingMFU: Double = 0.4
    /// Collectives: the fraction of the link bandwidth (NVLink/PCIe inside a server, the fabric
    /// between servers) that all-reduce and all-gather reach.
    public var network: Double = 0.7
    /// Latency of one collective, in seconds (NCCL small-message all-reduce inside a server).
    public var collectiveLatency: Double = 10e-6

    public init() {}

    /// The settings as (name, value) pairs, for assumptions and errors.
    public var named: [(String, Double)] {
        [("memory_bandwidth", memoryBandwidth), ("prefill_mfu", prefillMFU), ("training_mfu", trainingMFU), ("network", network)]
    }
}

/// Serving speed of one replica at a load: `batch` sequences decoding at `context` tokens each.
public struct ServingSpeed: Sendable, Equatable {
    public var batch: Int
    public var context: Int
    public var prompt: Int
    /// Which tensor peak the matmuls run at (bf16, fp8, fp4) and its FLOPS per GPU.
    public var computeDType: String
    public var peakFLOPS: Double
    /// Bytes each GPU reads per decode step: weights (the experts the batch touches) and KV.
    public var weightBytesPerStep: Int
    public var kvBytesPerStep: Int
    public var decodeBoundBy: String
    public var timePerOutputToken: Double
    public var decodeTokensPerSecond: Double
    public var decodeTokensPerSecondPerSequence: Double
    /// The same with every efficiency at 1: the physical roofline.
    public var rooflineTokensPerSecondPerSequence: Double
    public var prefillTokensPerSecond: Double
    public var timeToFirstToken: Double
}

/// Training time for a number of tokens on one configuration.
public struct TrainingTime: Sendable, Equatable {
    public var tokens: Double
    /// Model FLOPs per token (6N + 12·L·H·Q·T for full training) and what the GPUs execute
    /// (plus a recomputed forward with checkpointing).
    public var modelFLOPsPerToken: Double
    public var executedFLOPsPerToken: Double
    public var computeDType: String
    public var peakFLOPS: Double
    public var steps: Double
    public var computeSecondsPerStep: Double
    public var dataParallelSecondsPerStep: Double
    public var tensorParallelSecondsPerStep: Double
    public var seconds: Double
    public var gpuHours: Double
    public var tokensPerSecondPerGPU: Double
    /// Model FLOPs per second per GPU, and that over the peak (the MFU the run implies).
    public var modelTFLOPSPerGPU: Double
    public var impliedMFU: Double
    /// Where the data-parallel traffic goes: inside one server, or over the fabric.
    public var dataParallelLink: String
}

/// Rooflines: decode streams bytes, prefill and training compute FLOPs, collectives move bytes over
/// links. Sources in docs/estimator.md (speed).
public enum Roofline {
    /// The dense tensor peak the weights' format runs at on `gpu` (FP8 and FP4 only where the GPU has
    /// them; weight-only formats compute in 16 bits), or nil when the catalog has no figure.
    public static func peak(_ gpu: GPUType, weights: String) -> (dtype: String, flops: Double)? {
        if weights == "fp4" && gpu.fp4 && gpu.fp4TFLOPS > 0 { return ("fp4", gpu.fp4TFLOPS * 1e12) }
        if weights == "fp8" && gpu.fp8 && gpu.fp8TFLOPS > 0 { return ("fp8", gpu.fp8TFLOPS * 1e12) }
        guard gpu.bf16TFLOPS > 0 else { return nil }
        return (gpu.bf16 ? "bf16" : "fp16", gpu.bf16TFLOPS * 1e12)
    }

    /// Parameters whose matmuls a token runs through: the active ones, less the input embedding
    /// (a lookup) when the output head does not share it.
    static func matmulParameters(_ a: ModelArchitecture, active: Int) -> Double {
        Double(a.tiedEmbeddings ? active : active - a.vocabSize * a.hiddenSize)
    }

    /// Attention score and value FLOPs, forward, of one token attending to `context` tokens:
    /// 2 matmuls x 2 FLOPs x heads x head_dim x context per layer (PaLM, Appendix B).
    static func attentionFLOPsPerToken(_ a: ModelArchitecture, context: Int) -> Double {
        4 * Double(a.layers) * Double(a.heads * (a.latent?.qkHeadDim ?? a.headDim)) * Double(context)
    }

    /// One all-reduce of `bytes` over `ranks` GPUs: ring time 2(n-1)/n x bytes / bandwidth, plus latency.
    static func allReduce(_ bytes: Double, ranks: Int, bandwidth: Double, _ eff: Efficiencies) -> Double {
        guard ranks > 1 else { return 0 }
        return eff.collectiveLatency + 2 * Double(ranks - 1) / Double(ranks) * bytes / (bandwidth * eff.network)
    }

    /// Decode and prefill speed of one replica split `tp` x `pp`, each GPU holding `weights` bytes.
    /// `kvBytesPerToken`: one token's KV over all layers on one rank at `context` (window-capped).
    public static func serving(
        _ a: ModelArchitecture, parameters: Int, activeParameters: Int, weights: Int, kvBytesAtContext: Int, tp: Int, pp: Int,
        gpu: GPUType, weightFormat: String, batch: Int, context: Int, prompt: Int, elementBytes e: Int, efficiencies eff: Efficiencies
    ) -> ServingSpeed? {
        guard let (dtype, peakFLOPS) = peak(gpu, weights: weightFormat) else { return nil }
        let bandwidth = Double(gpu.bandwidthBytesPerSecond)
        // MoE: a step reads the experts the batch touches, E(1 - (1 - k/E)^B) of E under uniform
        // routing; the rest of the weights always.
        var weightBytes = Double(weights)
        let experts = a.moe?.experts ?? a.experts
        let k = a.moe?.expertsPerToken ?? a.expertsPerToken
        if experts > 1 && parameters > activeParameters {
            let routed = Double(parameters - activeParameters) * Double(experts) / Double(experts - k)
            let expertShare = min(1, routed / Double(parameters))
            let touched = Double(experts) * (1 - pow(1 - Double(k) / Double(experts), Double(batch)))
            weightBytes = Double(weights) * ((1 - expertShare) + expertShare * touched / Double(experts))
        }
        let kvBytes = Double(batch) * Double(kvBytesAtContext)
        let n = matmulParameters(a, active: activeParameters)
        // One pipeline stage's share of the work; a token passes every stage in turn.
        let stageFLOPsPerToken = (2 * n + attentionFLOPsPerToken(a, context: context)) / Double(tp * pp)
        let stageLayers = (a.layers + pp - 1) / pp
        func step(_ eff: Efficiencies) -> (seconds: Double, memoryBound: Bool) {
            let memory = (weightBytes + kvBytes) / (bandwidth * eff.memoryBandwidth)
            let compute = Double(batch) * stageFLOPsPerToken / (peakFLOPS * eff.prefillMFU)
            // Two all-reduces of the batch's hidden states per layer (attention and MLP outputs).
            let comm = Double(2 * stageLayers) * allReduce(
                Double(batch * a.hiddenSize * e), ranks: tp, bandwidth: Double(gpu.interconnectBytesPerSecond), eff)
            return (Double(pp) * (max(memory, compute) + comm), memory >= compute)
        }
        let (tpot, memoryBound) = step(eff)
        var ideal = Efficiencies()
        ideal.memoryBandwidth = 1
        ideal.prefillMFU = 1
        ideal.network = 1
        ideal.collectiveLatency = 0
        let roofline = 1 / step(ideal).seconds
        // Prefill of one prompt: its FLOPs (causal attention over the prompt averages prompt/2 of
        // context) at the prefill MFU, never faster than reading the weights once.
        let p = Double(max(prompt, 1))
        let prefillFLOPs = p * (2 * n + attentionFLOPsPerToken(a, context: max(prompt, 1) / 2)) / Double(tp)
        let prefillCompute = prefillFLOPs / (peakFLOPS * eff.prefillMFU)
        let prefillMemory = Double(pp) * Double(weights) / (bandwidth * eff.memoryBandwidth)
        let prefillComm = Double(2 * a.layers) * allReduce(
            p * Double(a.hiddenSize * e), ranks: tp, bandwidth: Double(gpu.interconnectBytesPerSecond), eff)
        let ttft = max(prefillCompute, prefillMemory) + prefillComm
        return ServingSpeed(
            batch: batch, context: context, prompt: prompt, computeDType: dtype, peakFLOPS: peakFLOPS,
            weightBytesPerStep: Int(weightBytes), kvBytesPerStep: Int(kvBytes), decodeBoundBy: memoryBound ? "memory" : "compute",
            timePerOutputToken: tpot, decodeTokensPerSecond: Double(batch) / tpot, decodeTokensPerSecondPerSequence: 1 / tpot,
            rooflineTokensPerSecondPerSequence: roofline, prefillTokensPerSecond: p / ttft, timeToFirstToken: ttft)
    }

    /// Training FLOPs per token: model FLOPs (6N + 12·L·H·Q·T for full training, PaLM Appendix B;
    /// frozen weights skip their weight gradients: 4N plus 6 per trainable parameter) and executed
    /// FLOPs (one more forward, 2N + 4·L·H·Q·T, under full activation checkpointing).
    public static func trainingFLOPsPerToken(_ a: ModelArchitecture, _ w: Workload, activeParameters: Int, trainable: Int)
        -> (model: Double, executed: Double)
    {
        let n = matmulParameters(a, active: activeParameters)
        let attentionForward = attentionFLOPsPerToken(a, context: w.seq)  // the whole sequence, as PaLM counts it
        let model = (w.method == .full ? 6 * n : 4 * n + 6 * Double(trainable)) + 3 * attentionForward
        let executed = model + (w.checkpointing ? 2 * n + attentionForward : 0)
        return (model, executed)
    }

    /// Time to train `tokens` tokens with `split` on `gpu`: compute at the training MFU, plus the
    /// pipeline bubble, plus the data-parallel traffic the backward pass cannot hide and the
    /// tensor-parallel all-reduces. `fabricBytesPerSecond`: per GPU between servers (nil: none).
    public static func training(
        _ a: ModelArchitecture, _ w: Workload, split: ParallelSplit, parameters: Int, activeParameters: Int, trainable: Int, gpu: GPUType,
        gpusPerServer: Int, fabricBytesPerSecond: Int?, tokens: Double, efficiencies eff: Efficiencies
    ) -> TrainingTime? {
        let format = w.dtype == .fp8 ? "fp8" : "bf16"
        guard let (dtype, peakFLOPS) = peak(gpu, weights: format) else { return nil }
        let gpus = split.gpus
        let flops = trainingFLOPsPerToken(a, w, activeParameters: activeParameters, trainable: trainable)
        let tokensPerStep = Double(split.dp * w.batch * w.seq * w.microBatches)
        let steps = (tokens / tokensPerStep).rounded(.up)
        // Per GPU: its share of the step's FLOPs; the pipeline idles (pp-1)/m of the time (GPipe/1F1B).
        let bubble = 1 + Double(split.pp - 1) / Double(w.microBatches)
        let compute = tokensPerStep * flops.executed / Double(gpus) / (peakFLOPS * eff.trainingMFU) * bubble
        // Data parallel, bytes each GPU sends for its tensor/pipeline shard (ring collectives move
        // (n-1)/n of the buffer per pass): DDP all-reduces the gradients and ZeRO-1/2 reduce-scatter
        // them and all-gather the updated weights, 2 passes; ZeRO-3/FSDP all-gather the weights in
        // forward and in backward (all parameters) and reduce-scatter the gradients, 3 passes (ZeRO
        // paper, section 7).
        // DDP and ZeRO-1/2 hide the traffic behind the backward pass (2/3 of the compute; DDP
        // buckets), FSDP/ZeRO-3 behind the whole step (it prefetches the next layer's weights).
        let e = w.dtype.wholeBytes ?? 2
        let elements = split.strategy.zeroStage == 3 ? 2 * Double(parameters) + Double(trainable) : 2 * Double(trainable)
        let dpBytes = Double(split.dp - 1) / Double(split.dp) * elements / Double(split.tp * split.pp) * Double(e)
        let spans = gpus > gpusPerServer
        let link: String
        let dpBandwidth: Double
        if split.dp <= 1 {
            link = "none"
            dpBandwidth = 1
        } else if spans, let f = fabricBytesPerSecond {
            link = "fabric"
            dpBandwidth = Double(min(f, gpu.interconnectBytesPerSecond))
        } else if spans {
            return nil
        } else {
            link = "server"
            dpBandwidth = Double(gpu.interconnectBytesPerSecond)
        }
        let dpTime = split.dp > 1 ? dpBytes / (dpBandwidth * eff.network) + eff.collectiveLatency : 0
        let hidden = split.strategy.zeroStage == 3 ? compute : compute * 2 / 3
        let dpExposed = max(0, dpTime - hidden)
        // Tensor parallel: 4 all-reduces of the micro-batch's activations per layer and micro-batch
        // (Megatron-LM: 2 in forward, 2 in backward), not overlapped.
        let stageLayers = Double((a.layers + split.pp - 1) / split.pp)
        let tpTime = 4 * stageLayers * Double(w.microBatches) * allReduce(
            Double(w.batch * w.seq * a.hiddenSize * e), ranks: split.tp, bandwidth: Double(gpu.interconnectBytesPerSecond), eff)
        let perStep = compute + dpExposed + tpTime
        let seconds = steps * perStep
        let perGPU = tokens / seconds / Double(gpus)
        return TrainingTime(
            tokens: tokens, modelFLOPsPerToken: flops.model, executedFLOPsPerToken: flops.executed, computeDType: dtype,
            peakFLOPS: peakFLOPS, steps: steps, computeSecondsPerStep: compute, dataParallelSecondsPerStep: dpExposed,
            tensorParallelSecondsPerStep: tpTime, seconds: seconds, gpuHours: seconds * Double(gpus) / 3600,
            tokensPerSecondPerGPU: perGPU, modelTFLOPSPerGPU: perGPU * flops.model / 1e12, impliedMFU: perGPU * flops.model / peakFLOPS,
            dataParallelLink: link)
    }
}
