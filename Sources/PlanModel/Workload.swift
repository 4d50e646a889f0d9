/// Whether a workload trains or serves.
public enum Mode: String, Sendable, CaseIterable, Codable { case infer, train }

/// How a training workload updates the model.
public enum TrainingMethod: String, Sendable, CaseIterable, Codable { case full, lora, qlora }

/// Storage format of the weights.
public enum WeightDType: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, fp16, fp8, int8, int4, nf4

    /// Bytes per element for formats that are whole bytes; 4-bit formats return nil.
    public var wholeBytes: Int? {
        switch self {
        case .fp32: 4
        case .bf16, .fp16: 2
        case .fp8, .int8: 1
        case .int4, .nf4: nil
        }
    }

    /// Whether this is a quantized storage format (the compute happens in 16-bit).
    public var isQuantized: Bool { self == .int8 || self == .int4 || self == .nf4 || self == .fp8 }
}

/// Storage format of the KV cache.
public enum KVDType: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, fp16, fp8
    public var bytes: Int {
        switch self {
        case .fp32: 4
        case .bf16, .fp16: 2
        case .fp8: 1
        }
    }
}

public enum Optimizer: String, Sendable, CaseIterable, Codable {
    case adamw
    case adamw8bit = "adamw-8bit"
    case sgd
    case adafactor
}

/// mixed: 16-bit weights and gradients with fp32 master weights and fp32 optimizer states
/// (DeepSpeed/Megatron/ZeRO paper); pure: everything in the weight dtype (torchtune, `pure_bf16`).
public enum Precision: String, Sendable, CaseIterable, Codable { case mixed, pure }

public enum AttentionImplementation: String, Sendable, CaseIterable, Codable {
    /// FlashAttention-2 kernels: no attention matrix kept.
    case flash
    /// PyTorch scaled_dot_product_attention with a fused (flash or memory-efficient) kernel.
    case sdpa
    /// Plain matmul + softmax: the attention matrix is materialised and kept.
    case eager
}

/// How the model states are split across data-parallel GPUs.
public enum Strategy: String, Sendable, CaseIterable, Codable {
    case ddp, zero1, zero2, zero3, fsdp

    /// ZeRO stage: which of optimizer states (1), gradients (2) and parameters (3) are sharded.
    public var zeroStage: Int {
        switch self {
        case .ddp: 0
        case .zero1: 1
        case .zero2: 2
        case .zero3, .fsdp: 3
        }
    }
}

public enum Offload: String, Sendable, CaseIterable, Codable {
    case none, optimizer, params
}

extension Strategy {
    /// The strategy when none is given: ZeRO-3 to offload parameters (their shards must move),
    /// ZeRO-2 to offload the optimizer over several data-parallel ranks (DeepSpeed's offload
    /// works with a sharded optimizer), else plain DDP.
    public static func defaultFor(offload: Offload, dataParallel dp: Int) -> Strategy {
        switch offload {
        case .params: .zero3
        case .optimizer where dp > 1: .zero2
        default: .ddp
        }
    }
}

/// The modules LoRA adapts.
public enum LoRATargets: Sendable, Equatable, Codable {
    /// Every linear layer of the model's blocks (attention and MLP; for MoE and latent-attention
    /// families their own names): the default.
    case allLinear
    /// These modules, by PEFT's (Hugging Face's) names.
    case modules([String])

    /// The seven linear layers of a dense Llama-style block.
    public static let llamaLinear = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    /// The targets a list of names means: exactly the seven Llama names mean every linear layer
    /// (that is how stored jobs write the default, and what a user listing all seven asks for).
    public init(names: [String]) { self = names == Self.llamaLinear ? .allLinear : .modules(names) }

    /// The names as stored and reported: all-linear is written as the seven Llama names.
    public var names: [String] {
        switch self {
        case .allLinear: Self.llamaLinear
        case .modules(let m): m
        }
    }

    public init(from decoder: Decoder) throws { self.init(names: try decoder.singleValueContainer().decode([String].self)) }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(names)
    }
}

/// Everything about a workload that changes its memory, except how it is split across GPUs.
public struct Workload: Sendable, Equatable, Codable {
    public var mode: Mode
    public var method: TrainingMethod
    public var dtype: WeightDType
    public var kvDType: KVDType?
    public var optimizer: Optimizer
    public var precision: Precision
    /// Micro-batch size (sequences).
    public var batch: Int
    /// Tokens per sequence.
    public var seq: Int
    public var attention: AttentionImplementation
    public var checkpointing: Bool
    public var loraRank: Int
    /// LoRA target modules (in JSON: a list of Hugging Face names, the seven Llama names for all-linear).
    public var loraTargets: LoRATargets
    /// A serving engine's memory reservation as a fraction of GPU memory (vLLM `gpu_memory_utilization`).
    public var gpuMemoryUtilization: Double?
    /// Whether the KV cache of sliding-window layers holds only the window (as transformers' cache does).
    public var kvSlidingWindow: Bool
    /// Gradient-accumulation / pipeline micro-batches per step.
    public var microBatches: Int
    /// A fused or chunked-and-compiled cross-entropy (torchtune `CEWithChunkedOutputLoss` with
    /// torch.compile, Liger): keeps the 16-bit logits and an fp32 logsumexp instead of an fp32 log-softmax.
    public var fusedLoss: Bool
    /// The optimizer steps each parameter as soon as its gradient is ready (torchtune
    /// `optimizer_in_bwd`), so only one parameter's gradient exists at a time.
    public var optimizerInBackward: Bool

    public init(
        mode: Mode = .infer, method: TrainingMethod = .full, dtype: WeightDType = .bf16, kvDType: KVDType? = nil,
        optimizer: Optimizer = .adamw, precision: Precision = .mixed, batch: Int = 1, seq: Int? = nil,
        attention: AttentionImplementation = .sdpa, checkpointing: Bool = false, loraRank: Int = 16,
        loraTargets: LoRATargets = .allLinear, gpuMemoryUtilization: Double? = nil,
        kvSlidingWindow: Bool = false, microBatches: Int = 1, fusedLoss: Bool = false, optimizerInBackward: Bool = false
    ) {
        self.mode = mode
        self.method = method
        // QLoRA is LoRA on a 4-bit NF4 base: the one place this rule is written.
        self.dtype = method == .qlora ? .nf4 : dtype
        self.kvDType = kvDType
        self.optimizer = optimizer
        self.precision = precision
        self.batch = batch
        self.seq = seq ?? (mode == .train ? 2048 : 4096)
        self.attention = attention
        self.checkpointing = checkpointing
        self.loraRank = loraRank
        self.loraTargets = loraTargets
        self.gpuMemoryUtilization = gpuMemoryUtilization
        self.kvSlidingWindow = kvSlidingWindow
        self.microBatches = microBatches
        self.fusedLoss = fusedLoss
        self.optimizerInBackward = optimizerInBackward
    }

    /// Whether the work computes in BF16: BF16 weights, or LoRA/QLoRA training (adapters and the
    /// dequantized base compute in BF16). GPUs without BF16 (V100, T4) would need an fp16 variant.
    /// The one place this rule is written.
    public var needsBF16: Bool { dtype == .bf16 || (mode == .train && method != .full) }
}

/// How one copy of a workload is laid out over GPUs: dp x tp x pp GPUs.
public struct ParallelSplit: Sendable, Equatable, Hashable, Codable {
    public var strategy: Strategy
    /// Data-parallel degree (shards for ZeRO/FSDP).
    public var dp: Int
    /// Tensor-parallel degree (inside one server).
    public var tp: Int
    /// Pipeline stages.
    public var pp: Int
    public var offload: Offload

    public init(strategy: Strategy = .ddp, dp: Int = 1, tp: Int = 1, pp: Int = 1, offload: Offload = .none) {
        self.strategy = strategy
        self.dp = dp
        self.tp = tp
        self.pp = pp
        self.offload = offload
    }

    public var gpus: Int { dp * tp * pp }
    public static let single = ParallelSplit()
}
