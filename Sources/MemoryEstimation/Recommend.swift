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
}

public enum Recommender {
    /// GPU counts tried, ascending.
    static let counts = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
    /// (tp, pp) layouts tried; tensor parallelism stays within 8 GPUs (one server).
    static let layouts = [(1, 1), (2, 1), (4, 1), (8, 1), (8, 2), (8, 4), (8, 8), (8, 16)]

    /// For each GPU type the smallest count and simplest split that fits with `headroom`, cheapest
    /// first (reference price x count), then fewer GPUs, then id.
    ///
    /// `fixed` restricts the search to one strategy, tp or pp when the user chose them.
    public static func recommend(
        _ a: ModelArchitecture, _ w: Workload, gpus: [GPUType], options: EstimateOptions,
        strategy fixedStrategy: Strategy? = nil, tp fixedTP: Int? = nil, pp fixedPP: Int? = nil,
        offload: Offload = .none, maxTP: Int = 8
    ) -> [Recommendation] {
        let strategies: [Strategy] =
            w.mode == .infer ? [.ddp] : (fixedStrategy.map { [$0] } ?? [.ddp, .zero1, .zero2, .zero3])
        let layouts = Self.layouts.filter { l in
            a.heads % l.0 == 0 && l.1 <= a.layers && l.0 <= max(maxTP, 1) && (fixedTP == nil || fixedTP == l.0)
                && (fixedPP == nil || fixedPP == l.1)
        }
        var result: [Recommendation] = []
        for gpu in gpus {
            search: for n in counts {
                for (tp, pp) in layouts where n % (tp * pp) == 0 {
                    let dp = n / (tp * pp)
                    // Inference: extra GPUs beyond tp x pp are separate replicas, not one copy.
                    if w.mode == .infer && dp != 1 { continue }
                    for s in strategies {
                        if s != .ddp && dp == 1 && fixedStrategy == nil { continue }
                        if offload == .params && s.zeroStage < 3 { continue }
                        if offload == .optimizer && s == .ddp { continue }
                        let split = ParallelSplit(strategy: s, dp: dp, tp: tp, pp: pp, offload: offload)
                        let e = Estimator.estimate(a, w, split, gpu: gpu, options: options)
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
