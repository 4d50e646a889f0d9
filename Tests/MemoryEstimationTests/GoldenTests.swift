import Foundation
import PlanModel
import Testing

@testable import MemoryEstimation

/// Every case of shared/reference/public-golden-estimator.json (a copy in Fixtures/) as a test.
/// Cases in another tool's convention run with that convention set explicitly; the comment says which.
@Suite struct GoldenTests {
    @Test func everyGoldenCaseIsCovered() {
        let covered = Set(
            GoldenCase.category("param_count").map(\.id) + GoldenCase.category("weights_bytes").map(\.id)
                + GoldenCase.category("kv_cache_bytes").map(\.id) + GoldenCase.category("model_states_per_gpu").map(\.id)
                + GoldenCase.category("activations_per_layer").map(\.id) + GoldenCase.category("activations_total").map(\.id)
                + GoldenCase.category("measured_peak").map(\.id) + GoldenCase.category("framework_overhead").map(\.id)
                + GoldenCase.category("estimator_emulation").map(\.id) + GoldenCase.category("gpu_memory").map(\.id)
                + GoldenCase.category("cpu_memory").map(\.id))
        #expect(covered.count == GoldenCase.all.count, "a golden category is not handled: \(Set(GoldenCase.all.map(\.category)))")
        #expect(GoldenCase.all.count == 78)
    }

    @Test(arguments: GoldenCase.category("param_count").filter { $0.id.contains("active") || $0.id.contains("lora") })
    func activeAndLoRAParameters(_ c: GoldenCase) throws {
        let a = try SeedModels.arch(c.string("model")!)
        let value: Int
        if c.id.contains("active") {
            value = ParameterCount(a).active(expertsPerToken: a.expertsPerToken, experts: a.experts)
        } else {
            guard case .array(let t) = c.input("targets") else { fatalError() }
            let targets = t.compactMap { if case .string(let s) = $0 { s } else { nil } }
            value = LoRA.trainableParameters(a, rank: c.int("lora_rank")!, targets: targets)
        }
        #expect(c.accepts(Double(value)), "\(c.id): got \(value), expected \(c.value)")
    }

    @Test(arguments: GoldenCase.category("weights_bytes"))
    func weights(_ c: GoldenCase) throws {
        let a = try SeedModels.arch(c.string("model")!)
        let dtype = WeightDType(rawValue: c.string("precision")!)!
        let tp = c.int("tp") ?? 1
        // int4-packed: the accelerate convention (0.5 B for every parameter) is our default for int4.
        let bytes = WeightStorage.bytes(ParamShard(a, tp: tp, pp: 1), dtype: dtype)
        #expect(c.accepts(Double(bytes)), "\(c.id): got \(bytes), expected \(c.expectedBytes)")
        // The same number through the whole estimator (inference, one GPU or tp GPUs).
        let e = Estimator.estimate(a, Workload(mode: .infer, dtype: dtype, seq: 16), ParallelSplit(tp: tp))
        #expect(c.accepts(Double(e.weights)))
    }

    @Test(arguments: GoldenCase.category("kv_cache_bytes"))
    func kvCache(_ c: GoldenCase) throws {
        let a = try SeedModels.arch(c.string("model")!)
        let kv = KVDType(rawValue: c.string("kv_dtype")!)!
        let tp = c.int("tp") ?? 1
        let w = Workload(mode: .infer, dtype: .bf16, kvDType: kv, batch: c.int("batch")!, seq: c.int("tokens_per_seq")!)
        let e = Estimator.estimate(a, w, ParallelSplit(tp: tp))
        // The Gemma-2 case counts every layer at full length: that is our default (transformers'
        // cache holds the full prefill); --kv-window would store less.
        #expect(c.accepts(Double(e.kvCache)), "\(c.id): got \(e.kvCache), expected \(c.expectedBytes)")
    }

    /// ZeRO paper K=12 mixed-precision Adam: weights 2, gradients 2, master 4, optimizer 8.
    static let zeroPaper = StateLayout(weight: 2, gradient: 2, master: 4, optimizer: 8)

    @Test(arguments: GoldenCase.category("model_states_per_gpu"))
    func modelStates(_ c: GoldenCase) throws {
        let value: Double
        if c.id.hasPrefix("zero-table1") {
            let p = c.int("params")!
            value = Double(ModelStates.perGPU(trainable: p, layout: Self.zeroPaper, stage: c.int("zero_stage")!, dp: c.int("dp")!).total)
        } else if c.id.hasPrefix("states-llama3") || c.id.hasPrefix("megatron") {
            let a = try SeedModels.arch(c.string("model")!)
            let p = ParameterCount(a).total
            // hf_18_bytes and Megatron: gradients accumulated in fp32 (our --fp32-grads).
            let fp32Grads = c.string("convention") == "hf_18_bytes" || c.id.hasPrefix("megatron")
            let layout = ModelStates.layout(optimizer: .adamw, precision: .mixed, dtype: .bf16, gradientFP32: fp32Grads)
            // Megatron's distributed optimizer shards the optimizer states (and master weights): ZeRO-1.
            let stage = c.bool("use_distributed_optimizer") == true ? 1 : (c.int("zero_stage") ?? 0)
            value = Double(ModelStates.perGPU(trainable: p, layout: layout, stage: stage, dp: c.int("dp") ?? 1).total)
        } else if c.id.hasPrefix("ds-") {
            value = Double(try Self.deepSpeed(c))
        } else {
            Issue.record("unhandled case \(c.id)")
            return
        }
        #expect(c.accepts(value), "\(c.id): got \(value), expected \(c.expectedBytes)")
    }

    /// DeepSpeed's estimators account differently from the ZeRO paper (stage_1_and_2.py, stage3.py,
    /// docs/code-docs/source/memory.rst): 16-bit parameters plus 18 bytes per parameter of fp32
    /// master, fp32 gradients and Adam states, and 4 x largest layer for the gathered 16-bit
    /// parameters and gradients of ZeRO-3. Each case sets that layout explicitly.
    static func deepSpeed(_ c: GoldenCase) throws -> Int {
        let p = c.int("params")!
        let n = c.int("gpus") ?? (c.int("gpus_per_node")! * (c.int("nodes") ?? 1))
        let stage = c.int("zero_stage")!
        let gather = 4 * (c.int("largest_layer_params") ?? 0)
        if stage == 2 {
            if c.bool("cpu_offload") == true {
                return ModelStates.perGPU(trainable: p, layout: zeroPaper, stage: 2, dp: n, offload: .optimizer).total
            }
            // The docs' older formula 4P + 16P/N: 16-bit weights and gradients whole, fp32 grads,
            // master and Adam states sharded.
            let whole = ModelStates.perGPU(trainable: p, layout: StateLayout(weight: 2, gradient: 2, master: 0, optimizer: 0), stage: 0, dp: n)
            let sharded = ModelStates.perGPU(trainable: p, layout: StateLayout(weight: 0, gradient: 4, master: 4, optimizer: 8), stage: 2, dp: n)
            return whole.total + sharded.total
        }
        let layout = StateLayout(weight: 2, gradient: 4, master: 4, optimizer: 8)
        let offload: Offload = c.bool("offload_param") == true ? .params : (c.bool("offload_optimizer") == true ? .optimizer : .none)
        return ModelStates.perGPU(trainable: p, layout: layout, stage: 3, dp: n, offload: offload).total + gather
    }

    @Test(arguments: GoldenCase.category("cpu_memory"))
    func hostMemory(_ c: GoldenCase) throws {
        // DeepSpeed estimate_zero3 with zero.Init: P x 18 x 1.5 per node when offloading parameters
        // and optimizer. Our host bytes per GPU shard x GPUs per node x DeepSpeed's buffer factor 1.5.
        let p = c.int("params")!
        let gpus = c.int("gpus_per_node")!
        let layout = StateLayout(weight: 2, gradient: 4, master: 4, optimizer: 8)
        let perGPU = ModelStates.perGPU(trainable: p, layout: layout, stage: 3, dp: gpus, offload: .params).hostOffload
        let node = Double(perGPU * gpus) * 1.5
        #expect(c.accepts(node), "\(c.id): got \(node / 1_073_741_824) GiB")
    }

    @Test(arguments: GoldenCase.category("activations_per_layer"))
    func activationFormulas(_ c: GoldenCase) throws {
        let value: Int
        if c.id.hasPrefix("act-korthikanti") {
            let variant = ReferenceFormulas.KorthikantiVariant(rawValue: c.string("variant")!)!
            value = ReferenceFormulas.korthikanti(
                variant, seq: c.int("seq")!, batch: c.int("micro_batch")!, hidden: c.int("hidden")!, heads: c.int("heads")!, tp: c.int("tp")!)
        } else {
            let a = try SeedModels.arch(c.string("model")!)
            value = ReferenceFormulas.megatronSelectivePerLayer(
                seq: c.int("seq")!, batch: c.int("micro_batch")!, hidden: a.hiddenSize, ffn: a.intermediateSize, tp: c.int("tp")!)
        }
        #expect(c.accepts(Double(value)), "\(c.id): got \(value)")
    }

    @Test(arguments: GoldenCase.category("activations_total"))
    func zeroPaperActivationRule(_ c: GoldenCase) {
        let v = ReferenceFormulas.zeroPaperActivations(hidden: c.int("hidden")!, layers: c.int("layers")!, batch: c.int("batch")!, seq: c.int("seq")!)
        #expect(c.accepts(Double(v)))
    }

    /// The estimator's checkpointing is Korthikanti et al.'s full recompute: each layer keeps its
    /// 16-bit input, 2sbh, whatever the tensor-parallel degree (the input is replicated).
    @Test(arguments: GoldenCase.category("activations_per_layer").filter { $0.string("variant") == "full-recompute" })
    func theEstimatorsCheckpointingIsFullRecompute(_ c: GoldenCase) throws {
        let h = c.int("hidden")!, heads = c.int("heads")!, s = c.int("seq")!, b = c.int("micro_batch")!, tp = c.int("tp")!
        // GPT-3 175B's widths (Brown et al. 2020, Table 2.1) as a decoder the estimator reads.
        let a = try ModelArchitecture(
            config: .object([
                "model_type": .string("llama"), "hidden_size": .int(h), "num_attention_heads": .int(heads), "num_hidden_layers": .int(96),
                "intermediate_size": .int(4 * h), "vocab_size": .int(50257), "max_position_embeddings": .int(s),
            ]), origin: c.id)
        let x = Activations.Shape(batch: b, seq: s, elementBytes: 2, attention: .sdpa, checkpointing: true, tp: tp)
        let layers = Activations.training(a, x).layers
        let reference = ReferenceFormulas.korthikanti(.fullRecompute, seq: s, batch: b, hidden: h, heads: heads, tp: tp)
        #expect(layers == a.layers * reference)
        #expect(c.accepts(Double(layers / a.layers)), "\(c.id): got \(layers / a.layers) per layer")
    }

    /// docs/estimator.md: the calibrated activations of a Hugging Face model are larger than the
    /// ZeRO paper's 12hbsL rule (they keep the attention scores, norms and the loss), never smaller.
    @Test(arguments: GoldenCase.category("activations_total"))
    func theEstimatorKeepsAtLeastTheZeroPaperRule(_ c: GoldenCase) throws {
        let a = try SeedModels.arch("gpt2-xl")
        #expect(a.hiddenSize == c.int("hidden")! && a.layers == c.int("layers")!, "gpt2-xl is the paper's GPT-2 1.5B")
        let x = Activations.Shape(
            batch: c.int("batch")!, seq: c.int("seq")!, elementBytes: c.int("bytes_per_elem")!, attention: .eager, checkpointing: false)
        let estimated = Activations.training(a, x).total
        let rule = ReferenceFormulas.zeroPaperActivations(hidden: a.hiddenSize, layers: a.layers, batch: x.batch, seq: x.seq)
        #expect(estimated >= rule, "\(c.id): estimated \(estimated), the rule \(rule)")
    }

    @Test(arguments: GoldenCase.category("framework_overhead"))
    func cudaContextConstant(_ c: GoldenCase) {
        #expect(c.accepts(Double(EstimateOptions().cudaContextBytes)))
    }

    @Test(arguments: GoldenCase.category("gpu_memory"))
    func catalogMemory(_ c: GoldenCase) throws {
        let ids = [
            "H100 80GB HBM3 (SXM)": "h100-sxm-80gb", "H200 141GB": "h200-141gb", "A100-SXM4-80GB": "a100-sxm-80gb",
            "A100-SXM4-40GB": "a100-sxm-40gb", "RTX 4090": "rtx-4090-24gb", "L4": "l4-24gb", "L40S": "l40s-48gb",
            "T4 (ECC on)": "t4-16gb", "V100-SXM2-16GB": "v100-sxm2-16gb",
        ]
        let id = try #require(ids[c.string("gpu")!], "no catalog id for \(c.string("gpu")!)")
        #expect(c.accepts(Double(try SeedGPUs.memory(id))), "\(id)")
    }

    @Test(arguments: GoldenCase.category("estimator_emulation"))
    func accelerateEmulation(_ c: GoldenCase) throws {
        let elements: Int
        if c.id.contains("mistral") {
            // AutoModel = MistralModel, no lm_head; plus 32 layers of rotary cos/sin buffers (2 x 32768 x 128) and inv_freq (64).
            let a = try SeedModels.arch("mistral-7b-v0.1")
            let p = ParameterCount(a)
            elements = p.total - p.lmHead + 32 * (2 * 32768 * 128 + 64)
        } else {
            // bert-base-cased (not a decoder; counted by hand from its config): embeddings
            // 28996x768 + 512x768 + 2x768 + LayerNorm 2x768; 12 layers x (4 x (768x768+768) + 2 LayerNorms
            // + 768x3072+3072 + 3072x768+768); pooler 768x768+768; buffers position_ids and token_type_ids (512 each).
            let layer = 4 * (768 * 768 + 768) + 2 * 1536 + (768 * 3072 + 3072) + (3072 * 768 + 768)
            elements = 28996 * 768 + 512 * 768 + 2 * 768 + 1536 + 12 * layer + (768 * 768 + 768) + 1024
        }
        #expect(c.accepts(Double(ReferenceFormulas.accelerateTotalSize(parametersAndBuffers: elements))), "\(c.id)")
    }
}

/// GPU memory from Seeds/gpus.json.
enum SeedGPUs {
    static func memory(_ id: String) throws -> Int {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/gpus.json"))
        guard case .array(let items) = try JSONValue.parse(data) else { return 0 }
        for g in items where g["id"] == .string(id) {
            if case .int(let m) = g["memory_bytes"] { return m }
        }
        return 0
    }
}

import TestSupport

/// The published measurements, each run with the settings its source used (stated per case).
/// The sources report PyTorch's peak *allocated* memory, which excludes the CUDA context, so the
/// comparison subtracts our CUDA-context constant.
@Suite struct MeasuredPeakTests {
    static func allocated(_ model: String, _ w: Workload, _ split: ParallelSplit = .single) throws -> Double {
        let a = try SeedModels.arch(model)
        let e = Estimator.estimate(a, w, split)
        return Double(e.total - EstimateOptions().cudaContextBytes)
    }

    // torchtune recipes (configs/llama3_1/8B_*_single_device.yaml): bf16 everywhere (pure), AdamW,
    // activation checkpointing, chunked cross-entropy under torch.compile (our --fused-loss),
    // batch 2 x 2048 packed tokens; LoRA/QLoRA rank 8 on q, k, v, output_proj and the MLP.
    @Test func torchtuneQLoRA() throws {
        let c = try #require(GoldenCase.all.first { $0.id == "measured-torchtune-llama31-8b-qlora-4090" })
        let w = Workload(
            mode: .train, method: .qlora, dtype: .nf4, precision: .pure, batch: 2, seq: 2048, checkpointing: true, loraRank: 8,
            fusedLoss: true)
        let v = try Self.allocated("llama-3.1-8b", w)
        #expect(c.accepts(v), "got \(v / 1_073_741_824) GiB")
    }

    @Test func torchtuneLoRA() throws {
        let c = try #require(GoldenCase.all.first { $0.id == "measured-torchtune-llama31-8b-lora-4090" })
        let w = Workload(
            mode: .train, method: .lora, dtype: .bf16, precision: .pure, batch: 2, seq: 2048, checkpointing: true, loraRank: 8,
            fusedLoss: true)
        let v = try Self.allocated("llama-3.1-8b", w)
        #expect(c.accepts(v), "got \(v / 1_073_741_824) GiB")
    }

    // 8B_full_single_device.yaml: PagedAdamW8bit (8-bit states that page to host memory: our
    // --offload optimizer) and optimizer_in_bwd: True (one gradient at a time).
    @Test func torchtuneFullFineTuneOn24GB() throws {
        let c = try #require(GoldenCase.all.first { $0.id == "measured-torchtune-llama31-8b-full-4090" })
        let w = Workload(
            mode: .train, method: .full, dtype: .bf16, optimizer: .adamw8bit, precision: .pure, batch: 2, seq: 2048,
            checkpointing: true, fusedLoss: true, optimizerInBackward: true)
        let v = try Self.allocated("llama-3.1-8b", w, ParallelSplit(offload: .optimizer))
        #expect(c.accepts(v), "got \(v / 1_073_741_824) GiB")
    }

    // The optimization ladder's "+ activation checkpointing" step: pure bf16 AdamW, batch 2 x 4096,
    // compile and chunked cross-entropy already on.
    @Test func torchtuneLlama32_3B() throws {
        let c = try #require(GoldenCase.all.first { $0.id == "measured-torchtune-llama32-3b-full-a100-ac" })
        let w = Workload(mode: .train, method: .full, dtype: .bf16, precision: .pure, batch: 2, seq: 4096, checkpointing: true, fusedLoss: true)
        let v = try Self.allocated("llama-3.2-3b", w)
        #expect(c.accepts(v), "got \(v / 1_073_741_824) GiB")
    }

    // PEFT's T0_3B is an encoder-decoder (not a decoder we can build); its full fine-tune is
    // dominated by model states: 2.85e9 parameters, fp32 weights with AdamW (16 bytes/parameter).
    @Test func peftT0FullFineTune() throws {
        let c = try #require(GoldenCase.all.first { $0.id == "measured-peft-t0-3b-full-a100" })
        let layout = ModelStates.layout(optimizer: .adamw, precision: .mixed, dtype: .fp32, gradientFP32: false)
        let v = Double(ModelStates.perGPU(trainable: c.int("params")!, layout: layout, stage: 0, dp: 1).total)
        #expect(c.accepts(v), "got \(v / 1e9) GB")
    }

    @Test func everyMeasuredPeakCaseHasATest() {
        #expect(GoldenCase.category("measured_peak").count == 5)
    }
}
