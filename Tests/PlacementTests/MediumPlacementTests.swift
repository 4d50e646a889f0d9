import Testing
import TestSupport

@testable import Placement

/// Medium fleets as in issue 12: 8 to 16 servers of 4 GPU types, 20 to 40 pre-sized gang jobs.
@Suite struct MediumPlacementTests {
    static func medium(seed: UInt64) -> Instance {
        var rng = SeededRandom(seed: seed)
        let types = [("h100", 80 << 30), ("a100", 40 << 30), ("l40s", 48 << 30), ("h200", 141 << 30)]
        var servers: [ServerState] = []
        for i in 0..<Int.random(in: 8...16, using: &rng) {
            let (t, mem) = types[i % 4]
            let n = [4, 8, 8].randomElement(using: &rng)!
            let free = (0..<n).filter { _ in Int.random(in: 0..<6, using: &rng) > 0 }
            servers.append(ServerState(name: "s\(i)", gpuType: t, gpuCount: n, free: free, hostFree: 2 << 40, gpuMemory: mem))
        }
        var units: [JobUnit] = []
        for j in 0..<Int.random(in: 20...40, using: &rng) {
            let (t, mem) = types[Int.random(in: 0..<4, using: &rng)]
            let tp = [1, 2, 4].randomElement(using: &rng)!
            let dp = [1, 1, 2, 3].randomElement(using: &rng)!
            let shape = UnitShape(
                gpuType: t, gpus: tp * dp, tp: tp, dp: dp, sameServer: Int.random(in: 0..<3, using: &rng) == 0,
                perGPUBytes: Int.random(in: 1...(mem >> 30), using: &rng) << 30)
            units.append(JobUnit(job: "j\(j)", priority: Int.random(in: 0...1, using: &rng), shapes: [shape]))
        }
        return Instance(servers: servers, units: units)
    }

    @Test func mediumInstancesAreProvedOptimalAndValid() {
        var greedyPlaced = 0
        var placed = 0
        let clock = ContinuousClock()
        var slowest = Duration.zero
        for seed in UInt64(40_001)...40_015 {
            let inst = Self.medium(seed: seed)
            var out: PlacementOutcome!
            let t = clock.measure { out = Planner.place(units: inst.units, servers: inst.servers) }
            slowest = max(slowest, t)
            PlacementPropertyTests.check(inst, out, seed: seed)
            #expect(out.provedOptimal, "seed \(seed): not proved")
            placed += out.assignments.count
            var noSolver = Planner.Options()
            noSolver.model = .greedy
            greedyPlaced += Planner.place(units: inst.units, servers: inst.servers, options: noSolver).assignments.count
        }
        #expect(placed >= greedyPlaced)
        print("medium placement: 15 instances, \(placed) units placed (greedy alone \(greedyPlaced)), slowest solve \(slowest)")
    }

    @Test func oneSameServerEightGPUServerBeatsTwoFourGPUServers() {
        // Issue 12: three same-server jobs needing 7 GPUs with >= 60 GB in all (3 + 2 + 2).
        let skus = [
            SKUOption(id: "a100-pcie-80gb-4x", gpuType: "a100-80", gpusPerServer: 4, gpuMemory: 80 << 30, hostMemory: 1 << 40, price: 66_000),
            SKUOption(id: "gaudi2-8x", gpuType: "gaudi2", gpusPerServer: 8, gpuMemory: 96 << 30, hostMemory: 1 << 40, price: 115_000),
        ]
        let units = [3, 2, 2].enumerated().map { i, n in
            JobUnit(job: "j\(i)", shapes: [
                UnitShape(gpuType: "a100-80", gpus: n, sameServer: true, perGPUBytes: 60 << 30),
                UnitShape(gpuType: "gaudi2", gpus: n, sameServer: true, perGPUBytes: 60 << 30),
            ])
        }
        let plan = PurchasePlanner.plan(units: units, existing: [], skus: skus)
        #expect(plan.cost == 115_000)
        #expect(plan.quantities == [1: 1])
        #expect(plan.provedOptimal)
    }
}
