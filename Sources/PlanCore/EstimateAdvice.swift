import MemoryEstimation
import PlanModel

/// The estimate's advice: where rules of thumb disagree with the computation, and what it assumes.
public enum EstimateAdvice {
    /// Where the article's rules of thumb (shared/seed) disagree with the computation.
    public static func notes(_ e: MemoryEstimate, _ w: Workload) -> [String] {
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

    /// What the estimate assumes, in sentences (`quantization`: the weight layout's description;
    /// `checkpoint`: its safetensors file count and tensor bytes).
    public static func assumptions(
        _ estimate: MemoryEstimate, _ w: Workload, options: EstimateOptions, quantization: String?, checkpoint: (files: Int, bytes: Int)?
    ) -> [String] {
        var a: [String] = []
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
            a.append("weights: \(q); \(Human.grouped(options.checkpointWeightBytes ?? 0)) bytes for the whole model")
        }
        if let c = checkpoint {
            a.append(
                "weights: \(options.checkpointWeightBytes != nil ? "taken from" : "computed from the config, not from") the checkpoint's "
                    + "\(c.files) safetensors file\(c.files == 1 ? "" : "s") (\(Human.grouped(c.bytes)) bytes of tensors, headers only read)")
        }
        if [.int4, .int8, .fp8].contains(w.dtype) && options.quantGroupSize == nil {
            a.append("\(w.dtype.rawValue) weights in the packed convention (no scales, all parameters); pass --quant-group-size for GPTQ/AWQ layouts")
        }
        if w.dtype == .nf4 { a.append("nf4: bitsandbytes NF4 with double quantization (4.127 bits) for linear layers; embeddings, output layer and norms in 16-bit") }
        a.append("fits: total <= GPU memory x (1 - \(options.headroom)); prices: catalog reference prices (see `plan gpus`)")
        return a
    }

    /// What the serving engine, the speeds and the costs assume.
    public static func speedAssumptions(_ w: Workload, speed: SpeedRequest, serving: ServingEstimate?, hasSpeed: Bool) -> [String] {
        var a: [String] = []
        if let s = serving, s.engine == .vllm {
            a.append(
                "vLLM V1 memory profiling (gpu_worker.determine_available_memory): KV cache = CUDA total x gpu_memory_utilization - weights "
                    + "- non-torch growth (\(Human.gib(s.nonTorchBytes)), measured in vLLM 0.19's profiles) - the profiling run's peak (one forward of "
                    + "max_num_batched_tokens, then the \((s.sampler ?? VLLM.defaultSampler).rawValue) sampler on min(max_num_batched_tokens, max_num_seqs) rows of "
                    + "logits; --vllm-sampler pytorch for installs whose log says \"Falling back to the PyTorch-native implementation\") - CUDA graphs "
                    + "(the largest captured batch plus 3 MiB per captured size; 0 with --enforce-eager)")
            if !s.totalMeasured {
                a.append("CUDA total: nvidia-smi's less \(Human.gib(VLLM.driverReserveBytes)) (no measured CUDA total for this GPU)")
            }
        }
        if hasSpeed || speed.ranksByWork {
            let e = speed.efficiencies
            a.append(
                "speed: decode reads the weights (the experts a batch touches, uniform routing) and the batch's KV at "
                    + "\(e.memoryBandwidth) of peak bandwidth (--mem-efficiency); prefill and training compute at \(e.prefillMFU) (--prefill-mfu) "
                    + "and \(e.trainingMFU) (--mfu) of the dense tensor peak; collectives at \(e.network) of the link (--network-efficiency) "
                    + "plus \(Int(e.collectiveLatency * 1e6)) us each")
            a.append(
                speed.amortizeYears.map { "a GPU-hour is its purchase price over \($0) years of 8,760 hours (power, hosting and staff not included)" }
                    ?? "a GPU-hour is the catalog's on-demand price (`plan gpus`; set yours with `plan gpus set-price --hourly`)")
        }
        if w.mode == .train && speed.trainTokens != nil {
            a.append(
                "training FLOPs per token: 6N + 12·layers·heads·head_dim·seq for full training (PaLM, Appendix B), 4N + 6 per trainable "
                    + "parameter for LoRA/QLoRA; checkpointing recomputes one forward; data-parallel traffic overlaps the backward pass "
                    + "(2/3 of a step), tensor-parallel all-reduces do not; between servers over the SKU's usual fabric, one port per GPU")
        }
        return a
    }
}
