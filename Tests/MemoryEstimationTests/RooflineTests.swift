import Foundation
import MemoryEstimation
import PlanModel
import Testing
import TestSupport

/// Serving speed and training time: no figure above the physical roofline, the FLOP counts as their
/// sources write them, and a published training run reproduced.
@Suite struct RooflineTests {
    /// A GPU with round numbers, so the expected values can be worked out by hand.
    static let gpu = GPUType(
        id: "test", name: "Test GPU", memoryBytes: 80 << 30, fp8: true, bandwidthBytesPerSecond: 2_000_000_000_000,
        interconnect: "nvlink", interconnectBytesPerSecond: 400_000_000_000, bf16TFLOPS: 1000, fp8TFLOPS: 2000)

    static func speed(
        _ model: String, batch: Int, context: Int, tp: Int = 1, pp: Int = 1, gpu: GPUType = gpu, eff: Efficiencies = Efficiencies()
    ) throws -> (ServingSpeed, MemoryEstimate) {
        let a = try SeedModels.arch(model)
        let e = Estimator.estimate(a, Workload(), ParallelSplit(tp: tp, pp: pp))
        let kv = KVCache.bytes(a, batch: 1, tokens: context, bytesPerElement: 2, tp: tp, pp: pp, windowed: true)
        let s = try #require(
            Roofline.serving(
                a, parameters: e.parameters, activeParameters: e.activeParameters, weights: e.weights, kvBytesAtContext: kv, tp: tp, pp: pp,
                gpu: gpu, weightFormat: "bf16", batch: batch, context: context, prompt: context, elementBytes: 2, efficiencies: eff))
        return (s, e)
    }

    @Test func decodeIsTheBytesReadOverTheBandwidthItReaches() throws {
        var eff = Efficiencies()
        eff.memoryBandwidth = 0.5
        let (s, e) = try Self.speed("llama-3-8b", batch: 1, context: 1024, eff: eff)
        // Llama-3-8B in bf16: 16,060,522,496 bytes of weights; KV: 32 layers x 8 heads x 128 x 2 x 2 bytes = 131,072 a token.
        #expect(e.weights == 16_060_522_496)
        let bytes = 16_060_522_496.0 + 1024 * 131_072
        #expect(abs(s.timePerOutputToken - bytes / (2e12 * 0.5)) < 1e-12)
        #expect(s.decodeBoundBy == "memory")
        // The roofline reads the same bytes at the full bandwidth.
        #expect(abs(s.rooflineTokensPerSecondPerSequence - 2e12 / bytes) < 1e-6)
    }

    @Test(arguments: ["llama-3-8b", "mixtral-8x7b-v0.1", "qwen3-30b-a3b", "gemma-2-9b", "deepseek-v2-lite"])
    func noFigureExceedsThePhysicalRoofline(_ model: String) throws {
        var full = Efficiencies()
        full.memoryBandwidth = 1
        full.prefillMFU = 1
        full.network = 1
        for batch in [1, 8, 64, 512] {
            for context in [128, 4096, 32768] {
                for tp in [1, 2] {
                    for eff in [Efficiencies(), full] {
                        let (s, e) = try Self.speed(model, batch: batch, context: context, tp: tp, eff: eff)
                        // Each sequence gets at most one token per pass over the bytes it must read.
                        let bytes = Double(s.weightBytesPerStep + s.kvBytesPerStep)
                        #expect(s.decodeTokensPerSecondPerSequence <= 2e12 / bytes * (1 + 1e-12))
                        #expect(s.decodeTokensPerSecondPerSequence <= s.rooflineTokensPerSecondPerSequence * (1 + 1e-12))
                        #expect(s.decodeTokensPerSecond == s.decodeTokensPerSecondPerSequence * Double(batch))
                        // Prefill: at most the tensor peak of the tp GPUs over 2 FLOPs per active parameter.
                        #expect(s.prefillTokensPerSecond <= 1e15 * Double(tp) / (2 * Double(e.activeParameters) - 2 * 4096 * 128_256))
                    }
                }
            }
        }
    }

    @Test func aBatchOfOneReadsOnlyTheExpertsItIsRoutedTo() throws {
        // Mixtral routes each token to 2 of 8 experts: one sequence reads about a quarter of the expert weights,
        // a large batch reads them all.
        let (one, e) = try Self.speed("mixtral-8x7b-v0.1", batch: 1, context: 16)
        let (many, _) = try Self.speed("mixtral-8x7b-v0.1", batch: 512, context: 16)
        #expect(Double(one.weightBytesPerStep) < 0.35 * Double(e.weights))
        #expect(Double(one.weightBytesPerStep) > Double(e.activeParameters) * 2 * 0.95)
        #expect(many.weightBytesPerStep <= e.weights && Double(many.weightBytesPerStep) > 0.99 * Double(e.weights))
    }

    @Test func trainingFLOPsAreSixNPlusTheAttentionTerms() throws {
        let a = try SeedModels.arch("llama-3-8b")
        let n = 8_030_261_248.0 - 128_256 * 4096  // the input embedding is a lookup, not a matmul
        let attention = 12.0 * 32 * 32 * 128 * 8192  // 12 x layers x heads x head_dim x seq (PaLM, Appendix B)
        let full = Roofline.trainingFLOPsPerToken(a, Workload(mode: .train, seq: 8192), activeParameters: 8_030_261_248, trainable: 8_030_261_248)
        #expect(full.model == 6 * n + attention && full.executed == full.model)
        let ckpt = Roofline.trainingFLOPsPerToken(
            a, Workload(mode: .train, seq: 8192, checkpointing: true), activeParameters: 8_030_261_248, trainable: 8_030_261_248)
        #expect(ckpt.model == full.model && ckpt.executed == full.model + 2 * n + attention / 3)
        let lora = Roofline.trainingFLOPsPerToken(
            a, Workload(mode: .train, method: .lora, seq: 8192), activeParameters: 8_030_261_248, trainable: 41_943_040)
        #expect(lora.model == 4 * n + 6 * 41_943_040 + attention)
    }

    /// torchtitan's published Llama 3 8B run (pytorch/torchtitan docs/performance.md at 0413364): 64 A100 80GB,
    /// FSDP over 64 GPUs, local batch 1 at sequence 8192, 2,973 tokens/s per GPU, 58.2% MFU. DGX A100 servers
    /// of 8 GPUs with one 200 Gb/s HDR port each (25 GB/s).
    @Test func reproducesTorchtitansLlama3On64A100s() throws {
        let a = try SeedModels.arch("llama-3-8b")
        let a100 = GPUType(
            id: "a100", name: "A100 SXM4 80GB", memoryBytes: 80 << 30, bandwidthBytesPerSecond: 2_039_000_000_000, interconnect: "nvlink3",
            interconnectBytesPerSecond: 600_000_000_000, bf16TFLOPS: 312)
        let w = Workload(mode: .train, batch: 1, seq: 8192)
        let params = 8_030_261_248
        // The FLOPs they count: 2,973 tokens/s at 58.2% of 312 TFLOPS is 61.1 GFLOPs a token, 6 x all 8.03 B parameters
        // + 12·l·h·q·t. Ours leave out the input embedding (a lookup, no matmul): 6 x 128,256 x 4,096 fewer.
        let flops = Roofline.trainingFLOPsPerToken(a, w, activeParameters: params, trainable: params)
        let theirs = flops.model + 6 * 128_256 * 4096
        #expect(abs(theirs / (0.582 * 312e12 / 2973) - 1) < 0.01)
        var eff = Efficiencies()
        eff.trainingMFU = 0.582
        let t = try #require(
            Roofline.training(
                a, w, split: ParallelSplit(strategy: .fsdp, dp: 64), parameters: params, activeParameters: params, trainable: params, gpu: a100,
                gpusPerServer: 8, fabricBytesPerSecond: 25_000_000_000, tokens: 1e9, efficiencies: eff))
        #expect(t.dataParallelLink == "fabric")
        #expect(abs(t.tokensPerSecondPerGPU / 2973 - 1) < 0.15, "\(t.tokensPerSecondPerGPU) tokens/s per GPU")
        // At the default 40% MFU the same run is slower, and the published rate implies 58%.
        let slower = try #require(
            Roofline.training(
                a, w, split: ParallelSplit(strategy: .fsdp, dp: 64), parameters: params, activeParameters: params, trainable: params, gpu: a100,
                gpusPerServer: 8, fabricBytesPerSecond: 25_000_000_000, tokens: 1e9, efficiencies: Efficiencies()))
        #expect(slower.tokensPerSecondPerGPU < t.tokensPerSecondPerGPU)
        #expect(abs(2973 * theirs / 312e12 - 0.582) < 0.006)
    }

    @Test func trafficThatCannotHideCostsTime() throws {
        // The same job over a slow fabric: FSDP's three passes of the weights no longer hide behind the step.
        let a = try SeedModels.arch("llama-3-8b")
        let w = Workload(mode: .train, batch: 8, seq: 2048)
        let p = 8_030_261_248
        func time(_ fabric: Int) throws -> TrainingTime {
            try #require(
                Roofline.training(
                    a, w, split: ParallelSplit(strategy: .fsdp, dp: 16), parameters: p, activeParameters: p, trainable: p, gpu: Self.gpu,
                    gpusPerServer: 8, fabricBytesPerSecond: fabric, tokens: 1e9, efficiencies: Efficiencies()))
        }
        let fast = try time(50_000_000_000)
        let slow = try time(1_250_000_000)  // 10 Gb/s
        #expect(fast.dataParallelSecondsPerStep == 0)
        // 3 passes x 15/16 x 16.06 GB over 1.25 GB/s x 0.7, less the step's compute.
        let traffic = 3 * 15.0 / 16 * 2 * Double(p) / (1.25e9 * 0.7) + 10e-6
        #expect(abs(slow.dataParallelSecondsPerStep - (traffic - slow.computeSecondsPerStep)) < 1e-9)
        #expect(slow.seconds > fast.seconds)
        // Without a fabric, work that spans servers has no time at all.
        #expect(
            Roofline.training(
                a, w, split: ParallelSplit(strategy: .fsdp, dp: 16), parameters: p, activeParameters: p, trainable: p, gpu: Self.gpu,
                gpusPerServer: 8, fabricBytesPerSecond: nil, tokens: 1e9, efficiencies: Efficiencies()) == nil)
    }
}
