import PlanModel

/// Constants and conventions the estimate depends on; every value is printed with the result.
public struct EstimateOptions: Sendable, Equatable {
    /// CUDA context, kernels and library workspaces per GPU. Measured 1343 MB on a V100 with CUDA 11.2
    /// (transformers docs, model_memory_anatomy.md); 0.3 to 2 GiB depending on GPU, driver and lazy
    /// loading. We state 1 GiB.
    public var cudaContextBytes: Int = 1 << 30
    /// NCCL communicator buffers per GPU when more than one GPU works on a copy (stated assumption).
    public var ncclBytes: Int = 512 << 20
    /// Fraction of each GPU's memory kept free for allocator fragmentation and spikes.
    public var headroom: Double = 0.10
    /// Accumulate gradients in fp32 (HF Trainer/Megatron/DeepSpeed: 18 bytes per parameter with AdamW)
    /// instead of in the weight dtype (ZeRO paper: 16).
    public var gradientFP32: Bool = false
    /// Group size of GPTQ/AWQ-style int4/int8/fp8 weights; nil = the packed convention without scales.
    public var quantGroupSize: Int? = nil
    /// Serving from a checkpoint: its exact tensor bytes (safetensors headers) replace the weights
    /// computed from the config and dtype; each GPU holds its shard's share of them.
    public var checkpointWeightBytes: Int? = nil
    /// Serve the multi-token-prediction layers too (speculative decoding, `--include-mtp`): their
    /// parameters are added to the weights in the weight dtype, split over tensor-parallel ranks.
    public var includeMTP: Bool = false

    public init() {}
}

/// The memory of one GPU (the most loaded) for a workload and split, component by component.
public struct MemoryEstimate: Sendable, Equatable {
    public var parameters: Int
    public var activeParameters: Int
    public var trainableParameters: Int
    public var split: ParallelSplit
    public var weights: Int
    public var gradients: Int
    public var optimizerStates: Int
    public var masterWeights: Int
    public var activations: Int
    public var kvCache: Int
    public var overhead: Int
    /// Named parts of `overhead` (cuda_context, nccl, zero3_gather, comm_buckets, recompute).
    public var overheadParts: [String: Int]
    /// Where the activations sit.
    public var activationParts: ActivationBytes
    /// Host (CPU) memory per GPU for offloaded states.
    public var hostBytes: Int
    /// A serving engine's reservation per GPU (vLLM gpu_memory_utilization x memory), if asked.
    public var reservedBytes: Int?
    /// Tokens of KV cache that fit in the reservation, if one was asked.
    public var kvCapacityTokens: Int?
    public var warnings: [String]

    /// What the components add up to.
    public var componentsTotal: Int {
        weights + gradients + optimizerStates + masterWeights + activations + kvCache + overhead
    }

    /// Bytes the GPU holds: the components, or the engine's reservation when that is larger.
    public var total: Int { max(componentsTotal, reservedBytes ?? 0) }

    public var gpus: Int { split.gpus }
}

/// Why an estimate cannot be made; the message names the flag and the valid values.
/// Why a workload or split cannot be estimated. Cases name the setting, the value and what is
/// valid; front ends render them (the CLI names its flags, `PlanCLI/Support/Errors.swift`).
public enum EstimateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A workload setting outside its range: the setting, the value given, and the valid range.
    case outOfRange(WorkloadSetting, value: String, valid: String)
    /// batch x seq makes some tensor larger than 63-bit byte counts allow.
    case tooLarge(batch: Int, seq: Int)
    /// Tensor parallelism must divide the attention heads.
    case tensorParallel(Int, heads: Int, valid: [Int])
    /// Pipeline stages must be between 1 and the number of layers.
    case pipelineStages(Int, layers: Int)
    case dataParallel(Int)
    /// Quantized weights cannot be trained in full.
    case fullTrainingOfQuantized(WeightDType)
    /// LoRA target names the model does not have.
    case loraTargets([String], modelType: String, valid: [String])
    /// PEFT fuses these two into one adapter on this model type: both or neither.
    case loraHalfOfFusedPair([String], modelType: String)
    /// This offload needs a sharded strategy (optimizer: zero1+ over several GPUs; params: zero3/fsdp).
    case offloadNeedsSharding(Offload)
    case offloadNeedsTraining

    public enum WorkloadSetting: String, Sendable {
        case batch, seq, microBatches = "micro-batches", loraRank = "lora-rank", gpuMemoryUtilization = "gpu-memory-utilization"
        case context
    }

    public var description: String {
        switch self {
        case .outOfRange(let s, let v, let valid): "invalid \(s.rawValue) \(v); expected \(valid)"
        case .tooLarge(let b, let s): "batch \(b) x seq \(s) is too large for this model: the memory would exceed 4 exabytes"
        case .tensorParallel(let tp, let heads, let valid):
            "tensor parallelism \(tp) must divide the model's \(heads) attention heads; valid: \(valid.map(String.init).joined(separator: ", "))"
        case .pipelineStages(let pp, let layers): "pipeline stages \(pp) must be between 1 and the model's \(layers) layers"
        case .dataParallel(let dp): "the data-parallel degree \(dp) must be at least 1"
        case .fullTrainingOfQuantized(let d): "\(d.rawValue) weights cannot be trained in full; use fp32, bf16 or fp16, or LoRA/QLoRA"
        case .loraTargets(let t, let type, let valid):
            "invalid LoRA targets '\(t.joined(separator: ","))' for model_type '\(type)'; valid: \(valid.joined(separator: ", "))"
        case .loraHalfOfFusedPair(let pair, let type):
            "PEFT fuses \(pair.joined(separator: " and ")) into the experts' gate_up_proj on model_type '\(type)'; target both or neither"
        case .offloadNeedsSharding(.params): "offloading parameters needs ZeRO-3 or FSDP"
        case .offloadNeedsSharding: "offloading the optimizer over several GPUs needs a sharded strategy (ZeRO-1, 2, 3 or FSDP)"
        case .offloadNeedsTraining: "offload applies to training"
        }
    }
}

public enum Estimator {
    /// Checks a workload and split against the architecture.
    public static func validate(_ a: ModelArchitecture, _ w: Workload, _ split: ParallelSplit) throws {
        guard w.batch >= 1, w.batch <= 1_000_000 else {
            throw EstimateError.outOfRange(.batch, value: String(w.batch), valid: "a whole number from 1 to 1000000")
        }
        guard w.seq >= 1, w.seq <= 100_000_000 else {
            throw EstimateError.outOfRange(.seq, value: String(w.seq), valid: "a whole number of tokens from 1 to 100000000")
        }
        guard w.microBatches >= 1, w.microBatches <= 100_000 else {
            throw EstimateError.outOfRange(.microBatches, value: String(w.microBatches), valid: "1 to 100000")
        }
        // Refuse sizes whose bytes would not fit in 63 bits before computing anything.
        let b = Double(w.batch)
        let s = Double(w.seq)
        let t = b * s
        let largest = [
            b * Double(a.heads) * s * s * 16,
            t * Double(a.vocabSize) * 16,
            t * Double(a.hiddenSize) * 64 * Double(a.layers),
            t * Double(a.intermediateSize) * 16 * Double(a.experts) * Double(a.layers),
            2 * Double(a.layers) * Double(a.kvHeads * a.headDim) * 4 * t,
        ].max()!
        guard largest < 4e18 else {
            throw EstimateError.tooLarge(batch: w.batch, seq: w.seq)
        }
        let divisors = (1...a.heads).filter { a.heads % $0 == 0 && $0 <= 1024 }
        guard split.tp >= 1, a.heads % split.tp == 0 else {
            throw EstimateError.tensorParallel(split.tp, heads: a.heads, valid: divisors)
        }
        guard split.pp >= 1, split.pp <= a.layers else {
            throw EstimateError.pipelineStages(split.pp, layers: a.layers)
        }
        guard split.dp >= 1 else { throw EstimateError.dataParallel(split.dp) }
        if w.mode == .train {
            if w.method == .full, w.dtype.isQuantized {
                throw EstimateError.fullTrainingOfQuantized(w.dtype)
            }
            if w.method != .full {
                guard w.loraRank >= 1, w.loraRank <= 65_536 else {
                    throw EstimateError.outOfRange(.loraRank, value: String(w.loraRank), valid: "1 to 65536")
                }
                if let why = LoRA.invalidTargets(a, LoRA.resolvedTargets(a, w.loraTargets)) { throw why }
            }
            switch split.offload {
            case .optimizer where split.strategy == .ddp && split.dp > 1:
                throw EstimateError.offloadNeedsSharding(.optimizer)
            case .params where split.strategy.zeroStage < 3:
                throw EstimateError.offloadNeedsSharding(.params)
            default: break
            }
        } else if split.offload != .none {
            throw EstimateError.offloadNeedsTraining
        }
        if let u = w.gpuMemoryUtilization, !(u > 0 && u <= 1) {
            throw EstimateError.outOfRange(.gpuMemoryUtilization, value: String(u), valid: "a fraction above 0 and at most 1, e.g. 0.9")
        }
    }

    /// The compute dtype's bytes per element (activations and KV cache default).
    static func computeBytes(_ w: Workload) -> Int {
        switch w.dtype {
        case .fp32: w.method == .qlora ? 2 : 4
        default: 2
        }
    }

    /// Per-GPU memory for `w` under `split`. `gpu`, when given, adds hardware warnings and the
    /// serving reservation.
    public static func estimate(
        _ a: ModelArchitecture, _ w: Workload, _ split: ParallelSplit, gpu: GPUType? = nil,
        options: EstimateOptions = EstimateOptions(), inventory: [LayerParams]? = nil
    ) -> MemoryEstimate {
        let inventory = inventory ?? (a.usesInventory ? LayerInventory.layers(a) : nil)
        guard split.pp > 1 && split.pp <= a.layers else {
            return estimate(a, w, split, stage: nil, gpu: gpu, options: options, inventory: inventory)
        }
        // The first stage keeps the most micro-batches in flight, the last holds the logits: report
        // whichever needs more.
        let first = estimate(a, w, split, stage: .first, gpu: gpu, options: options, inventory: inventory)
        let last = estimate(a, w, split, stage: .last, gpu: gpu, options: options, inventory: inventory)
        return last.total > first.total ? last : first
    }

    static func estimate(
        _ a: ModelArchitecture, _ w: Workload, _ split: ParallelSplit, stage: ParamShard.Stage?, gpu: GPUType?,
        options: EstimateOptions, inventory: [LayerParams]?
    ) -> MemoryEstimate {
        let params = ParameterCount(a, inventory: inventory)
        let shard = ParamShard(a, tp: split.tp, pp: split.pp, stage: stage, inventory: inventory)
        let e = computeBytes(w)
        var warnings: [String] = []
        var overheadParts: [String: Int] = ["cuda_context": options.cudaContextBytes]
        if split.gpus > 1 { overheadParts["nccl"] = options.ncclBytes }

        // The stage's layer range: the first stage holds the embedding, the last the output layer.
        let layerRange: Range<Int> = shard.hasEmbedding ? 0..<shard.layers : (a.layers - shard.layers)..<a.layers
        var trainable = 0
        var weights = 0
        var gradients = 0
        var optimizer = 0
        var master = 0
        var activations = ActivationBytes()
        var kv = 0
        var host = 0

        if w.mode == .infer {
            weights = WeightStorage.bytes(shard, dtype: w.dtype, groupSize: options.quantGroupSize)
            if let c = options.checkpointWeightBytes, params.total > 0 {
                weights = Int((Double(c) * Double(shard.total) / Double(params.total)).rounded(.up))
            } else if options.includeMTP, params.mtp > 0, shard.hasOutputLayer, shard.total > 0 {
                // The MTP modules sit after the last layer, on the last pipeline stage.
                let perParameter = Double(WeightStorage.bytes(shard, dtype: w.dtype, groupSize: options.quantGroupSize)) / Double(shard.total)
                weights += Int((Double(params.mtp) * perParameter / Double(split.tp)).rounded(.up))
            }
            let kvBytes = w.kvDType?.bytes ?? e
            kv = KVCache.bytes(
                a, batch: w.batch, tokens: w.seq, bytesPerElement: kvBytes, tp: split.tp, pp: split.pp,
                windowed: w.kvSlidingWindow, stage: stage, inventory: inventory)
            activations = Prefill.working(
                a, batch: w.batch, seq: w.seq, elementBytes: e, attention: w.attention, tp: split.tp, output: shard.hasOutputLayer)
        } else {
            let stage = split.strategy.zeroStage
            let dp = split.dp
            // Fraction of the model's trainable parameters on this GPU's tensor/pipeline shard.
            let fraction = Double(shard.total) / Double(params.total)
            switch w.method {
            case .full:
                trainable = params.total
                let layout = ModelStates.layout(
                    optimizer: w.optimizer, precision: w.precision, dtype: w.dtype, gradientFP32: options.gradientFP32,
                    adafactorBytesPerParam: Adafactor.bytesPerParameter(a, precision: w.precision, dtype: w.dtype))
                let states = ModelStates.perGPU(trainable: shard.total, layout: layout, stage: stage, dp: dp, offload: split.offload)
                weights = states.weights
                gradients = states.gradients
                optimizer = states.optimizer
                master = states.master
                host = states.hostOffload
            case .lora, .qlora:
                trainable = LoRA.trainableParameters(a, rank: w.loraRank, targets: LoRA.resolvedTargets(a, w.loraTargets))
                let baseDType: WeightDType = w.method == .qlora ? .nf4 : w.dtype
                var base = WeightStorage.bytes(shard, dtype: baseDType, groupSize: options.quantGroupSize)
                if stage >= 3 { base = (base + dp - 1) / dp }
                let adapterDType: WeightDType = (w.dtype == .fp32 && w.method == .lora) ? .fp32 : .bf16
                let layout = ModelStates.layout(
                    optimizer: w.optimizer, precision: w.precision, dtype: adapterDType, gradientFP32: options.gradientFP32,
                    adafactorBytesPerParam: 4 * (1 + (w.precision == .mixed ? 1 : 0)))
                let onShard = Int((Double(trainable) * fraction).rounded(.up))
                let states = ModelStates.perGPU(trainable: onShard, layout: layout, stage: stage, dp: dp, offload: split.offload)
                weights = base + states.weights
                gradients = states.gradients
                optimizer = states.optimizer
                master = states.master
                host = states.hostOffload
            }
            if w.optimizerInBackward {
                // Each parameter is stepped as soon as its gradient exists: one tensor's gradient at a time.
                let layout = ModelStates.layout(
                    optimizer: w.optimizer, precision: w.precision, dtype: w.method == .full ? w.dtype : .bf16,
                    gradientFP32: options.gradientFP32)
                let largest =
                    w.method == .full
                    ? max(params.embedding, params.lmHead, params.mlpPerExpert / (a.mlp == .gated ? 3 : 2))
                    : w.loraRank * max(a.hiddenSize, a.intermediateSize)
                gradients = min(gradients, Int(Double(largest) * layout.gradient))
            }
            var shape = Activations.Shape(
                batch: w.batch, seq: w.seq, elementBytes: e, attention: w.attention, checkpointing: w.checkpointing, tp: split.tp)
            shape.fusedLoss = w.fusedLoss
            if w.method != .full {
                // PEFT keeps adapters in fp32 on a 16-bit model (autocast_adapter_dtype=True); pure
                // precision recipes (torchtune) keep them in the model dtype.
                shape.lora = .init(
                    rank: w.loraRank, targets: Set(LoRA.resolvedTargets(a, w.loraTargets)), adapterBytes: w.precision == .mixed ? 4 : e)
            }
            activations = Activations.training(
                a, shape, layerRange: layerRange, embedding: shard.hasEmbedding, output: shard.hasOutputLayer)
            if split.pp > 1 && shard.hasEmbedding {
                // 1F1B: the first stage keeps min(pp, micro-batches) micro-batches in flight
                // (Narayanan et al. 2021; Megatron theoretical_memory_usage.py).
                let inFlight = max(1, min(split.pp, w.microBatches))
                activations.layers *= inFlight
                activations.embedding *= inFlight
            }
            if w.checkpointing { overheadParts["recompute"] = activations.largestLayer }
            switch stage {
            case 1, 2:
                // DeepSpeed's reduce/all-gather buckets: 5e8 elements in the compute dtype (EleutherAI cookbook).
                overheadParts["comm_buckets"] = min(500_000_000, trainable) * e
            case 3:
                // ZeRO-3/FSDP gather one module's 16-bit parameters and gradients at a time (DeepSpeed
                // estimate_zero3_model_states_mem_needs: 4 x largest layer).
                // A frozen LoRA base is gathered too, without gradients.
                let perParam = w.method == .full ? 2 * e : (w.method == .qlora ? 1 : e)
                overheadParts["zero3_gather"] = perParam * params.largestModule / split.tp
            default: break
            }
        }

        if let gpu {
            if !gpu.bf16 && w.needsBF16 {
                warnings.append(
                    "\(gpu.name) has no BF16 support: use --dtype fp16 (same memory; training needs loss scaling) or fp32")
            }
            if !gpu.fp8 && (w.dtype == .fp8 || w.kvDType == .fp8) {
                warnings.append("\(gpu.name) has no native FP8: FP8 weights or KV cache need a weight-only kernel or run slower")
            }
        }
        if w.seq > a.maxPositions {
            warnings.append("--seq \(w.seq) exceeds the model's context length \(a.maxPositions)")
        }

        let overhead = overheadParts.values.reduce(0, +)
        var estimate = MemoryEstimate(
            parameters: params.total, activeParameters: params.active(expertsPerToken: a.expertsPerToken, experts: a.experts),
            trainableParameters: w.mode == .train ? trainable : 0, split: split, weights: weights, gradients: gradients,
            optimizerStates: optimizer, masterWeights: master, activations: activations.total, kvCache: kv, overhead: overhead,
            overheadParts: overheadParts, activationParts: activations, hostBytes: host, reservedBytes: nil, kvCapacityTokens: nil,
            warnings: warnings)
        if let u = w.gpuMemoryUtilization, let gpu, w.mode == .infer {
            let reserved = Int(Double(gpu.memoryBytes) * u)
            estimate.reservedBytes = reserved
            let perToken = KVCache.bytes(
                a, batch: 1, tokens: 1, bytesPerElement: w.kvDType?.bytes ?? e, tp: split.tp, pp: split.pp, windowed: false,
                stage: stage, inventory: inventory)
            let free = reserved - (estimate.componentsTotal - kv)
            estimate.kvCapacityTokens = max(0, free / max(perToken, 1))
        }
        return estimate
    }

    /// Whether the estimate fits one GPU of `gpu` keeping `headroom` of its memory free.
    public static func fits(_ e: MemoryEstimate, gpu: GPUType, headroom: Double) -> Bool {
        if let r = e.reservedBytes { return e.componentsTotal <= r && r <= gpu.memoryBytes }
        return Double(e.total) <= Double(gpu.memoryBytes) * (1 - headroom)
    }
}

/// Adafactor (Shazeer & Stern 2018) keeps a factored second moment: one row and one column vector
/// per weight matrix, the full moment for vectors; no momentum (transformers' default beta1=None).
public enum Adafactor {
    /// Average optimizer bytes per parameter (fp32 statistics) plus fp32 master weights in mixed precision.
    public static func bytesPerParameter(_ a: ModelArchitecture, precision: Precision, dtype: WeightDType) -> Double {
        let h = a.hiddenSize
        let q = a.queryWidth
        let kv = a.kvWidth
        let i = a.intermediateSize
        let matsPerLayer = (h + q) * 2 + (h + kv) * 2 + (a.mlp == .gated ? 3 : 2) * (h + i) * a.experts
        let p = ParameterCount(a)
        let vectorsPerLayer = p.perLayer - p.linearWeightsPerLayer - (a.isMoE ? h * a.experts : 0)
        var stats = a.layers * (matsPerLayer + vectorsPerLayer) + (a.vocabSize + h) * (a.tiedEmbeddings ? 1 : 2) + p.finalNorm
        stats += a.learnedPositions > 0 ? a.learnedPositions + h : 0
        return Double(stats * 4) / Double(p.total)
    }
}
