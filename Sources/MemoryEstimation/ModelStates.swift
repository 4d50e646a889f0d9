import PlanModel

/// Bytes per parameter of each model-state component, and which ZeRO stage shards it.
///
/// The ZeRO paper's mixed-precision Adam (Rajbhandari et al. 2020, §3.1): 2 (16-bit weights)
/// + 2 (16-bit gradients) + K = 12 (fp32 master weights 4, momentum 4, variance 4) = 16 bytes.
/// Stage 1 shards the optimizer states and master weights, stage 2 also the gradients,
/// stage 3 also the weights.
public struct StateLayout: Sendable, Equatable {
    /// Bytes per trainable parameter of the working weights.
    public var weight: Double
    /// Bytes per trainable parameter of gradients.
    public var gradient: Double
    /// Bytes per trainable parameter of fp32 master weights (0 when the weights are already fp32 or in pure precision).
    public var master: Double
    /// Bytes per trainable parameter of optimizer statistics (momentum, variance, ...).
    public var optimizer: Double

    public init(weight: Double, gradient: Double, master: Double, optimizer: Double) {
        self.weight = weight
        self.gradient = gradient
        self.master = master
        self.optimizer = optimizer
    }

    public var total: Double { weight + gradient + master + optimizer }
}

/// Model states of one GPU: weights, gradients, master weights and optimizer states.
public struct StateBytes: Sendable, Equatable {
    public var weights: Int
    public var gradients: Int
    public var master: Int
    public var optimizer: Int
    /// Bytes moved to host memory by offload (per GPU's shard).
    public var hostOffload: Int

    public var total: Int { weights + gradients + master + optimizer }
}

public enum ModelStates {
    /// Bytes per trainable parameter for an optimizer and precision (HF "model memory anatomy";
    /// ZeRO paper; bitsandbytes 8-bit optimizers; torchtune's pure-bf16 recipes).
    public static func layout(
        optimizer: Optimizer, precision: Precision, dtype: WeightDType, gradientFP32: Bool,
        adafactorBytesPerParam: Double = 0
    ) -> StateLayout {
        let w = Double(dtype.wholeBytes ?? 2)
        // Mixed precision keeps fp32 master weights and fp32 optimizer statistics; pure keeps
        // everything in the weight dtype; fp32 weights need no master copy.
        let mixed = precision == .mixed && w < 4
        let master = mixed ? 4.0 : 0
        let stat = mixed ? 4.0 : w
        let gradient = gradientFP32 ? 4.0 : w
        let opt: Double
        switch optimizer {
        case .adamw: opt = 2 * stat
        // bitsandbytes blockwise 8-bit Adam: two uint8 states plus one fp32 absmax per 2048-element block each.
        case .adamw8bit: opt = 2 * (1 + 4.0 / 2048)
        case .sgd: opt = stat
        case .adafactor: opt = adafactorBytesPerParam
        }
        return StateLayout(weight: w, gradient: gradient, master: master, optimizer: opt)
    }

    /// Model states per GPU for `trainable` parameters under a ZeRO stage over `dp` GPUs
    /// (ZeRO paper Table 1 formulas: DDP (2+2+K)Ψ; P_os 2Ψ+2Ψ+KΨ/N; P_os+g 2Ψ+(2+K)Ψ/N; P_os+g+p (2+2+K)Ψ/N).
    /// With `offload` the optimizer states, master weights (and gradients' fp32 copy) live in host memory
    /// (ZeRO-Offload, Ren et al. 2021); `.params` also moves the weights (ZeRO-Infinity / FSDP CPUOffload).
    public static func perGPU(trainable: Int, layout: StateLayout, stage: Int, dp: Int, offload: Offload = .none) -> StateBytes {
        let p = Double(trainable)
        let n = Double(max(dp, 1))
        func shard(_ bytes: Double, from s: Int) -> Int { Int((stage >= s ? bytes / n : bytes).rounded(.up)) }
        var weights = shard(p * layout.weight, from: 3)
        var gradients = shard(p * layout.gradient, from: 2)
        var master = shard(p * layout.master, from: 1)
        var optimizer = shard(p * layout.optimizer, from: 1)
        var host = 0
        switch offload {
        case .none: break
        case .optimizer:
            // Gradients are streamed to the CPU as they are reduced (DeepSpeed estimate_zero2: gpu = 2P).
            host = master + optimizer + shard(p * 4, from: 1)
            master = 0
            optimizer = 0
            gradients = 0
        case .params:
            host = master + optimizer + shard(p * 4, from: 1) + weights
            master = 0
            optimizer = 0
            gradients = 0
            weights = 0
        }
        return StateBytes(weights: weights, gradients: gradients, master: master, optimizer: optimizer, hostOffload: host)
    }
}
