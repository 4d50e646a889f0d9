import PlanModel
import PlanCore
import Testing
import TestSupport

@testable import Placement

/// Random fleets and job sets from a seed.
struct Instance {
    var servers: [ServerState]
    var units: [JobUnit]

    static let types = [("a", 80 << 30), ("b", 24 << 30), ("c", 141 << 30)]

    /// `fabrics`: servers sit on networks "x" or "y" (or none) with random fabrics, and shapes need a random fabric to span.
    static func random(seed: UInt64, maxServers: Int, maxJobs: Int, maxReplicas: Int = 3, fabrics: Bool = false) -> Instance {
        var rng = SeededRandom(seed: seed)
        let typeCount = Int.random(in: 1...3, using: &rng)
        var servers: [ServerState] = []
        for i in 0..<Int.random(in: 1...maxServers, using: &rng) {
            let (t, mem) = types[Int.random(in: 0..<typeCount, using: &rng)]
            let n = [1, 2, 4, 8].randomElement(using: &rng)!
            // Some GPUs already taken by earlier placements.
            let free = (0..<n).filter { _ in Int.random(in: 0..<5, using: &rng) > 0 }
            servers.append(ServerState(name: "s\(i)", gpuType: t, gpuCount: n, free: free, hostFree: Int.random(in: 0...4, using: &rng) << 40, gpuMemory: mem))
        }
        var units: [JobUnit] = []
        for j in 0..<Int.random(in: 1...maxJobs, using: &rng) {
            let priority = Int.random(in: 0...2, using: &rng)
            var shapes: [UnitShape] = []
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                let (t, mem) = types[Int.random(in: 0..<typeCount, using: &rng)]
                let tp = [1, 1, 2, 4].randomElement(using: &rng)!
                let pp = [1, 1, 2].randomElement(using: &rng)!
                let dp = [1, 1, 2, 3].randomElement(using: &rng)!
                let per = Int.random(in: 1...(mem / (1 << 30) + 8), using: &rng) << 30  // sometimes more than the GPU has
                shapes.append(
                    UnitShape(
                        gpuType: t, gpus: tp * pp * dp, tp: tp, pp: pp, dp: dp, sameServer: Int.random(in: 0..<4, using: &rng) == 0,
                        perGPUBytes: per, hostBytesPerGPU: Int.random(in: 0..<4, using: &rng) == 0 ? 300 << 30 : 0))
            }
            shapes.sort { $0.gpus < $1.gpus }
            let replicas = Int.random(in: 0..<3, using: &rng) == 0 ? Int.random(in: 1...maxReplicas, using: &rng) : 1
            for r in 0..<replicas {
                units.append(JobUnit(job: "j\(j)", replica: r, priority: priority, shapes: shapes))
            }
        }
        if fabrics {
            for i in servers.indices {
                servers[i].network = ["x", "y", nil].randomElement(using: &rng)!
                servers[i].fabricGbps = [25, 100, 400].randomElement(using: &rng)!
                servers[i].fabricRDMA = Bool.random(using: &rng)
            }
            for i in units.indices {
                units[i].shapes = units[i].shapes.map {
                    var s = $0
                    s.fabric = [FabricRequirement.any, FabricRequirement(gbps: 100, rdma: true), FabricRequirement(gbps: 100, rdma: false)]
                        .randomElement(using: &rng)!
                    return s
                }
            }
        }
        return Instance(servers: servers, units: units)
    }

    /// Whether a unit of `shape` may span `server` and others: written out here, independent of the planner.
    static func spannable(_ server: ServerState, _ shape: UnitShape) -> Bool {
        server.network != nil && server.fabricGbps >= shape.fabric.gbps && (server.fabricRDMA || !shape.fabric.rdma)
    }
}

@Suite struct PlacementPropertyTests {
    static func check(_ inst: Instance, _ out: PlacementOutcome, seed: UInt64) {
        var used = Set<[Int]>()
        var host = inst.servers.map(\.hostFree)
        for a in out.assignments {
            let shape = a.shape
            #expect(inst.units[a.unit].shapes.contains(shape), "seed \(seed): shape not offered")
            #expect(a.allocations.reduce(0) { $0 + $1.gpus.count } == shape.gpus, "seed \(seed): GPU count")
            #expect(shape.gpus == shape.tp * shape.pp * shape.dp, "seed \(seed): tp x pp x dp")
            if shape.sameServer { #expect(a.allocations.count == 1, "seed \(seed): same-server job spans servers") }
            #expect(Set(a.allocations.map(\.server)).count == a.allocations.count, "seed \(seed): server listed twice")
            if a.allocations.count > 1 {
                let servers = a.allocations.map { inst.servers[$0.server] }
                #expect(servers.allSatisfy { Instance.spannable($0, shape) && $0.network == servers[0].network }, "seed \(seed): spans servers off one qualifying network")
            }
            for al in a.allocations {
                let s = inst.servers[al.server]
                #expect(s.gpuType == shape.gpuType, "seed \(seed): wrong GPU type")
                #expect(shape.perGPUBytes <= s.gpuMemory, "seed \(seed): GPU memory overcommitted")
                #expect(al.gpus.count % shape.tp == 0, "seed \(seed): a tensor-parallel group spans servers")
                for g in al.gpus {
                    #expect(s.free.contains(g), "seed \(seed): GPU \(g) of \(s.name) was not free")
                    #expect(used.insert([al.server, g]).inserted, "seed \(seed): GPU \(g) of \(s.name) allocated twice")
                }
                host[al.server] -= al.gpus.count * shape.hostBytesPerGPU
                #expect(host[al.server] >= 0, "seed \(seed): host memory overcommitted on \(s.name)")
            }
        }
        let placed = Set(out.assignments.map(\.unit))
        #expect(placed.count == out.assignments.count, "seed \(seed): a unit placed twice")
        #expect(placed.isDisjoint(with: out.unplaced.map(\.unit)), "seed \(seed): unit both placed and unplaced")
        #expect(placed.count + out.unplaced.count == inst.units.count, "seed \(seed): a unit is missing")
        #expect(out.unplaced.allSatisfy { !$0.reason.sentence.isEmpty && !$0.reason.sentence.contains("\n") })
    }

    @Test func invariantsHoldOnThousandsOfRandomFleets() {
        let options = Planner.Options()
        for seed in UInt64(1)...2000 {
            let inst = Instance.random(seed: seed, maxServers: seed % 3 == 0 ? 40 : 8, maxJobs: seed % 3 == 0 ? 30 : 8, fabrics: seed % 2 == 0)
            let out = Planner.place(units: inst.units, servers: inst.servers, options: options)
            Self.check(inst, out, seed: seed)
            if seed % 10 == 0 {
                #expect(Planner.place(units: inst.units, servers: inst.servers, options: options) == out, "seed \(seed): not deterministic")
            }
        }
    }

    @Test func aTensorParallelGroupStaysInOneServer() {
        // Two servers with 2 free GPUs each: a tp=4 job cannot be split 2 + 2.
        let servers = (0..<2).map { ServerState(name: "s\($0)", gpuType: "a", gpuCount: 2, free: [0, 1], hostFree: 0, gpuMemory: 80 << 30) }
        let tp4 = JobUnit(job: "big", shapes: [UnitShape(gpuType: "a", gpus: 4, tp: 4, perGPUBytes: 1 << 30)])
        let out = Planner.place(units: [tp4], servers: servers)
        #expect(out.assignments.isEmpty)
        #expect(out.unplaced.first?.reason.sentence.contains("needs 4 a GPUs") == true)
        // With tp=2 it spans the two servers.
        let tp2 = JobUnit(job: "big", shapes: [UnitShape(gpuType: "a", gpus: 4, tp: 2, dp: 2, perGPUBytes: 1 << 30)])
        #expect(Planner.place(units: [tp2], servers: servers).assignments.first?.allocations.count == 2)
    }

    @Test func bestFitFillsPartlyUsedServersFirst() {
        let servers = [
            ServerState(name: "whole", gpuType: "a", gpuCount: 8, free: Array(0..<8), hostFree: 0, gpuMemory: 80 << 30),
            ServerState(name: "part", gpuType: "a", gpuCount: 8, free: [5, 6, 7], hostFree: 0, gpuMemory: 80 << 30),
        ]
        let u = JobUnit(job: "small", shapes: [UnitShape(gpuType: "a", gpus: 2, perGPUBytes: 1 << 30)])
        let out = Planner.place(units: [u], servers: servers)
        #expect(out.assignments.first?.allocations == [Allocation(server: 1, gpus: [5, 6])])
    }

    @Test func multiServerJobsSpanAsFewServersAsPossible() {
        let servers = [4, 8, 2, 8, 6].enumerated().map { i, n in
            ServerState(name: "s\(i)", gpuType: "a", gpuCount: 8, free: Array(0..<n), hostFree: 0, gpuMemory: 80 << 30)
        }
        let u = JobUnit(job: "wide", shapes: [UnitShape(gpuType: "a", gpus: 16, tp: 2, dp: 8, perGPUBytes: 1 << 30)])
        let out = Planner.place(units: [u], servers: servers)
        #expect(out.assignments.first?.allocations.map(\.server).sorted() == [1, 3])
    }

    @Test func unplacedReasonNamesTheNeedAndTheLargestBlock() {
        let servers = [ServerState(name: "gpu-node-3", gpuType: "h100", gpuCount: 8, free: [6, 7], hostFree: 0, gpuMemory: 80 << 30)]
        let u = JobUnit(job: "x", shapes: [UnitShape(gpuType: "h100", gpus: 4, tp: 4, perGPUBytes: 70 << 30)])
        let reason = Planner.place(units: [u], servers: servers).unplaced.first!.reason
        // The planner gives a value; PlanCore renders the sentence.
        guard case .noRoom(let room) = reason else { Issue.record("expected noRoom, got \(reason)"); return }
        #expect(room.largestFree?.server == "gpu-node-3" && room.largestFree?.free == 2 && room.fleetHasType)
        let r = reason.sentence
        #expect(r == "needs 4 h100 GPUs with >= 70.00 GiB each on one server (tp=4); the largest free block is 2 x h100 on gpu-node-3")
    }
}

/// The planner against an exhaustive search written here, independently: on every small instance it
/// must place as many units as possible, priority level by priority level.
@Suite struct PlacementOptimalityTests {
    /// Placed units per priority level, highest level first.
    static func score(_ units: [JobUnit], placed: [Int], levels: [Int]) -> [Int] {
        levels.map { l in placed.filter { units[$0].priority == l }.count }
    }

    /// Tries every unit as skipped or placed with every shape on every split of its tp-groups over
    /// servers (no symmetry breaking, no memo); prunes only when even placing every remaining unit
    /// could not beat the best found.
    static func bruteForce(_ inst: Instance) -> [Int] {
        let levels = Array(Set(inst.units.map(\.priority))).sorted(by: >)
        var free = inst.servers.map(\.free.count)
        var host = inst.servers.map(\.hostFree)
        var best = levels.map { _ in 0 }
        var current = best
        func bound(_ i: Int) -> [Int] {
            var b = current
            for u in inst.units[i...] { b[levels.firstIndex(of: u.priority)!] += 1 }
            return b
        }
        func splits(_ shape: UnitShape) -> [[Int]] {
            let n = inst.servers.count
            var out: [[Int]] = []
            var k = Array(repeating: 0, count: n)
            func rec(_ s: Int, _ left: Int) {
                if left == 0 {
                    out.append(k)
                    return
                }
                if s == n { return }
                let srv = inst.servers[s]
                var maxK = 0
                if srv.gpuType == shape.gpuType && srv.gpuMemory >= shape.perGPUBytes {
                    maxK = free[s] / shape.tp
                    if shape.hostBytesPerGPU > 0 { maxK = min(maxK, host[s] / (shape.hostBytesPerGPU * shape.tp)) }
                }
                for x in 0...min(maxK, left) {
                    k[s] = x
                    rec(s + 1, left - x)
                }
                k[s] = 0
            }
            rec(0, shape.groups)
            return out.filter { split in
                let used = split.indices.filter { split[$0] > 0 }
                if used.count <= 1 { return true }
                if shape.sameServer { return false }
                return used.allSatisfy { Instance.spannable(inst.servers[$0], shape) && inst.servers[$0].network == inst.servers[used[0]].network }
            }
        }
        func dfs(_ i: Int) {
            if !(bound(i).lexicographicallyPrecedes(best) == false && bound(i) != best) { return }
            if i == inst.units.count {
                best = current
                return
            }
            let u = inst.units[i]
            let level = levels.firstIndex(of: u.priority)!
            for shape in u.shapes {
                for split in splits(shape) {
                    for (s, k) in split.enumerated() where k > 0 {
                        free[s] -= k * shape.tp
                        host[s] -= k * shape.tp * shape.hostBytesPerGPU
                    }
                    current[level] += 1
                    dfs(i + 1)
                    current[level] -= 1
                    for (s, k) in split.enumerated() where k > 0 {
                        free[s] += k * shape.tp
                        host[s] += k * shape.tp * shape.hostBytesPerGPU
                    }
                }
            }
            dfs(i + 1)
        }
        dfs(0)
        return best
    }

    @Test func plannerReachesTheOptimumOnSmallInstances() {
        var provedCount = 0
        for seed in UInt64(10_001)...10_400 {
            let inst = Instance.random(seed: seed, maxServers: 6, maxJobs: 7, maxReplicas: 2)
            let out = Planner.place(units: inst.units, servers: inst.servers)
            let levels = Array(Set(inst.units.map(\.priority))).sorted(by: >)
            let got = Self.score(inst.units, placed: out.assignments.map(\.unit), levels: levels)
            let want = Self.bruteForce(inst)
            #expect(got == want, "seed \(seed): planner \(got), exhaustive \(want)")
            if out.provedOptimal { provedCount += 1 }
        }
        #expect(provedCount == 400)
    }

    /// The same with networks and fabric needs: a unit spans servers only on one network whose fabric meets its need.
    @Test func plannerReachesTheOptimumWithFabrics() {
        for seed in UInt64(11_001)...11_300 {
            let inst = Instance.random(seed: seed, maxServers: 6, maxJobs: 7, maxReplicas: 2, fabrics: true)
            let out = Planner.place(units: inst.units, servers: inst.servers)
            PlacementPropertyTests.check(inst, out, seed: seed)
            let levels = Array(Set(inst.units.map(\.priority))).sorted(by: >)
            let got = Self.score(inst.units, placed: out.assignments.map(\.unit), levels: levels)
            #expect(got == Self.bruteForce(inst), "seed \(seed)")
            #expect(out.provedOptimal, "seed \(seed)")
        }
    }
}
