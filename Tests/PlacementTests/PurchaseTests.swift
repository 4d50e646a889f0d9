import PlanModel
import Testing
import TestSupport

@testable import Placement

/// Random small purchase problems: a few leftover servers, a few SKUs, a few pending units.
struct PurchaseInstance {
    var existing: [ServerState]
    var skus: [SKUOption]
    var units: [JobUnit]

    /// `fabrics`: SKUs and servers get a network ("x" or none) and a fabric; shapes need one to span.
    static func random(seed: UInt64, maxUnits: Int, maxSKUs: Int, fabrics: Bool = false) -> PurchaseInstance {
        var rng = SeededRandom(seed: seed)
        let types = [("a", 80 << 30), ("b", 48 << 30)]
        var skus: [SKUOption] = []
        for k in 0..<Int.random(in: 1...maxSKUs, using: &rng) {
            let (t, mem) = types[Int.random(in: 0..<2, using: &rng)]
            let g = [4, 8].randomElement(using: &rng)!
            skus.append(
                SKUOption(id: "k\(k)", gpuType: t, gpusPerServer: g, gpuMemory: mem, hostMemory: 1 << 40,
                          price: g * Int.random(in: 5...40, using: &rng) * 1000 + Int.random(in: 0...9, using: &rng) * 1000))
        }
        var existing: [ServerState] = []
        for i in 0..<Int.random(in: 0...2, using: &rng) {
            let (t, mem) = types[Int.random(in: 0..<2, using: &rng)]
            let n = [2, 4].randomElement(using: &rng)!
            existing.append(ServerState(name: "old\(i)", gpuType: t, gpuCount: n, free: Array(0..<Int.random(in: 0...n, using: &rng)), hostFree: 1 << 40, gpuMemory: mem))
        }
        var units: [JobUnit] = []
        for j in 0..<Int.random(in: 1...maxUnits, using: &rng) {
            var shapes: [UnitShape] = []
            for (t, mem) in types where Int.random(in: 0..<3, using: &rng) > 0 {
                let tp = [1, 1, 2].randomElement(using: &rng)!
                let dp = [1, 2].randomElement(using: &rng)!
                shapes.append(UnitShape(gpuType: t, gpus: tp * dp, tp: tp, dp: dp, sameServer: Int.random(in: 0..<4, using: &rng) == 0,
                                        perGPUBytes: Int.random(in: 1...(mem >> 30), using: &rng) << 30))
            }
            if shapes.isEmpty { shapes.append(UnitShape(gpuType: "a", gpus: 1, perGPUBytes: 1 << 30)) }
            units.append(JobUnit(job: "j\(j)", shapes: shapes.sorted { $0.gpus < $1.gpus }))
        }
        if fabrics {
            for i in skus.indices {
                skus[i].network = ["x", nil].randomElement(using: &rng)!
                skus[i].fabricGbps = [25, 400].randomElement(using: &rng)!
                skus[i].fabricRDMA = skus[i].fabricGbps == 400
            }
            for i in existing.indices { existing[i].network = ["x", nil].randomElement(using: &rng)! }
            for i in units.indices {
                units[i].shapes = units[i].shapes.map {
                    var s = $0
                    s.fabric = Bool.random(using: &rng) ? FabricRequirement(gbps: 100, rdma: true) : .any
                    return s
                }
            }
        }
        return PurchaseInstance(existing: existing, skus: skus, units: units)
    }
}

@Suite struct PurchaseTests {
    /// Cheapest purchase by trying every vector of counts (each SKU up to the number of units x 3)
    /// with the placement brute force from the optimality tests; nil when nothing works.
    static func bruteForceCost(_ p: PurchaseInstance) -> Int? {
        // Each SKU at most as many servers as the units would need on it alone.
        let caps = p.skus.map { k -> Int in
            p.units.reduce(0) { acc, u in
                acc + (u.shapes.compactMap { s -> Int? in
                    guard s.gpuType == k.gpuType, s.perGPUBytes <= k.gpuMemory, s.tp <= k.gpusPerServer else { return nil }
                    let per = k.gpusPerServer / s.tp
                    if s.groups <= per { return 1 }
                    if s.sameServer { return nil }
                    return (s.groups + per - 1) / per
                }.min() ?? 0)
            }
        }
        var best: Int?
        var vector = Array(repeating: 0, count: p.skus.count)
        func rec(_ k: Int) {
            if k == p.skus.count {
                let cost = zip(vector, p.skus).reduce(0) { $0 + $1.0 * $1.1.price }
                if let b = best, cost >= b { return }
                var servers = p.existing
                for (i, n) in vector.enumerated() {
                    for c in 0..<n {
                        let s = p.skus[i]
                        servers.append(ServerState(
                            name: "n\(i)-\(c)", gpuType: s.gpuType, gpuCount: s.gpusPerServer, free: Array(0..<s.gpusPerServer), hostFree: s.hostMemory,
                            gpuMemory: s.gpuMemory, network: s.network, fabricGbps: s.fabricGbps, fabricRDMA: s.fabricRDMA))
                    }
                }
                if Self.allFit(p.units, servers) { best = cost }
                return
            }
            for n in 0...caps[k] {
                vector[k] = n
                rec(k + 1)
            }
            vector[k] = 0
        }
        rec(0)
        return best
    }

    /// Exhaustive: can every unit be placed? Tries every shape and every split of its tp-groups over
    /// the servers; servers that are identical (same type, size, memory, host memory and free GPUs)
    /// are only tried in one order.
    static func allFit(_ units: [JobUnit], _ servers: [ServerState]) -> Bool {
        var free = servers.map(\.free.count)
        var host = servers.map(\.hostFree)
        func same(_ a: Int, _ b: Int) -> Bool {
            servers[a].gpuType == servers[b].gpuType && servers[a].gpuCount == servers[b].gpuCount
                && servers[a].gpuMemory == servers[b].gpuMemory && free[a] == free[b] && host[a] == host[b]
        }
        func place(_ i: Int) -> Bool {
            if i == units.count { return true }
            for shape in units[i].shapes {
                var split = Array(repeating: 0, count: servers.count)
                func spread(_ s: Int, _ left: Int) -> Bool {
                    if left == 0 {
                        let used = split.indices.filter { split[$0] > 0 }
                        if used.count > 1 && (shape.sameServer || !used.allSatisfy({
                            Instance.spannable(servers[$0], shape) && servers[$0].network == servers[used[0]].network })) { return false }
                        for (x, k) in split.enumerated() where k > 0 {
                            free[x] -= k * shape.tp
                            host[x] -= k * shape.tp * shape.hostBytesPerGPU
                        }
                        let ok = place(i + 1)
                        for (x, k) in split.enumerated() where k > 0 {
                            free[x] += k * shape.tp
                            host[x] += k * shape.tp * shape.hostBytesPerGPU
                        }
                        return ok
                    }
                    if s == servers.count { return false }
                    var cap = 0
                    let srv = servers[s]
                    if srv.gpuType == shape.gpuType && srv.gpuMemory >= shape.perGPUBytes {
                        cap = free[s] / shape.tp
                        if shape.hostBytesPerGPU > 0 { cap = min(cap, host[s] / (shape.hostBytesPerGPU * shape.tp)) }
                    }
                    if s > 0 && same(s - 1, s) && servers[s - 1].network == servers[s].network && servers[s - 1].fabricGbps == servers[s].fabricGbps
                        && servers[s - 1].fabricRDMA == servers[s].fabricRDMA { cap = min(cap, split[s - 1]) }
                    var k = min(cap, left)
                    while k >= 0 {
                        split[s] = k
                        if spread(s + 1, left - k) { return true }
                        k -= 1
                    }
                    split[s] = 0
                    return false
                }
                if spread(0, shape.groups) { return true }
            }
            return false
        }
        return place(0)
    }

    @Test func cheapestPurchaseMatchesExhaustiveSearchOnSmallInstances() {
        var compared = 0
        for seed in UInt64(20_001)...20_150 {
            let inst = PurchaseInstance.random(seed: seed, maxUnits: 8, maxSKUs: 4)
            let plan = PurchasePlanner.plan(units: inst.units, existing: inst.existing, skus: inst.skus)
            let wantCost = Self.bruteForceCost(inst)
            guard let want = wantCost else {
                #expect(!plan.unbuyable.isEmpty || plan.assignments.count < inst.units.count, "seed \(seed): brute force found no purchase")
                continue
            }
            compared += 1
            #expect(plan.unbuyable.isEmpty, "seed \(seed): units reported unbuyable")
            #expect(plan.cost == want, "seed \(seed): planner bought for \(plan.cost), exhaustive \(want)")
            #expect(plan.provedOptimal, "seed \(seed)")
            Self.checkPlan(inst, plan, seed: seed)
        }
        #expect(compared > 100)
    }

    static func checkPlan(_ inst: PurchaseInstance, _ plan: PurchasePlan, seed: UInt64) {
        let servers = inst.existing + plan.newServers
        let check = Instance(servers: servers, units: inst.units)
        let outcome = PlacementOutcome(
            assignments: plan.assignments, unplaced: plan.unbuyable, provedOptimal: false, upperBound: 0)
        PlacementPropertyTests.check(check, outcome, seed: seed)
        #expect(plan.cost == plan.quantities.reduce(0) { $0 + inst.skus[$1.key].price * $1.value }, "seed \(seed): cost")
        #expect(plan.newServers.count == plan.quantities.values.reduce(0, +))
        #expect(plan.cost >= plan.lowerBound, "seed \(seed): below the lower bound")
    }

    @Test func cheapestPurchaseWithFabricsMatchesExhaustiveSearch() {
        var compared = 0
        for seed in UInt64(21_001)...21_120 {
            let inst = PurchaseInstance.random(seed: seed, maxUnits: 7, maxSKUs: 3, fabrics: true)
            let plan = PurchasePlanner.plan(units: inst.units, existing: inst.existing, skus: inst.skus)
            guard let want = Self.bruteForceCost(inst) else {
                #expect(!plan.unbuyable.isEmpty, "seed \(seed): brute force found no purchase")
                continue
            }
            compared += 1
            #expect(plan.unbuyable.isEmpty && plan.cost == want && plan.provedOptimal, "seed \(seed): \(plan.cost) against \(want)")
            Self.checkPlan(inst, plan, seed: seed)
        }
        #expect(compared > 60)
    }

    /// Medium purchases (20 to 40 units, up to 6 SKUs, some free servers) are proved optimal by CBC.
    @Test func mediumPurchasesAreProvedOptimal() {
        let clock = ContinuousClock()
        var slowest = Duration.zero
        for seed in UInt64(22_001)...22_015 {
            var inst = PurchaseInstance.random(seed: seed, maxUnits: 40, maxSKUs: 6)
            while inst.units.count < 20 { inst.units += PurchaseInstance.random(seed: seed + 1000 + UInt64(inst.units.count), maxUnits: 40, maxSKUs: 1).units.map {
                var u = $0
                u.job = "x\(inst.units.count)" + u.job
                return u
            } }
            var plan: PurchasePlan!
            slowest = max(slowest, clock.measure { plan = PurchasePlanner.plan(units: inst.units, existing: inst.existing, skus: inst.skus) })
            Self.checkPlan(inst, plan, seed: seed)
            #expect(plan.provedOptimal || !plan.unbuyable.isEmpty, "seed \(seed): gap \(plan.gap)")
            #expect(plan.cost >= plan.lowerBound)
        }
        print("medium purchase: 15 instances, slowest \(slowest)")
    }

    /// A thousand units: within 1% of the lower bound, or proved.
    @Test func aThousandUnitPurchaseIsWithinOnePercentOfItsBound() {
        var inst = PurchaseInstance.random(seed: 23_001, maxUnits: 8, maxSKUs: 6)
        var rng = SeededRandom(seed: 23_002)
        inst.units = (0..<1000).map { i in
            let base = PurchaseInstance.random(seed: UInt64(23_100 + Int.random(in: 0..<25, using: &rng)), maxUnits: 1, maxSKUs: 1).units[0]
            return JobUnit(job: "u\(i)", shapes: base.shapes)
        }
        let plan = PurchasePlanner.plan(units: inst.units, existing: inst.existing, skus: inst.skus)
        Self.checkPlan(inst, plan, seed: 23_001)
        #expect(plan.provedOptimal || plan.gap <= 0.01, "gap \(plan.gap): \(plan.cost) against bound \(plan.lowerBound)")
        print("1000-unit purchase: cost \(plan.cost), bound \(plan.lowerBound), proved \(plan.provedOptimal)")
    }

    @Test func largeInstancesUseTheGreedyAndStayValid() {
        for seed in UInt64(30_001)...30_040 {
            var inst = PurchaseInstance.random(seed: seed, maxUnits: 40, maxSKUs: 6)
            inst.units += PurchaseInstance.random(seed: seed + 7, maxUnits: 40, maxSKUs: 1).units.map {
                var u = $0
                u.job = "x" + u.job
                return u
            }
            let plan = PurchasePlanner.plan(units: inst.units, existing: inst.existing, skus: inst.skus)
            Self.checkPlan(inst, plan, seed: seed)
            #expect(plan.assignments.count + plan.unbuyable.count == inst.units.count, "seed \(seed)")
        }
    }

    @Test func mixingSKUsBeatsPerTypeRounding() {
        // Two 2-GPU jobs: one needs 40 GB GPUs, one needs 70 GB. One 4-GPU 80 GB server holds both.
        let skus = [
            SKUOption(id: "small-48gb-4x", gpuType: "l40s", gpusPerServer: 4, gpuMemory: 48 << 30, hostMemory: 1 << 40, price: 52_000),
            SKUOption(id: "big-80gb-4x", gpuType: "a100", gpusPerServer: 4, gpuMemory: 80 << 30, hostMemory: 1 << 40, price: 66_000),
        ]
        let a = JobUnit(job: "a", shapes: [
            UnitShape(gpuType: "l40s", gpus: 2, perGPUBytes: 40 << 30), UnitShape(gpuType: "a100", gpus: 2, perGPUBytes: 40 << 30),
        ])
        let b = JobUnit(job: "b", shapes: [UnitShape(gpuType: "a100", gpus: 2, perGPUBytes: 70 << 30)])
        let plan = PurchasePlanner.plan(units: [a, b], existing: [], skus: skus)
        #expect(plan.quantities == [1: 1])
        #expect(plan.cost == 66_000)
    }
}
