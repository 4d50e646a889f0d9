import PlanModel
import Testing
import TestSupport

@testable import Placement

/// The model over classes of interchangeable servers and units (`ClassModel`), checked against the
/// exhaustive search and against the second formulation (one column per server, `PlacementModel`).
@Suite struct ClassModelTests {
    /// A random instance whose servers come in twins and triplets, so that classes have counts.
    static func twins(seed: UInt64, fabrics: Bool) -> Instance {
        var inst = Instance.random(seed: seed, maxServers: 3, maxJobs: 7, maxReplicas: 3, fabrics: fabrics)
        var rng = SeededRandom(seed: seed ^ 0x5eed)
        var servers: [ServerState] = []
        for s in inst.servers {
            for k in 0..<Int.random(in: 1...3, using: &rng) {
                var copy = s
                copy.name = "\(s.name)-\(k)"
                servers.append(copy)
            }
        }
        inst.servers = Array(servers.prefix(6))
        return inst
    }

    static func options(_ model: Planner.Model) -> Planner.Options {
        var o = Planner.Options()
        o.model = model
        return o
    }

    static func gpus(_ out: PlacementOutcome) -> Int { out.assignments.reduce(0) { $0 + $1.shape.gpus } }

    /// Wholly free servers the plan puts work on (the fragmentation both models minimise last).
    static func touched(_ out: PlacementOutcome, _ servers: [ServerState]) -> Int {
        Set(out.assignments.flatMap { $0.allocations.map(\.server) }).filter { servers[$0].free.count == servers[$0].gpuCount }.count
    }

    @Test(arguments: [false, true]) func classesReachTheExhaustiveOptimumAndTheServerModelsGPUs(fabrics: Bool) {
        var solved = 0
        for seed in UInt64(60_001)...60_200 {
            let inst = Self.twins(seed: seed + (fabrics ? 1_000 : 0), fabrics: fabrics)
            let byClass = Planner.place(units: inst.units, servers: inst.servers, options: Self.options(.classes))
            PlacementPropertyTests.check(inst, byClass, seed: seed)
            let levels = Array(Set(inst.units.map(\.priority))).sorted(by: >)
            let got = PlacementOptimalityTests.score(inst.units, placed: byClass.assignments.map(\.unit), levels: levels)
            #expect(got == PlacementOptimalityTests.bruteForce(inst), "seed \(seed)")
            #expect(byClass.provedOptimal, "seed \(seed)")
            guard byClass.model == .classes else { continue }
            solved += 1
            let byServer = Planner.place(units: inst.units, servers: inst.servers, options: Self.options(.servers))
            #expect(Self.gpus(byClass) == Self.gpus(byServer), "seed \(seed): GPUs \(Self.gpus(byClass)) over classes, \(Self.gpus(byServer)) per server")
            #expect(byServer.provedOptimal, "seed \(seed)")
            let (a, b) = (Self.touched(byClass, inst.servers), Self.touched(byServer, inst.servers))
            #expect(a == b, "seed \(seed): whole servers touched \(a) over classes, \(b) per server")
        }
        // Most instances leave some unit over, so the solver runs.
        #expect(solved > 100)
    }

    /// Two small units on four empty 8-GPU servers, with a third that fits nowhere (so the solver
    /// runs): every plan uses 4 GPUs; the least fragmented puts both on one server.
    @Test(arguments: [Planner.Model.classes, .servers]) func theLeastFragmentedPlanKeepsWholeServersFree(model: Planner.Model) {
        let servers = (0..<4).map { ServerState(name: "s\($0)", gpuType: "a", gpuCount: 8, free: Array(0..<8), hostFree: 1 << 40, gpuMemory: 80 << 30) }
        let small = UnitShape(gpuType: "a", gpus: 2, sameServer: true, perGPUBytes: 10 << 30)
        let huge = UnitShape(gpuType: "a", gpus: 16, sameServer: true, perGPUBytes: 10 << 30)
        let units = [
            JobUnit(job: "x", shapes: [small]), JobUnit(job: "y", priority: 1, shapes: [small]), JobUnit(job: "z", shapes: [huge]),
        ]
        let out = Planner.place(units: units, servers: servers, options: Self.options(model))
        #expect(out.model == (model == .classes ? .classes : .servers) && out.provedOptimal)
        #expect(out.assignments.count == 2)
        #expect(Set(out.assignments.flatMap { $0.allocations.map(\.server) }).count == 1)
    }

    /// Thousands of servers and units make a model of a few classes: 1,000 servers of 8 GPUs,
    /// 600 high-priority 8-GPU jobs and 5,000 one-GPU jobs. The optimum by hand: the 600 take 600
    /// servers, and the other 400 servers hold 3,200 of the one-GPU jobs.
    @Test func aThousandServersSolveAsAFewClasses() {
        let servers = (0..<1_000).map {
            ServerState(name: "s\($0)", gpuType: "a", gpuCount: 8, free: Array(0..<8), hostFree: 1 << 40, gpuMemory: 80 << 30, network: "n")
        }
        let big = UnitShape(gpuType: "a", gpus: 8, tp: 8, perGPUBytes: 60 << 30)
        let one = UnitShape(gpuType: "a", gpus: 1, perGPUBytes: 20 << 30)
        let units = (0..<600).map { JobUnit(job: "big\($0)", priority: 1, shapes: [big]) } + (0..<5_000).map { JobUnit(job: "one\($0)", shapes: [one]) }
        let model = ClassModel(units: units, servers: servers)!
        #expect(model.serverClasses.count == 1 && model.unitClasses.count == 2)
        #expect(model.milp.columns.count < 20)
        let out = Planner.place(units: units, servers: servers, options: Self.options(.classes))
        #expect(out.model == .classes && out.provedOptimal)
        #expect(out.assignments.filter { units[$0.unit].priority == 1 }.count == 600)
        #expect(out.assignments.count == 600 + 3_200)
        #expect(out.solverBound == 3_800)
        PlacementPropertyTests.check(Instance(servers: servers, units: units), out, seed: 0)
    }

    @Test func patternsAreTheMaximalFillings() {
        let slots = [ClassModel.Slot(gpus: 4, host: 0), ClassModel.Slot(gpus: 2, host: 0), ClassModel.Slot(gpus: 3, host: 100)]
        let ps = ClassModel.maximalPatterns(slots, gpus: 8, host: 150, limit: 100)!
        // By hand: 4+4; 4+2+2; 4+3 (host 100, one GPU left: nothing fits); 2+2+2+2; 3+2+2 (one GPU left).
        #expect(Set(ps) == [[2, 0, 0], [1, 2, 0], [1, 0, 1], [0, 4, 0], [0, 2, 1]])
    }
}

/// An unplaced unit's reason names the constraint that binds.
@Suite struct BindingReasonTests {
    static let server = ServerState(name: "s0", gpuType: "a", gpuCount: 8, free: Array(0..<8), hostFree: 100 << 30, gpuMemory: 80 << 30)

    static func binding(_ out: PlacementOutcome, _ job: String, _ units: [JobUnit]) -> UnplacedReason.Binding? {
        guard let u = out.unplaced.first(where: { units[$0.unit].job == job }), case .noRoom(let r) = u.reason else { return nil }
        return r.binding
    }

    @Test func higherPriorityWorkIsNamed() {
        let units = [
            JobUnit(job: "low", priority: 0, shapes: [UnitShape(gpuType: "a", gpus: 4, perGPUBytes: 1 << 30)]),
            JobUnit(job: "high", priority: 2, shapes: [UnitShape(gpuType: "a", gpus: 8, perGPUBytes: 1 << 30)]),
        ]
        let out = Planner.place(units: units, servers: [Self.server])
        #expect(Self.binding(out, "low", units) == .higherPriority(count: 1, jobs: ["high"]))
        #expect(out.unplaced[0].reason.sentence.contains("held by higher-priority work (1 placement: high)"))
    }

    @Test func workOfTheSamePriorityIsNamed() {
        let shape = UnitShape(gpuType: "a", gpus: 8, perGPUBytes: 1 << 30)
        let units = [JobUnit(job: "first", shapes: [shape]), JobUnit(job: "second", shapes: [shape])]
        let out = Planner.place(units: units, servers: [Self.server])
        #expect(Self.binding(out, "second", units) == .samePriority(count: 1))
    }

    @Test func hostMemoryForOffloadIsNamed() {
        let units = [JobUnit(job: "offload", shapes: [UnitShape(gpuType: "a", gpus: 4, perGPUBytes: 1 << 30, hostBytesPerGPU: 50 << 30)])]
        let out = Planner.place(units: units, servers: [Self.server])
        #expect(Self.binding(out, "offload", units) == .hostMemory)
        #expect(out.unplaced[0].reason.sentence.contains("host memory its offload needs"))
    }

    /// Work placed before this run is not "higher-priority work": nothing in this run holds the room.
    @Test func roomTakenBeforeThisRunIsNotBlamedOnPriorities() {
        var taken = Self.server
        taken.free = [0, 1]
        let units = [JobUnit(job: "x", priority: 0, shapes: [UnitShape(gpuType: "a", gpus: 4, sameServer: true, perGPUBytes: 1 << 30)])]
        let out = Planner.place(units: units, servers: [taken])
        #expect(Self.binding(out, "x", units) == nil)
    }
}
