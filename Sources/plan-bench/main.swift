// In-process timings for bin/bench: the estimator and the recommendation search over the whole
// GPU catalog, without process start-up. Prints one line per measurement: name, median ms, runs.
import Foundation
import Inventory
import MemoryEstimation
import Placement
import PlanCore
import PlanModel

func median(_ runs: Int, _ body: () -> Void) -> Double {
    var times: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        let d = clock.measure(body)
        times.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3)
    }
    times.sort()
    return times[times.count / 2]
}

let resources = try Resources.locate()
let catalog = try CatalogSnapshot.seeds(resources)
func arch(_ id: String) throws -> ModelArchitecture {
    try ModelArchitecture(config: catalog.model(named: id)!.config, origin: id)
}

let cases: [(String, String, Workload)] = [
    ("recommend llama-3-8b infer", "llama-3-8b", Workload(mode: .infer, seq: 8192)),
    ("recommend llama-3-8b train full", "llama-3-8b", Workload(mode: .train, batch: 1, seq: 2048)),
    ("recommend llama-3-70b train full", "llama-3-70b", Workload(mode: .train, batch: 1, seq: 4096, checkpointing: true)),
    ("recommend llama-3.1-405b train full", "llama-3.1-405b", Workload(mode: .train, batch: 1, seq: 4096, checkpointing: true)),
    ("recommend mixtral-8x7b train qlora", "mixtral-8x7b-v0.1", Workload(mode: .train, method: .qlora, dtype: .nf4, batch: 2, seq: 4096)),
]
print("catalog: \(catalog.gpus.count) GPU types")
for (name, model, w) in cases {
    let a = try arch(model)
    var found = 0
    let ms = median(21) {
        found = Recommender.recommend(a, w, gpus: catalog.gpus, options: EstimateOptions()).count
    }
    print(String(format: "%@: %.3f ms (median of 21; %d GPU types fit)", name, ms, found))
}
let a = try arch("llama-3-70b")
let ms = median(1001) {
    _ = Estimator.estimate(a, Workload(mode: .train, batch: 1, seq: 4096), ParallelSplit(strategy: .zero3, dp: 16, tp: 8))
}
print(String(format: "single estimate llama-3-70b zero3 x16 tp8: %.4f ms (median of 1001)", ms))

// Speed and cost (issue 13): the whole estimate use case with the work stated, over all GPU types.
func speedCase(_ name: String, _ model: String, _ w: Workload, gpu: String?, _ edit: (inout SpeedRequest) -> Void) throws {
    var speed = SpeedRequest()
    edit(&speed)
    var r = EstimateRequest(
        model: try ModelResolver.resolve(model, catalog: catalog), workload: w, split: ParallelSplit(), gpu: gpu.flatMap { catalog.gpu(named: $0) },
        options: EstimateOptions(), dtypeGiven: false, includeMTP: false, strategy: nil, tp: nil, pp: nil, maxRecommendations: 10)
    r.speed = speed
    r.skus = catalog.skus
    var found = 0
    let ms = median(21) { found = (try? Estimating.run(r, gpus: catalog.gpus).recommendations.count) ?? -1 }
    print(String(format: "%@: %.3f ms (median of 21; %d recommendations)", name, ms, found))
}
try speedCase("estimate+recommend llama-3-8b train, 2B tokens, deadline 24h", "llama-3-8b", Workload(mode: .train, batch: 1, seq: 2048), gpu: nil) {
    $0.trainTokens = 2e9
    $0.deadline = 86400
}
try speedCase("estimate+recommend llama-3-8b vLLM on h100, speed", "llama-3-8b", Workload(), gpu: "h100-sxm-80gb") { $0.engine = .vllm }
try speedCase("estimate+recommend llama-3-8b 200 users x 4096 at 20 tok/s (vLLM)", "llama-3-8b", Workload(), gpu: nil) {
    $0.engine = .vllm
    $0.target = ServingTarget(users: 200, context: 4096, tokensPerSecond: 20)
}

// Purchase (issue 12): medium instances and a 1,000-unit one, solved by CBC behind PurchasePlanner.
struct LCG {
    var state: UInt64
    mutating func next(_ n: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(n))
    }
}
func purchaseInstance(seed: UInt64, units count: Int) -> ([ServerState], [SKUOption], [JobUnit]) {
    var r = LCG(state: seed)
    let types = [("a", 80 << 30), ("b", 48 << 30)]
    let skus = (0..<6).map { k -> SKUOption in
        let (t, mem) = types[k % 2]
        let g = [4, 8][r.next(2)]
        return SKUOption(id: "k\(k)", gpuType: t, gpusPerServer: g, gpuMemory: mem, hostMemory: 1 << 40, price: g * (5 + r.next(36)) * 1000)
    }
    let existing = (0..<3).map { i -> ServerState in
        let (t, mem) = types[i % 2]
        return ServerState(name: "old\(i)", gpuType: t, gpuCount: 4, free: Array(0..<r.next(5)), hostFree: 1 << 40, gpuMemory: mem)
    }
    let kinds = (0..<25).map { _ -> [UnitShape] in
        types.compactMap { (t, mem) -> UnitShape? in
            guard r.next(3) > 0 else { return nil }
            let tp = [1, 1, 2][r.next(3)]
            let dp = [1, 2][r.next(2)]
            return UnitShape(gpuType: t, gpus: tp * dp, tp: tp, dp: dp, sameServer: r.next(4) == 0, perGPUBytes: (1 + r.next(mem >> 30)) << 30)
        }.sorted { $0.gpus < $1.gpus }
    }.filter { !$0.isEmpty }
    let units = (0..<count).map { JobUnit(job: "u\($0)", shapes: kinds[r.next(kinds.count)]) }
    return (existing, skus, units)
}
for (label, n, runs) in [("purchase, 30 units", 30, 15), ("purchase, 1000 units", 1000, 3)] {
    var worst = 0.0
    var proved = 0
    var gap = 0.0
    for seed in 0..<runs {
        let (existing, skus, units) = purchaseInstance(seed: UInt64(seed + 1), units: n)
        var plan: PurchasePlan!
        let ms = median(1) { plan = PurchasePlanner.plan(units: units, existing: existing, skus: skus) }
        worst = max(worst, ms)
        if plan.provedOptimal { proved += 1 }
        gap = max(gap, plan.gap)
    }
    print(String(format: "%@: slowest %.1f ms over %d instances; %d proved optimal; largest gap %.4f", label, worst, runs, proved, gap))
}
