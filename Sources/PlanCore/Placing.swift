import MemoryEstimation
import Placement
import PlanModel

/// One planning run: what was placed, what could not be, and (repack) what moved.
public struct PlaceRun: Sendable {
    public struct PlacedItem: Encodable, Sendable {
        public struct Alloc: Encodable, Sendable {
            public var server: String
            public var gpus: [Int]
        }
        public var job: String
        public var replica: Int
        public var strategy: PlacementStrategy
        public var tp, pp, dp: Int
        public var gpuType: String
        public var perGpuBytes: Int
        public var hostBytes: Int
        public var allocations: [Alloc]
    }
    public struct UnplacedItem: Encodable, Sendable {
        public var job: String
        public var replica: Int
        public var reason: String
    }
    public struct Move: Encodable, Sendable {
        public var job: String
        public var from: String
        public var to: String
    }
    public struct JSON: Encodable, Sendable {
        public var placed: [PlacedItem]
        public var unplaced: [UnplacedItem]
        public var moves: [Move]?
        public var dryRun: Bool
        public var provedOptimal: Bool
        /// At most this many units (jobs, or replicas) could be placed in this run (GPU-count relaxation).
        public var upperBound: Int
        /// The solver's bound and its relative gap; absent when the solver did not run (every unit
        /// placed, or the model too large). With `solver_model` "servers" the bound is on the
        /// objective (priority-weighted units minus GPUs); with "classes" (interchangeable servers
        /// counted in classes, solved level by level) it is the most units that can be placed.
        public var bound: Double?
        public var gap: Double?
        public var solverModel: String?
    }

    public var placed: [PlacedItem] = []
    public var unplaced: [UnplacedItem] = []
    public var moves: [Move]? = nil
    public var provedOptimal = false
    public var upperBound = 0
    public var bound: Double? = nil
    public var gap: Double? = nil
    public var solverModel: String? = nil
    public var note: String? = nil

    public static func compute(_ snap: PlanningSnapshot, only: [String], repack: Bool) throws -> (PlanChanges, PlaceRun) {
        let known = Set(snap.jobs.map(\.name))
        for n in only where !known.contains(n) {
            throw CoreError.unknownJob(n, known: known.count)
        }
        let selected = only.isEmpty ? snap.jobs : snap.jobs.filter { only.contains($0.name) }
        var sizer = Sizer(catalog: snap.catalog.gpus, servers: snap.servers)
        if repack {
            return repackRun(snap, sizer: &sizer)
        }
        let units = selected.flatMap { sizer.units(for: $0, ignorePlaced: false) }
        let servers = FleetState.planner(snap.servers)
        let outcome = Planner.place(units: units, servers: servers)
        var run = PlaceRun()
        run.provedOptimal = outcome.provedOptimal
        run.upperBound = outcome.upperBound
        run.bound = outcome.solverBound
        run.gap = outcome.gap
        run.solverModel = outcome.model?.rawValue
        let adds = outcome.assignments.map { placement($0, units, snap.servers) }
        run.placed = items(adds, snap.servers)
        let idle = UnplacedReason.idleServers(snap.servers)
        run.unplaced = outcome.unplaced.map { UnplacedItem(job: units[$0.unit].job, replica: units[$0.unit].replica, reason: $0.reason.sentence(idle: idle)) }
        run.sort()
        return (PlanChanges(add: adds, replicas: trafficReplicas(selected, &sizer)), run)
    }

    /// Jobs sized by their traffic whose replica count the fleet changes: stored with the plan, so a
    /// job counts as placed once all its replicas are.
    static func trafficReplicas(_ jobs: [JobRecord], _ sizer: inout Sizer) -> [String: Int] {
        var out: [String: Int] = [:]
        // Only serving jobs that state a target carry one (a dictionary lookup, not a sizing key per job).
        for j in jobs where j.job.mode == .infer && j.job.spec["serving"]?["target"] != nil {
            if let n = sizer.trafficReplicas(for: j), n != j.job.replicas { out[j.name] = n }
        }
        return out
    }

    /// Plans every job from an empty fleet; adopts the plan when it places more units (priority by
    /// priority) or, placing as many, leaves fewer servers partly used.
    static func repackRun(_ snap: PlanningSnapshot, sizer: inout Sizer) -> (PlanChanges, PlaceRun) {
        // Pinned jobs are running work: they stay, and their GPUs stay taken.
        let movable = snap.jobs.filter { !$0.job.pinned }
        let all = Set(movable.map(\.name))
        let units = movable.flatMap { sizer.units(for: $0, ignorePlaced: true) }
        let servers = FleetState.planner(snap.servers, ignoring: all)
        let outcome = Planner.place(units: units, servers: servers)
        let levels = Array(Set(snap.jobs.map(\.job.priority))).sorted(by: >)
        func score(_ byPriority: [Int]) -> [Int] { levels.map { l in byPriority.filter { $0 == l }.count } }
        // The alternative: keep what is placed and place the pending jobs around it.
        var (incChanges, incremental) = (try? compute(snap, only: [], repack: false)) ?? (PlanChanges(), PlaceRun())
        let priorityOf = Dictionary(uniqueKeysWithValues: snap.jobs.map { ($0.name, $0.job.priority) })
        let pinnedPriorities = snap.jobs.filter(\.job.pinned).flatMap { j in j.placements.map { _ in j.job.priority } }
        let newScore = score(outcome.assignments.map { units[$0.unit].priority } + pinnedPriorities)
        let keepScore = score(snap.jobs.flatMap { j in j.placements.map { _ in j.job.priority } } + incChanges.add.map { priorityOf[$0.job]! })
        // Servers left partly used by each plan.
        var usedNew: [String: Int] = [:]
        for a in outcome.assignments { for al in a.allocations { usedNew[servers[al.server].name, default: 0] += al.gpus.count } }
        var usedKeep: [String: Int] = [:]
        for s in snap.servers { usedKeep[s.name] = s.gpuCount - s.freeGPUs }
        let serverOfGPU = gpuIndex(snap.servers)
        for p in incChanges.add { for g in p.gpuIDs { usedKeep[serverOfGPU[g]!.0, default: 0] += 1 } }
        func partly(_ used: [String: Int]) -> Int {
            snap.servers.filter { (used[$0.name] ?? 0) > 0 && used[$0.name]! < $0.gpuCount }.count
        }
        var run = PlaceRun()
        run.provedOptimal = outcome.provedOptimal
        run.upperBound = outcome.upperBound
        run.bound = outcome.solverBound
        run.gap = outcome.gap
        run.solverModel = outcome.model?.rawValue
        let better = newScore != keepScore ? !newScore.lexicographicallyPrecedes(keepScore) : partly(usedNew) < partly(usedKeep)
        guard better else {
            incremental.moves = []
            incremental.note = "the current packing is kept: a full re-plan places no more jobs and leaves no fewer servers partly used"
            incChanges.remove = []
            return (incChanges, incremental)
        }
        let adds = outcome.assignments.map { placement($0, units, snap.servers) }
        var before: [String: String] = [:]
        for j in snap.jobs { for p in j.placements { before["\(j.name)#\(p.replica)"] = describe(p.allocations) } }
        var moves: [Move] = []
        let placedItems = items(adds, snap.servers)
        for (a, placedItem) in zip(adds, placedItems) {
            let after = describe(placedItem.allocations.map { ($0.server, $0.gpus) })
            let key = "\(a.job)#\(a.replica)"
            if let b = before[key], b != after { moves.append(Move(job: a.replica > 0 ? key : a.job, from: b, to: after)) }
        }
        run.moves = moves.sorted { naturalLess($0.job, $1.job) }
        run.placed = placedItems
        let idle = UnplacedReason.idleServers(snap.servers)
        run.unplaced = outcome.unplaced.map { UnplacedItem(job: units[$0.unit].job, replica: units[$0.unit].replica, reason: $0.reason.sentence(idle: idle)) }
        run.sort()
        let removals = movable.flatMap { $0.placements.map(\.id) }
        return (PlanChanges(remove: removals, add: adds, replicas: trafficReplicas(movable, &sizer)), run)
    }

    static func describe(_ allocs: [(server: String, gpus: [Int])]) -> String {
        allocs.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")
    }

    static func placement(_ a: Assignment, _ units: [JobUnit], _ servers: [ServerInfo]) -> NewPlacement {
        let u = units[a.unit]
        var ids: [Int] = []
        for al in a.allocations {
            let slots = servers[al.server].gpus
            for g in al.gpus { ids.append(slots.first { $0.index == g }!.id) }
        }
        return NewPlacement(
            job: u.job, replica: u.replica, strategy: a.shape.strategy, tp: a.shape.tp, pp: a.shape.pp, dp: a.shape.dp,
            gpuType: a.shape.gpuType, perGPUBytes: a.shape.perGPUBytes, hostBytes: a.shape.hostBytesPerGPU * a.shape.gpus, gpuIDs: ids)
    }

    /// Where each GPU id is: (server name, index).
    static func gpuIndex(_ servers: [ServerInfo]) -> [Int: (String, Int)] {
        var where_: [Int: (String, Int)] = [:]
        for s in servers { for g in s.gpus { where_[g.id] = (s.name, g.index) } }
        return where_
    }

    static func items(_ adds: [NewPlacement], _ servers: [ServerInfo]) -> [PlacedItem] {
        let index = gpuIndex(servers)
        return adds.map { item($0, index) }
    }

    static func item(_ p: NewPlacement, _ where_: [Int: (String, Int)]) -> PlacedItem {
        var allocs: [PlacedItem.Alloc] = []
        for id in p.gpuIDs {
            let (server, idx) = where_[id]!
            if allocs.last?.server == server { allocs[allocs.count - 1].gpus.append(idx) } else { allocs.append(.init(server: server, gpus: [idx])) }
        }
        return PlacedItem(
            job: p.job, replica: p.replica, strategy: p.strategy, tp: p.tp, pp: p.pp, dp: p.dp, gpuType: p.gpuType,
            perGpuBytes: p.perGPUBytes, hostBytes: p.hostBytes, allocations: allocs)
    }

    /// The `plan place --format json` document.
    public func json(dryRun: Bool) -> JSON {
        JSON(
            placed: placed, unplaced: unplaced, moves: moves, dryRun: dryRun, provedOptimal: provedOptimal, upperBound: upperBound,
            bound: bound, gap: gap, solverModel: solverModel)
    }

    public mutating func sort() {
        placed.sort { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
        unplaced.sort { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
    }
}
