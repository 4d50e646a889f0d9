import Foundation
import PlanModel
import Testing
import TestSupport

@testable import MemoryEstimation

/// The article's question (shared/seed): Meta-Llama-3-8B-Instruct in BF16 — how much memory to
/// train and to serve, and how many GPUs?
@Suite struct SeedQuestionTests {
    static func gpu(_ id: String) throws -> GPUType {
        GPUType(id: id, name: id, memoryBytes: try SeedGPUs.memory(id), bf16: id != "t4-16gb" && !id.hasPrefix("v100"))
    }

    @Test func bf16WeightsAreSixteenGigabytes() throws {
        let e = Estimator.estimate(try SeedModels.arch("llama-3-8b"), Workload(mode: .infer, seq: 8192), .single)
        #expect(e.weights == 16_060_522_496)
        #expect(e.kvCache == 1 << 30)  // 2 x 32 layers x 8 KV heads x 128 x 2 bytes x 8192 tokens
    }

    @Test(arguments: ["rtx-4090-24gb", "rtx-3090-24gb", "l4-24gb", "a10-24gb"])
    func servingFitsOne24GBCardAtModestContext(gpu: String) throws {
        let g = try Self.gpu(gpu)
        let e = Estimator.estimate(try SeedModels.arch("llama-3-8b"), Workload(mode: .infer, batch: 1, seq: 4096), .single, gpu: g)
        #expect(Estimator.fits(e, gpu: g, headroom: 0.1))
    }

    @Test(arguments: ["t4-16gb", "v100-sxm2-16gb"])
    func servingNeedsQuantizationOnA16GBCard(gpu: String) throws {
        let g = try Self.gpu(gpu)
        let a = try SeedModels.arch("llama-3-8b")
        let bf16 = Estimator.estimate(a, Workload(mode: .infer, dtype: .bf16, seq: 4096), .single, gpu: g)
        #expect(!Estimator.fits(bf16, gpu: g, headroom: 0.1))
        #expect(bf16.warnings.contains { $0.contains("no BF16") })
        for dtype in [WeightDType.int8, .int4, .nf4] {
            let q = Estimator.estimate(a, Workload(mode: .infer, dtype: dtype, seq: 4096), .single, gpu: g)
            #expect(Estimator.fits(q, gpu: g, headroom: 0.1), "\(dtype) should fit \(gpu)")
        }
    }

    @Test func mixedPrecisionAdamWFullFineTuneDoesNotFitOne80GBGPU() throws {
        let a = try SeedModels.arch("llama-3-8b")
        let h100 = try Self.gpu("h100-sxm-80gb")
        let w = Workload(mode: .train, method: .full, dtype: .bf16, optimizer: .adamw, precision: .mixed, batch: 1, seq: 2048)
        let one = Estimator.estimate(a, w, .single, gpu: h100)
        // 16 bytes per parameter of model states alone: 128,484,179,968 bytes.
        #expect(one.weights + one.gradients + one.masterWeights + one.optimizerStates == 128_484_179_968)
        #expect(!Estimator.fits(one, gpu: h100, headroom: 0))
        // ZeRO-3 over 2 GPUs fits with checkpointing; over 4 without.
        var ckpt = w
        ckpt.checkpointing = true
        let two = Estimator.estimate(a, ckpt, ParallelSplit(strategy: .zero3, dp: 2), gpu: h100)
        #expect(Estimator.fits(two, gpu: h100, headroom: 0.1))
        for n in [4, 8, 16] {
            let e = Estimator.estimate(a, w, ParallelSplit(strategy: .zero3, dp: n), gpu: h100)
            #expect(Estimator.fits(e, gpu: h100, headroom: 0.1), "zero3 x \(n)")
        }
        // The recommender agrees: no single 80 GB GPU, and at least two H100s.
        let recs = Recommender.recommend(a, w, gpus: [h100], options: EstimateOptions())
        let rec = try #require(recs.first)
        #expect(rec.count >= 2)
    }

    @Test func recommendationsAreCheapestFirstAndFit() throws {
        let a = try SeedModels.arch("llama-3-8b")
        let gpus = try ["rtx-4090-24gb", "l40s-48gb", "a100-sxm-80gb", "h100-sxm-80gb", "h200-141gb"].map { id -> GPUType in
            var g = try Self.gpu(id)
            g.priceUSD = ["rtx-4090-24gb": 2000, "l40s-48gb": 8000, "a100-sxm-80gb": 12000, "h100-sxm-80gb": 27000, "h200-141gb": 32000][id]!
            return g
        }
        let w = Workload(mode: .train, method: .full, batch: 1, seq: 2048)
        let recs = Recommender.recommend(a, w, gpus: gpus, options: EstimateOptions())
        #expect(recs.count == gpus.count)
        #expect(recs.map(\.cost) == recs.map(\.cost).sorted())
        for r in recs {
            let g = gpus.first { $0.id == r.gpu }!
            let e = Estimator.estimate(a, w, r.split, gpu: g)
            #expect(Double(e.total) <= Double(g.memoryBytes) * 0.9)
            #expect(r.count == r.split.gpus)
            // No smaller count of the same GPU fits under any strategy and tp/pp layout.
            for n in 1..<r.count {
                for (tp, pp) in [(1, 1), (2, 1), (4, 1), (8, 1)] where n % (tp * pp) == 0 {
                    for s in [Strategy.ddp, .zero1, .zero2, .zero3] {
                        let e = Estimator.estimate(a, w, ParallelSplit(strategy: s, dp: n / (tp * pp), tp: tp, pp: pp), gpu: g)
                        #expect(!Estimator.fits(e, gpu: g, headroom: 0.1), "\(g.id) x \(n) \(s) tp \(tp) fits but was not recommended")
                    }
                }
            }
        }
    }
}
