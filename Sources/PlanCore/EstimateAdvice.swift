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
}
