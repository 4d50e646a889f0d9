import Foundation
import PlanModel
import Testing

@testable import MemoryEstimation

/// Parallel splits, optimizers and serving options, each against a hand calculation.
@Suite struct SplitAndOptionTests {
    let llama = try! SeedModels.arch("llama-3-8b")
    let psi = 8_030_261_248

    @Test func optimizerStateBytesPerParameter() {
        func states(_ o: Optimizer, _ p: Precision = .mixed) -> Int {
            let e = Estimator.estimate(llama, Workload(mode: .train, optimizer: o, precision: p, batch: 1, seq: 16), .single)
            return e.weights + e.gradients + e.masterWeights + e.optimizerStates
        }
        // HF model_memory_anatomy.md: AdamW 8 B/param of states (+ 2 weights + 2 grads + 4 master).
        #expect(states(.adamw) == 16 * psi)
        // SGD with momentum: 4 B/param of momentum.
        #expect(states(.sgd) == 12 * psi)
        // bitsandbytes 8-bit AdamW: 2 B/param + one fp32 absmax per 2048 elements per state.
        let eightBit = states(.adamw8bit)
        #expect(abs(Double(eightBit) - Double(psi) * (8 + 2 + 8.0 / 2048)) < 16)
        // Pure bf16 AdamW: 2 + 2 + 4 = 8 B/param (torchtune).
        #expect(states(.adamw, .pure) == 8 * psi)
        // Adafactor keeps far less than Adam's 8 B/param: row + column statistics per matrix.
        let adafactor = states(.adafactor)
        #expect(adafactor > 8 * psi && adafactor < 9 * psi)
    }

    @Test func zeroStagesShardWhatThePaperSays() {
        let w = Workload(mode: .train, batch: 1, seq: 16)
        func total(_ s: Strategy, _ n: Int) -> Int {
            let e = Estimator.estimate(llama, w, ParallelSplit(strategy: s, dp: n))
            return e.weights + e.gradients + e.masterWeights + e.optimizerStates
        }
        // ZeRO paper Table 1 formulas at N = 8 (16 B/param, K = 12).
        #expect(total(.ddp, 8) == 16 * psi)
        #expect(total(.zero1, 8) == 4 * psi + 12 * psi / 8)
        #expect(total(.zero2, 8) == 2 * psi + 14 * psi / 8)
        #expect(total(.zero3, 8) == 16 * psi / 8)
        #expect(total(.fsdp, 8) == total(.zero3, 8))
    }

    @Test func offloadMovesStatesToTheHost() {
        let w = Workload(mode: .train, batch: 1, seq: 16)
        let e = Estimator.estimate(llama, w, ParallelSplit(strategy: .zero2, dp: 4, offload: .optimizer))
        #expect(e.optimizerStates == 0 && e.masterWeights == 0 && e.gradients == 0)
        #expect(e.weights == 2 * psi)
        // master 4 + Adam 8 + fp32 gradients 4, sharded over 4 GPUs.
        #expect(e.hostBytes == 16 * psi / 4)
        let p = Estimator.estimate(llama, w, ParallelSplit(strategy: .zero3, dp: 4, offload: .params))
        #expect(p.weights == 0)
        #expect(p.hostBytes == 18 * psi / 4)
    }

    @Test func tensorParallelShardsWeightsKVAndActivationInternals() {
        let one = Estimator.estimate(llama, Workload(mode: .train, batch: 1, seq: 1024), .single)
        let tp2 = Estimator.estimate(llama, Workload(mode: .train, batch: 1, seq: 1024), ParallelSplit(tp: 2))
        // Norms are replicated, everything else halves.
        let norms = 32 * 2 * 4096 + 4096
        #expect(tp2.weights == ((psi - norms) / 2 + norms) * 2)
        // Activations: the replicated parts (norms, layer inputs) stay; attention, MLP and logits halve.
        #expect(tp2.activations < one.activations && tp2.activations > one.activations / 2)
        // KV heads: 8 heads over tp 16 are replicated (1 per GPU), not 0.5.
        let kv16 = KVCache.bytes(llama, batch: 1, tokens: 8192, bytesPerElement: 2, tp: 16, windowed: false)
        let kv8 = KVCache.bytes(llama, batch: 1, tokens: 8192, bytesPerElement: 2, tp: 8, windowed: false)
        #expect(kv16 == kv8)
        #expect(kv8 == (1 << 30) / 8)
    }

    @Test func pipelineStagesHoldTheirLayersAndMicroBatchesInFlight() {
        var w = Workload(mode: .train, batch: 1, seq: 1024)
        let one = Estimator.estimate(llama, w, .single)
        let p = ParameterCount(llama)
        // One micro-batch: the last stage (8 layers, final norm, output layer and the logits) is heavier.
        let pp4 = Estimator.estimate(llama, w, ParallelSplit(pp: 4))
        #expect(pp4.weights == (8 * p.perLayer + p.lmHead + p.finalNorm) * 2)
        #expect(pp4.activationParts.outputAndLoss > 0)
        w.microBatches = 8
        let inFlight = Estimator.estimate(llama, w, ParallelSplit(pp: 4))
        // 1F1B: the first stage keeps min(pp, micro-batches) = 4 micro-batches of its 8 layers,
        // i.e. all 32 layers' worth, and that is now the heavier stage.
        #expect(inFlight.weights == (8 * p.perLayer + p.embedding) * 2)
        #expect(inFlight.activationParts.layers == one.activationParts.layers)
    }

    @Test func servingReservationFillsWithKVCache() {
        let h100 = GPUType(id: "h100", name: "H100", memoryBytes: 81_559 * 1_048_576, fp8: true)
        var w = Workload(mode: .infer, batch: 1, seq: 4096)
        w.gpuMemoryUtilization = 0.9
        let e = Estimator.estimate(llama, w, .single, gpu: h100)
        let reserved = Int(Double(h100.memoryBytes) * 0.9)
        #expect(e.reservedBytes == reserved)
        #expect(e.total == reserved)
        #expect(Estimator.fits(e, gpu: h100, headroom: 0.1))
        // What is left after weights, activations and overhead, at 128 KiB per token.
        let left = reserved - (e.weights + e.activations + e.overhead)
        #expect(e.kvCapacityTokens == left / 131_072)
    }

    @Test func slidingWindowOptionStoresOnlyTheWindow() {
        let mistral = try! SeedModels.arch("mistral-7b-v0.1")
        let full = KVCache.bytes(mistral, batch: 1, tokens: 16_384, bytesPerElement: 2, windowed: false)
        let windowed = KVCache.bytes(mistral, batch: 1, tokens: 16_384, bytesPerElement: 2, windowed: true)
        #expect(full == 2 * 32 * 8 * 128 * 2 * 16_384)
        #expect(windowed == 2 * 32 * 8 * 128 * 2 * 4096)
        let gemma = try! SeedModels.arch("gemma-2-9b")
        // Alternate layers slide: 21 layers at 4096 tokens, 21 at the full 8192.
        #expect(KVCache.bytes(gemma, batch: 1, tokens: 8192, bytesPerElement: 2, windowed: true) == 2 * 8 * 256 * 2 * (21 * 4096 + 21 * 8192))
    }
}
