import PlanModel

/// A GPU type, count and split that fits a workload.
public struct Recommendation: Sendable, Equatable {
    public var gpu: String
    public var count: Int
    public var split: ParallelSplit
    public var perGPUTotal: Int
    /// Bytes left free on each GPU.
    public var headroom: Int
    /// GPU reference price x count.
    public var cost: Int

    public init(gpu: String, count: Int, split: ParallelSplit, perGPUTotal: Int, headroom: Int, cost: Int) {
        self.gpu = gpu
        self.count = count
        self.split = split
        self.perGPUTotal = perGPUTotal
        self.headroom = headroom
        self.cost = cost
    }
}

public enum Recommender {
    /// GPU counts tried, ascending.
    public static let counts = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]

    /// (tp, pp) layouts to try: tensor parallelism over the head-count divisors up to `maxTP` (one
    /// server), pipeline stages (2, 4, ..., 64) on top of the largest such tp; a fixed `--tp`/`--pp` is
    /// used exactly as given.
    public static func layouts(_ a: ModelArchitecture, maxTP: Int, tp fixedTP: Int?, pp fixedPP: Int?) -> [(Int, Int)] {
        let tps = fixedTP.map { [$0] } ?? (1...max(1, min(maxTP, a.heads))).filter { a.heads % $0 == 0 }
        let pps = fixedPP.map { [$0] } ?? [1, 2, 4, 8, 16, 32, 64].filter { $0 <= a.layers }
        var result: [(Int, Int)] = []
        for pp in pps {
            for tp in tps where pp == 1 || fixedPP != nil || fixedTP != nil || tp == tps.last! {
                result.append((tp, pp))
            }
        }
        return result
    }

    /// For each GPU type the smallest count and simplest split that fits with `headroom`, cheapest
    /// first (reference price x count), then fewer GPUs, then id.
    ///
    /// A fixed strategy, tp, pp or GPU count restricts the search to it.
    public static func recommend(
        _ a: ModelArchitecture, _ w: Workload, gpus: [GPUType], options: EstimateOptions,
        strategy fixedStrategy: Strategy? = nil, tp fixedTP: Int? = nil, pp fixedPP: Int? = nil,
        offload: Offload = .none, maxTP: Int = 8, count fixedCount: Int? = nil
    ) -> [Recommendation] {
        let strategies: [Strategy] =
            w.mode == .infer ? [.ddp] : (fixedStrategy.map { [$0] } ?? [.ddp, .zero1, .zero2, .zero3])
        let layouts = Self.layouts(a, maxTP: maxTP, tp: fixedTP, pp: fixedPP)
        let counts = fixedCount.map { [$0] } ?? Self.counts
        var result: [Recommendation] = []
        // One architecture, thousands of candidate splits: list its layers once.
        let inventory = a.usesInventory ? LayerInventory.layers(a) : nil
        // The bytes of a split do not depend on the GPU type (only warnings do, and the serving
        // reservation under --gpu-memory-utilization): estimate each split once for all GPU types.
        var memo: [ParallelSplit: MemoryEstimate] = [:]
        let shared = w.gpuMemoryUtilization == nil
        func estimate(_ split: ParallelSplit, _ gpu: GPUType) -> MemoryEstimate {
            guard shared else { return Estimator.estimate(a, w, split, gpu: gpu, options: options, inventory: inventory) }
            if let e = memo[split] { return e }
            let e = Estimator.estimate(a, w, split, options: options, inventory: inventory)
            memo[split] = e
            return e
        }
        for gpu in gpus {
            search: for n in counts {
                for (tp, pp) in layouts where n % (tp * pp) == 0 {
                    let dp = n / (tp * pp)
                    // Inference: extra GPUs beyond tp x pp are separate replicas, not one copy.
                    if w.mode == .infer && dp != 1 { continue }
                    for s in strategies {
                        // With one data-parallel rank there is nothing to shard: DDP is the same memory.
                        if s != .ddp && dp == 1 && fixedStrategy == nil { continue }
                        if offload == .params && s.zeroStage < 3 && !(dp == 1 && s == .ddp && fixedStrategy == nil) { continue }
                        if offload == .optimizer && s == .ddp && dp > 1 { continue }
                        var split = ParallelSplit(strategy: s, dp: dp, tp: tp, pp: pp, offload: offload)
                        if offload == .params && s.zeroStage < 3 { split.strategy = .zero3 }
                        let e = estimate(split, gpu)
                        if Estimator.fits(e, gpu: gpu, headroom: options.headroom) {
                            result.append(
                                Recommendation(
                                    gpu: gpu.id, count: n, split: split, perGPUTotal: e.total,
                                    headroom: gpu.memoryBytes - e.total, cost: gpu.priceUSD * n))
                            break search
                        }
                    }
                }
            }
        }
        return result.sorted {
            ($0.cost, $0.count, $0.gpu) < ($1.cost, $1.count, $1.gpu)
        }
    }
}
