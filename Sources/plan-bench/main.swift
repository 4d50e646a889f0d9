// In-process timings for bin/bench: the estimator and the recommendation search over the whole
// GPU catalog, without process start-up. Prints one line per measurement: name, median ms, runs.
import Foundation
import Inventory
import MemoryEstimation
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
