import ArgumentParser
import Foundation
import MemoryEstimation
import PlanModel

extension Mode: ExpressibleByArgument {}
extension TrainingMethod: ExpressibleByArgument {}
extension WeightDType: ExpressibleByArgument {}
extension KVDType: ExpressibleByArgument {}
extension Optimizer: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension AttentionImplementation: ExpressibleByArgument {}
extension Strategy: ExpressibleByArgument {}
extension Offload: ExpressibleByArgument {}

/// The estimator's workload flags, shared by `plan estimate` and `plan job add`.
struct WorkloadOptions: ParsableArguments {
    var mode: Mode { modeOption ?? .infer }
    /// Whether --mode was given (jobs must say it).
    var modeWasSet: Bool { modeOption != nil }
    @Option(name: .customLong("mode"), help: "infer or train (default infer).") var modeOption: Mode?
    @Option(help: "Training method: full, lora or qlora (4-bit NF4 base with LoRA adapters).") var method: TrainingMethod = .full
    @Option(name: .customLong("dtype"), help: "Weight dtype: fp32, bf16, fp16, fp8, int8, int4 or nf4 (default bf16; serving a checkpoint folder: its own tensors).")
    var dtypeOption: WeightDType?
    var dtype: WeightDType { dtypeOption ?? .bf16 }
    @Option(name: .customLong("kv-dtype"), help: "KV cache dtype for inference: fp32, bf16, fp16 or fp8 (default: the compute dtype).")
    var kvDType: KVDType?
    @Option(help: "Optimizer: adamw, adamw-8bit, sgd (with momentum) or adafactor.") var optimizer: Optimizer = .adamw
    @Option(help: "mixed: fp32 master weights and optimizer states; pure: everything in --dtype.") var precision: Precision = .mixed
    @Option(parsing: .unconditional, help: "Micro-batch size (sequences per GPU).") var batch: Int = 1
    @Option(parsing: .unconditional, help: "Tokens per sequence (default: 2048 to train, 4096 to serve).") var seq: Int?
    @Option(help: "Attention kernel: sdpa (PyTorch scaled_dot_product_attention, transformers' default), flash (FlashAttention-2), or eager (materialises the attention matrix).")
    var attention: AttentionImplementation = .sdpa
    @Flag(help: "Full activation recomputation (gradient checkpointing).") var checkpointing = false
    @Option(name: .customLong("lora-rank"), parsing: .unconditional, help: "LoRA rank.") var loraRank: Int = 16
    @Option(
        name: .customLong("lora-targets"),
        help: "Comma-separated LoRA target modules (default: all seven linear layers: q,k,v,o,gate,up,down _proj).")
    var loraTargets: String?
    @Option(
        name: .customLong("gpu-memory-utilization"),
        help: "A serving engine's memory reservation as a fraction of GPU memory (vLLM: 0.9); needs --gpu.")
    var gpuMemoryUtilization: Double?
    @Flag(name: .customLong("kv-window"), help: "Sliding-window layers keep only their window of KV (paged engines); default: the full sequence, as transformers' cache holds after a prefill.")
    var kvWindow = false
    @Option(name: .customLong("micro-batches"), parsing: .unconditional, help: "Micro-batches per step (pipeline in flight).")
    var microBatches: Int = 1
    @Flag(name: .customLong("fp32-grads"), help: "Keep gradients in fp32 (HF Trainer, Megatron, DeepSpeed: 18 bytes/parameter with AdamW).")
    var fp32Grads = false
    @Flag(name: .customLong("fused-loss"), help: "A fused or chunked+compiled cross-entropy (torchtune, Liger): keeps 16-bit logits, not an fp32 log-softmax.")
    var fusedLoss = false
    @Flag(name: .customLong("optimizer-in-backward"), help: "Step each parameter during backward (torchtune optimizer_in_bwd): one gradient at a time.")
    var optimizerInBackward = false
    @Option(name: .customLong("quant-group-size"), parsing: .unconditional, help: "GPTQ/AWQ group size for int4/int8/fp8 weights (adds fp16 scales; embeddings stay 16-bit).")
    var quantGroupSize: Int?

    func workload() throws -> Workload {
        let targets = try loraTargets.map { text -> [String] in
            let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.map(LoRA.normalizedName)
            guard !names.isEmpty else { throw PlanError.usage("--lora-targets is empty; valid: \(LoRA.targets.joined(separator: ", "))") }
            return names
        }
        let w = Workload(
            mode: mode, method: method, dtype: dtype, kvDType: kvDType, optimizer: optimizer,
            precision: precision, batch: batch, seq: seq, attention: attention, checkpointing: checkpointing,
            loraRank: loraRank, loraTargets: targets.map(LoRATargets.init(names:)) ?? .allLinear, gpuMemoryUtilization: gpuMemoryUtilization,
            kvSlidingWindow: kvWindow, microBatches: microBatches, fusedLoss: fusedLoss,
            optimizerInBackward: optimizerInBackward)
        return w
    }

    func options(headroom: Double?) throws -> EstimateOptions {
        var o = EstimateOptions()
        o.gradientFP32 = fp32Grads
        if let g = quantGroupSize {
            guard g >= 1, g <= 1 << 20 else { throw PlanError.usage("invalid --quant-group-size \(g); expected e.g. 32, 64 or 128") }
            o.quantGroupSize = g
        }
        if let h = headroom {
            guard h >= 0, h < 1 else { throw PlanError.usage("invalid --headroom \(h); expected a fraction from 0 to 0.99, e.g. 0.1") }
            o.headroom = h
        }
        return o
    }
}

/// `--gpu`, `--gpus`, `--strategy`, `--tp`, `--pp`, `--offload`.
struct SplitOptions: ParsableArguments {
    @Option(help: "GPU type id or alias to check the fit against (see `plan gpus`).") var gpu: String?
    @Option(parsing: .unconditional, help: "GPUs for one copy of the workload (dp x tp x pp).") var gpus: Int?
    @Option(help: "ddp, zero1, zero2, zero3 or fsdp (default: ddp, or zero3 when --offload params).") var strategy: Strategy?
    @Option(parsing: .unconditional, help: "Tensor-parallel degree (inside one server).") var tp: Int?
    @Option(parsing: .unconditional, help: "Pipeline-parallel stages.") var pp: Int?
    @Option(help: "CPU offload for training: optimizer (states, master weights, fp32 grads) or params (also the weights).")
    var offload: Offload = .none

    func split(mode: Mode) throws -> ParallelSplit {
        let tp = tp ?? 1
        let pp = pp ?? 1
        guard tp >= 1, tp <= 1024 else { throw PlanError.usage("invalid --tp \(tp); expected 1 to 1024") }
        guard pp >= 1, pp <= 1024 else { throw PlanError.usage("invalid --pp \(pp); expected 1 to 1024") }
        var total = gpus ?? tp * pp
        guard total >= 1, total <= 1_000_000 else { throw PlanError.usage("invalid --gpus \(total); expected 1 to 1000000") }
        var tpUsed = tp
        if mode == .infer, self.tp == nil, let g = gpus, g > 1 {
            // Serving one copy on several GPUs means tensor parallelism unless --pp says otherwise.
            guard g % pp == 0 else {
                throw PlanError.usage("--gpus \(g) must be a multiple of --pp \(pp)")
            }
            tpUsed = g / pp
            total = g
        }
        guard total % (tpUsed * pp) == 0 else {
            throw PlanError.usage("--gpus \(total) must be a multiple of --tp x --pp = \(tpUsed * pp)")
        }
        let dp = total / (tpUsed * pp)
        if mode == .infer && dp > 1 {
            throw PlanError.usage("--gpus \(total) for inference must equal --tp x --pp (\(tpUsed * pp)); replicas are separate copies")
        }
        let strat = strategy ?? .defaultFor(offload: offload, dataParallel: dp)
        return ParallelSplit(strategy: strat, dp: dp, tp: tpUsed, pp: pp, offload: offload)
    }
}
