import PlanModel

/// The serving engine whose memory accounting an estimate follows. Each engine turns a GPU, a
/// model shard and its settings into a `ServingEstimate`; SGLang would be one more case with its
/// own accounting (`mem_fraction_static`).
public enum ServingEngine: String, Sendable, CaseIterable, Codable {
    /// Hugging Face transformers `generate`: the cache holds the batch's sequences, nothing is reserved.
    case transformers
    /// vLLM V1: reserve `gpu_memory_utilization` of the CUDA memory, profile, give the rest to KV blocks.
    case vllm
}

/// Which top-k/top-p implementation vLLM's profiling run samples with (`TopKTopPSampler`). The
/// start-up log names it: "Using FlashInfer for top-p & top-k sampling", or "Falling back to the
/// PyTorch-native implementation of top-p & top-k sampling".
public enum VLLMSampler: String, Sendable, CaseIterable, Codable {
    /// FlashInfer's sampling from logits: what vLLM V1 uses whenever FlashInfer is installed (its
    /// Docker images; a dependency of current releases, where `VLLM_USE_FLASHINFER_SAMPLER` defaults on).
    case flashinfer
    /// vLLM's Triton top-k/top-p kernel, in place on the fp32 logits: vLLM 0.17 to 0.33, where the
    /// FlashInfer sampler is off by default ("available but disabled by default").
    case triton
    /// PyTorch's sort-based `apply_top_k_top_p`: pip installs of vLLM 0.11 and earlier without the
    /// `flashinfer` extra, vLLM 0.11.1 to 0.16 by default, or `VLLM_USE_FLASHINFER_SAMPLER=0` before 0.17.
    case pytorch
}

/// vLLM's engine arguments that decide its memory. `nil` means vLLM's default for the GPU
/// (`VLLM.resolved`); docs/estimator.md (serving engines) cites each default.
public struct VLLMSettings: Sendable, Equatable, Hashable, Codable {
    public var maxModelLen: Int?
    public var maxNumBatchedTokens: Int?
    public var maxNumSeqs: Int?
    public var blockSize: Int?
    public var gpuMemoryUtilization: Double?
    /// `--enforce-eager`: no CUDA graphs, so no graph memory.
    public var enforceEager: Bool = false
    /// The sampler the profiling run goes through (default FlashInfer).
    public var sampler: VLLMSampler?

    public init(
        maxModelLen: Int? = nil, maxNumBatchedTokens: Int? = nil, maxNumSeqs: Int? = nil, blockSize: Int? = nil,
        gpuMemoryUtilization: Double? = nil, enforceEager: Bool = false, sampler: VLLMSampler? = nil
    ) {
        self.maxModelLen = maxModelLen
        self.maxNumBatchedTokens = maxNumBatchedTokens
        self.maxNumSeqs = maxNumSeqs
        self.blockSize = blockSize
        self.gpuMemoryUtilization = gpuMemoryUtilization
        self.enforceEager = enforceEager
        self.sampler = sampler
    }
}

/// What a serving engine does with one GPU of a replica (the most loaded rank).
public struct ServingEstimate: Sendable, Equatable {
    public var engine: ServingEngine
    /// The memory the engine sizes against: CUDA's total (vLLM) or the GPU's memory.
    public var totalBytes: Int
    /// Whether `totalBytes` is a measured CUDA total (else nvidia-smi's total less a stated reserve).
    public var totalMeasured: Bool
    /// What the engine may use: total x utilization (vLLM), or total less headroom (transformers).
    public var usableBytes: Int
    public var weightsBytes: Int
    /// CUDA context, NCCL and library memory the engine charges (vLLM: the growth during profiling).
    public var nonTorchBytes: Int
    /// Peak transient activations: vLLM's profiling forward at its batched-token budget plus the
    /// sampler; transformers' prefill working memory.
    public var activationPeakBytes: Int
    public var cudaGraphBytes: Int
    /// What is left for the KV cache (negative when nothing is).
    public var kvCacheBytes: Int
    /// KV bytes one token takes on this rank, summed over its full-attention layers.
    public var kvBytesPerToken: Int
    public var blockSize: Int
    public var blocks: Int
    public var kvCacheTokens: Int
    /// Requests of `maxModelLen` tokens the cache holds at once.
    public var maxConcurrency: Double
    public var maxModelLen: Int
    public var maxNumBatchedTokens: Int
    public var maxNumSeqs: Int
    public var gpuMemoryUtilization: Double
    /// vLLM: the sampler path the profiling peak assumes.
    public var sampler: VLLMSampler? = nil
    /// Whether the engine starts with one request of `maxModelLen` (vLLM's own check).
    public var fits: Bool
    /// When it does not: the longest context that fits, and the utilization that would make room
    /// for `maxModelLen` (nil above 1).
    public var longestContext: Int?
    public var utilizationNeeded: Double?
    /// KV bytes one request of `maxModelLen` needs on this rank.
    public var kvBytesPerRequest: Int
}

extension ServingEstimate {
    /// transformers `generate`: nothing is reserved; the cache holds the batch's sequences, and what
    /// is left under the fit line (`--gpu-memory-utilization`, else the headroom) could hold more.
    public static func transformers(
        _ a: ModelArchitecture, _ w: Workload, _ e: MemoryEstimate, split: ParallelSplit, gpu: GPUType, headroom: Double, kvBytes: Int
    ) -> ServingEstimate {
        let usable = w.gpuMemoryUtilization.map { Int(Double(gpu.memoryBytes) * $0) } ?? Int(Double(gpu.memoryBytes) * (1 - headroom))
        let perToken = KVCache.bytes(a, batch: 1, tokens: 1, bytesPerElement: kvBytes, tp: split.tp, pp: split.pp, windowed: false)
        let kv = usable - (e.componentsTotal - e.kvCache)
        let tokens = max(0, kv) / max(perToken, 1)
        return ServingEstimate(
            engine: .transformers, totalBytes: gpu.memoryBytes, totalMeasured: true, usableBytes: usable, weightsBytes: e.weights,
            nonTorchBytes: e.overhead, activationPeakBytes: e.activations, cudaGraphBytes: 0, kvCacheBytes: kv, kvBytesPerToken: perToken,
            blockSize: 1, blocks: tokens, kvCacheTokens: tokens, maxConcurrency: Double(tokens) / Double(w.seq), maxModelLen: w.seq,
            maxNumBatchedTokens: w.batch * w.seq, maxNumSeqs: w.batch, gpuMemoryUtilization: Double(usable) / Double(gpu.memoryBytes),
            fits: e.total <= usable, longestContext: nil, utilizationNeeded: nil, kvBytesPerRequest: perToken * w.seq)
    }
}

/// vLLM V1's start-up accounting, term by term as its worker computes it
/// (`vllm/v1/worker/gpu_worker.py` `determine_available_memory`, `vllm/v1/core/kv_cache_utils.py`).
/// docs/estimator.md (serving engines) has each term with its source.
public enum VLLM {
    /// The reserve between nvidia-smi's total and CUDA's where no measurement is known: measured
    /// gaps are 0.42-0.68 GiB (H100 0.43, A100-80GB 0.68, A100-40GB 0.62, RTX 3090 0.42, L4 0.44).
    public static let driverReserveBytes = 512 << 20
    /// Non-torch growth during profiling: what CUDA holds beyond PyTorch's allocator after the
    /// profiling forward, less what it held at the snapshot taken after NCCL was set up (cuBLAS and
    /// attention workspaces, and the buffers NCCL allocates at its first collective). Measured in
    /// vLLM 0.19's debug profile on H100s (llm-d-planner, 60 runs, docs/estimator.md §10): 0.24-0.27
    /// GiB on one GPU (0.46 for Granite), 0.07 GiB with pipeline stages only, and 2.06-2.21 GiB with
    /// tensor parallelism over NVLink, where NCCL opens many channels with a buffer set each, for
    /// vLLM's own communicator and PyTorch's alike. Other NVLink generations take the H100 figure and
    /// other links (PCIe, bridges, AMD's Infinity Fabric) the PCIe one: neither is measured.
    public static let nonTorchBytes = 256 << 20
    public static let nonTorchPipelineBytes = 72 << 20
    public static let nonTorchNVLinkTPBytes = 2150 << 20
    /// Tensor parallelism over PCIe or a bridge: fewer channels, buffers in host memory where GPUs
    /// cannot peer (stated; a 2x RTX 4090 log leaves no room for more).
    public static let nonTorchTPBytes = 300 << 20

    /// The non-torch growth for a split on `gpu`.
    public static func nonTorch(tp: Int, pp: Int, gpu: GPUType) -> Int {
        if tp > 1 {
            let i = gpu.interconnect.lowercased()
            return i.hasPrefix("nvlink") && i != "nvlink-bridge" ? nonTorchNVLinkTPBytes : nonTorchTPBytes
        }
        return pp > 1 ? nonTorchPipelineBytes : nonTorchBytes
    }
    /// Sampler bytes per logit at the profiling run's peak, besides the logits in the model dtype.
    /// `_dummy_sampler_run` samples every row with top-k and top-p set, after casting the logits to
    /// fp32 (4; `Sampler.forward`):
    /// - FlashInfer (`flashinfer_sample` → `top_k_top_p_sampling_from_logits`, top-k first): the
    ///   top-k-masked logits (4) and their softmax (4): 12.
    /// - Triton (`apply_top_k_top_p_triton`): masks in place with a buffer of one row per SM, then
    ///   `random_sample`'s probabilities (4) and exponential draws (4): 12.
    /// - PyTorch (`apply_top_k_top_p`): the sort of the fp32 logits into values (4) and int64 indices
    ///   (8), with the sort's temporaries in PyTorch's CUDA stable sort
    ///   (`aten/src/ATen/native/cuda/SortStable.cu`) alive with them. For one row, or 128 rows and more
    ///   (`segmented_sort_pairs`): an int64 iota of source indices (8) and cub's alternate key and value
    ///   buffers (4 + 8), the temporary storage of the non-DoubleBuffer
    ///   `DeviceSegmentedRadixSort::SortPairs`: 36. For 2 to 127 rows
    ///   (`segmented_sort_pairs_by_full_sort`): two int2 index-and-segment arrays (8 + 8), the keys'
    ///   output (4) and cub's alternates (4 + 8): 48. What follows the sort (the masks, the sorted
    ///   probabilities and the scattered result, 1 + 1 + 4 + 4 over the 16 kept) is less.
    public static func samplerBytesPerLogit(rows: Int, sampler: VLLMSampler) -> Int {
        switch sampler {
        case .flashinfer, .triton: return 4 + 4 + 4
        case .pytorch:
            let kept = 4 + 4 + 8
            return rows > 1 && rows < 128 ? kept + 8 + 8 + 4 + 12 : kept + 8 + 12
        }
    }
    /// Graph memory per captured batch size beyond the largest size's activations (stated; one
    /// public log prints 0.17 GiB for 51 sizes).
    public static let graphBytesPerSize = 3 << 20
    public static let defaultUtilization = 0.9
    /// What current vLLM samples with (0.34: `VLLM_USE_FLASHINFER_SAMPLER` on by default).
    public static let defaultSampler = VLLMSampler.flashinfer
    public static let defaultBlockSize = 16
    /// FlashMLA's block size, which vLLM forces for latent attention.
    public static let mlaBlockSize = 64

    /// CUDA's total for a GPU: the measured figure, else nvidia-smi's less the driver reserve.
    public static func cudaTotal(_ gpu: GPUType) -> (bytes: Int, measured: Bool) {
        if let c = gpu.cudaMemoryBytes { return (c, true) }
        return (gpu.memoryBytes - driverReserveBytes, false)
    }

    /// `vllm serve`'s batch defaults by CUDA memory (`EngineArgs.get_batch_defaults`): 16384
    /// tokens and 1024 sequences from 160 GiB, 8192 and 1024 from 70 GiB except A100s, else 2048
    /// and 256.
    public static func batchDefaults(_ gpu: GPUType) -> (tokens: Int, seqs: Int) {
        let total = cudaTotal(gpu).bytes
        if total >= 160 << 30 { return (16384, 1024) }
        if total >= 70 << 30 && !gpu.name.lowercased().contains("a100") { return (8192, 1024) }
        return (2048, 256)
    }

    /// The settings with vLLM's defaults filled in for this GPU and model.
    public static func resolved(_ s: VLLMSettings, _ a: ModelArchitecture, gpu: GPUType) -> VLLMSettings {
        var r = s
        let d = batchDefaults(gpu)
        r.maxModelLen = s.maxModelLen ?? a.maxPositions
        r.maxNumSeqs = s.maxNumSeqs ?? d.seqs
        r.maxNumBatchedTokens = s.maxNumBatchedTokens ?? min(d.tokens, r.maxNumSeqs! * r.maxModelLen!)
        r.blockSize = s.blockSize ?? (a.latent != nil ? mlaBlockSize : defaultBlockSize)
        r.gpuMemoryUtilization = s.gpuMemoryUtilization ?? defaultUtilization
        r.sampler = s.sampler ?? defaultSampler
        return r
    }

    /// One rank's KV layout: its layers' page widths and how vLLM groups them.
    struct Layout {
        /// KV bytes per token per layer on this rank.
        var perLayerToken: Int
        var full: Int
        var windowed: Int
        var window: Int
        var groupSize: Int
        var fullGroups: Int
        var windowGroups: Int
        var groups: Int { fullGroups + windowGroups }

        init(_ a: ModelArchitecture, tp: Int, pp: Int, kvBytes: Int) {
            // MLA caches one latent per token on every rank; otherwise K and V of this rank's heads
            // (`max(1, kv_heads // tp)`, `ModelConfig.get_num_kv_heads`).
            perLayerToken = (a.latent != nil ? a.kvValuesPerToken : 2 * max(1, a.kvHeads / tp) * a.headDim) * kvBytes
            let stageLayers = (a.layers + pp - 1) / pp
            var w = 0
            for l in 0..<stageLayers where l < a.slidingLayers.count && a.slidingLayers[l] && a.slidingWindow != nil { w += 1 }
            windowed = w
            full = stageLayers - w
            window = a.slidingWindow ?? 0
            // `_get_kv_cache_groups_uniform_page_size`: groups of the smaller count's size (the larger
            // when it is under 1.5x the smaller), padded.
            if full > 0 && windowed > 0 {
                let lo = min(full, windowed)
                let hi = max(full, windowed)
                groupSize = hi < lo * 3 / 2 ? hi : lo
                fullGroups = (full + groupSize - 1) / groupSize
                windowGroups = (windowed + groupSize - 1) / groupSize
            } else {
                groupSize = full + windowed
                fullGroups = full > 0 ? 1 : 0
                windowGroups = windowed > 0 ? 1 : 0
            }
        }

        /// Bytes of one block across a group (every group's block has the same size).
        func bytesPerBlock(_ block: Int) -> Int { groupSize * perLayerToken * block }

        /// Blocks one request of `len` tokens holds across all groups (`max_memory_usage_bytes`).
        func blocksPerRequest(_ len: Int, block: Int, batchedTokens: Int) -> Int {
            let fullBlocks = (len + block - 1) / block
            let windowTokens = min(window - 1 + batchedTokens, len)
            let windowBlocks = (windowTokens + block - 1) / block + 1
            return fullGroups * fullBlocks + windowGroups * windowBlocks
        }
    }

    /// The profiling forward's peak at `tokens` tokens on one tensor-parallel rank, in vLLM's fused
    /// layers: the hidden state and residual, plus the largest of attention (qkv, output) and the
    /// MLP (gate_up and SiluAndMul's output; for experts, fused_moe's three caches per routed token).
    static func forwardPeak(_ a: ModelArchitecture, tokens t: Int, tp: Int, elementBytes e: Int) -> Int {
        let h = a.hiddenSize
        let base = 2 * e * t * h
        let q = (a.heads / tp) * a.headDim
        let kv = max(1, a.kvHeads / tp) * a.headDim
        let attention = e * t * (q + 2 * kv + q)
        var mlp = e * t * 3 * ((a.intermediateSize + tp - 1) / tp)
        if let m = a.moe {
            let i = (m.expertIntermediate + tp - 1) / tp
            let routed = t * m.expertsPerToken
            let experts = e * routed * (3 * i + h) + 4 * t * m.experts + e * t * 3 * ((m.sharedIntermediate + tp - 1) / tp)
            mlp = max(m.sparse.contains(false) ? mlp : 0, experts)
        } else if a.experts > 1 {
            let i = (a.intermediateSize + tp - 1) / tp
            mlp = e * t * a.expertsPerToken * (3 * i + h) + 4 * t * a.experts
        }
        return base + max(attention, mlp)
    }

    /// The sampler's peak in the profiling run: `rows` logits rows over the whole vocabulary.
    static func samplerPeak(_ a: ModelArchitecture, rows: Int, elementBytes e: Int, sampler: VLLMSampler) -> Int {
        rows * a.vocabSize * (e + samplerBytesPerLogit(rows: rows, sampler: sampler))
    }

    /// What vLLM's MXFP4 MoE kernels add to a checkpoint's expert bytes on one rank: they pad the
    /// experts' hidden size to a multiple of 256 and their per-rank intermediate size to a multiple
    /// of 128 (Marlin, the path of GPUs without FP4 tensor cores) or 256 (FlashInfer on Blackwell),
    /// for the weights, their E8M0 scale per 32 and the bf16 biases alike
    /// (`Mxfp4MoEMethod.create_weights`, `vllm/model_executor/layers/quantization/mxfp4.py`, 0.11).
    public static func mxfp4ExpertPadding(_ a: ModelArchitecture, tp: Int, pp: Int, gpu: GPUType) -> Int {
        guard let m = a.moe else { return 0 }
        let h = a.hiddenSize
        let i = (m.expertIntermediate + tp - 1) / tp
        func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }
        let hp = roundUp(h, 256)
        let ip = roundUp(i, gpu.fp4 ? 256 : 128)
        // gate_up [2i, h] and down [h, i]: 4-bit values, an 8-bit scale per 32, a bf16 bias per output.
        func bytes(_ h: Int, _ i: Int) -> Int { 3 * i * h / 2 + 3 * i * h / 32 + 2 * (2 * i + h) }
        let layers = (0..<min(a.layers, (a.layers + pp - 1) / pp)).filter { $0 < m.sparse.count ? m.sparse[$0] : true }.count
        return m.experts * layers * (bytes(hp, ip) - bytes(h, i))
    }

    /// What vLLM V1 does on one rank of a replica split `tp` x `pp`, holding `weights` bytes.
    public static func estimate(
        _ a: ModelArchitecture, weights: Int, elementBytes e: Int, kvBytes: Int, tp: Int, pp: Int, gpu: GPUType, settings: VLLMSettings
    ) -> ServingEstimate {
        let s = resolved(settings, a, gpu: gpu)
        let (total, measured) = cudaTotal(gpu)
        let util = s.gpuMemoryUtilization!
        let mml = s.maxModelLen!
        let tokens = s.maxNumBatchedTokens!
        let seqs = s.maxNumSeqs!
        let block = s.blockSize!
        let usable = Int((Double(total) * util).rounded(.up))
        let nonTorch = nonTorch(tp: tp, pp: pp, gpu: gpu)
        // `profile_run`: one forward of the batched-token budget split over min(tokens, seqs)
        // requests, then the sampler on one row per request while the hidden states are held.
        let rows = min(tokens, seqs)
        let activation = max(forwardPeak(a, tokens: tokens, tp: tp, elementBytes: e), e * tokens * a.hiddenSize + samplerPeak(a, rows: rows, elementBytes: e, sampler: s.sampler!))
        // CUDA graphs (subtracted since v0.21): the largest captured batch's activations, kept in
        // the graph pool, and each graph's own memory. Capture sizes: 1, 2, 4, 8..248 by 8, 256..max
        // by 16 with max = min(2 x max_num_seqs, 512, max_num_batched_tokens).
        var graphs = 0
        if !s.enforceEager {
            let largest = min(2 * seqs, 512, tokens)
            let sizes = [1, 2, 4].filter { $0 <= largest }.count + (largest >= 8 ? min(largest, 248) / 8 : 0)
                + (largest >= 256 ? (largest - 256) / 16 + 1 : 0)
            graphs = forwardPeak(a, tokens: largest, tp: tp, elementBytes: e) + sizes * graphBytesPerSize
        }
        let kv = usable - weights - nonTorch - activation - graphs
        let layout = Layout(a, tp: tp, pp: pp, kvBytes: kvBytes)
        let perBlock = max(layout.bytesPerBlock(block), 1)
        let blocks = max(kv, 0) / perBlock
        let perRequest = layout.blocksPerRequest(mml, block: block, batchedTokens: tokens)
        let needed = perBlock * perRequest
        // The null block is held back before the check (`_check_enough_kv_cache_memory`).
        let room = kv - perBlock
        let fits = room > 0 && needed <= room
        var longest: Int? = nil
        var utilNeeded: Double? = nil
        if !fits {
            var lo = 0
            var hi = mml
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if perBlock * layout.blocksPerRequest(mid, block: block, batchedTokens: tokens) <= room { lo = mid } else { hi = mid - 1 }
            }
            longest = lo
            let u = Double(usable - kv + needed + perBlock) / Double(total)
            utilNeeded = u <= 1 ? (u * 1000).rounded(.up) / 1000 : nil
        }
        return ServingEstimate(
            engine: .vllm, totalBytes: total, totalMeasured: measured, usableBytes: usable, weightsBytes: weights, nonTorchBytes: nonTorch,
            activationPeakBytes: activation, cudaGraphBytes: graphs, kvCacheBytes: kv, kvBytesPerToken: layout.full * layout.perLayerToken,
            blockSize: block, blocks: blocks, kvCacheTokens: layout.groups > 0 ? blocks / layout.groups * block : 0,
            maxConcurrency: perRequest > 0 ? Double(blocks) / Double(perRequest) : 0, maxModelLen: mml, maxNumBatchedTokens: tokens,
            maxNumSeqs: seqs, gpuMemoryUtilization: util, sampler: s.sampler, fits: fits, longestContext: longest, utilizationNeeded: utilNeeded,
            kvBytesPerRequest: needed)
    }
}
