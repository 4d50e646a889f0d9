import PlanModel

/// Places units onto free capacity, all-or-nothing per unit.
///
/// First greedily: higher priority first, then the caller's order (stable, so the same input always
/// gives the same plan); each unit takes its first shape (fewest GPUs) that can be placed, one
/// server by best fit, else as few servers as possible with every tensor-parallel group inside one
/// server. When some unit is left over and the model is small enough, the placement is solved as a
/// mixed-integer program by CBC (`PlacementModel`) with the greedy plan as its first incumbent.
public enum Planner {
    public struct Options: Sendable {
        /// The solver stops after this many seconds and keeps the best plan it found.
        public var timeLimit = 10.0
        /// Server models with more columns than this are solved over classes of servers instead.
        public var maxColumns = 40_000
        /// Which model CBC solves when some unit is left over.
        public var model: Model = .auto

        public init() {}
    }

    public enum Model: Sendable {
        /// One column per unit, shape and server while that is small (`PlacementModel`), else
        /// classes of interchangeable servers and units (`ClassModel`).
        case auto
        case servers
        case classes
        /// No solver: the greedy plan alone.
        case greedy
    }

    public static func place(units: [JobUnit], servers: [ServerState], options: Options = Options()) -> PlacementOutcome {
        let order = units.indices.sorted { (units[$0].priority, -$0) > (units[$1].priority, -$1) }
        var pool = Pool(servers)
        var assignments: [Assignment] = []
        var failed: [Int] = []
        for u in order {
            var placed = false
            for shape in units[u].shapes {
                if let allocs = pool.place(shape) {
                    assignments.append(Assignment(unit: u, shape: shape, allocations: allocs))
                    placed = true
                    break
                }
            }
            if !placed { failed.append(u) }
        }
        // Every unit placed: the most that can be placed, proved without a solver.
        var provedOptimal = failed.isEmpty
        var bound: Double?
        var gap: Double?
        var solvedBy: SolverModel?
        var better: [Assignment]?
        if !failed.isEmpty && (options.model == .auto || options.model == .servers),
            let model = PlacementModel(units: units, servers: servers, maxColumns: options.model == .servers ? 10_000_000 : options.maxColumns)
        {
            let solved = model.solve(seconds: options.timeLimit, greedy: assignments)
            bound = solved.bound
            gap = solved.gap
            provedOptimal = solved.proved
            better = solved.assignments
            solvedBy = .servers
        } else if !failed.isEmpty && (options.model == .auto || options.model == .classes), let model = ClassModel(units: units, servers: servers),
            let solved = model.solve(seconds: options.timeLimit)
        {
            solvedBy = .classes
            let placed = solved.placedPerLevel.values.reduce(0, +)
            let most = solved.boundPerLevel.values.reduce(0, +)
            bound = Double(most)
            gap = solved.proved ? 0 : Double(most - placed) / Double(max(most, 1))
            provedOptimal = solved.proved
            // The greedy plan is kept only when the model's is worse (more units level by level,
            // then fewer GPUs, is better); on a tie the model's leaves more servers whole.
            let (model, greedy) = (Self.rank(solved.assignments, units), Self.rank(assignments, units))
            if !model.lexicographicallyPrecedes(greedy) && Packing.valid(solved.assignments, servers) {
                better = solved.assignments
            } else {
                provedOptimal = false
            }
        }
        if let better {
            var exactPool = Pool(servers)
            assignments = better.map { a in
                var a = a
                a.allocations = a.allocations.map { al in
                    Allocation(server: al.server, gpus: exactPool.take(al.server, count: al.gpus.count, hostPerGPU: a.shape.hostBytesPerGPU))
                }
                return a
            }
            pool = exactPool
            let placed = Set(assignments.map(\.unit))
            failed = order.filter { !placed.contains($0) }
        }
        let summary = Reasons.Summary(pool)
        var binding = Reasons.Bindings(units: units, servers: servers, final: pool, assignments: assignments)
        let unplaced = failed.map { Unplaced(unit: $0, reason: Reasons.why(units[$0], summary, &binding)) }
        return PlacementOutcome(
            assignments: assignments, unplaced: unplaced, provedOptimal: provedOptimal, upperBound: upperBound(units, servers),
            solverBound: bound, gap: gap, model: solvedBy)
    }

    /// Units placed per priority level (highest first), then fewer GPUs: larger is better.
    static func rank(_ plan: [Assignment], _ units: [JobUnit]) -> [Int] {
        var perLevel: [Int: Int] = [:]
        for a in plan { perLevel[units[a.unit].priority, default: 0] += 1 }
        let levels = Set(units.map(\.priority)).sorted(by: >)
        return levels.map { perLevel[$0] ?? 0 } + [-plan.reduce(0) { $0 + $1.shape.gpus }]
    }

    /// Smallest-first count of units whose minimal GPU need fits the free GPUs of the types they can
    /// use, pooled: optimal for the relaxation where GPUs are fluid and servers have no walls.
    static func upperBound(_ units: [JobUnit], _ servers: [ServerState]) -> Int {
        var freeByType: [String: Int] = [:]
        for s in servers { freeByType[s.gpuType, default: 0] += s.free.count }
        var needs: [(Int, Set<String>)] = []
        for u in units {
            guard let n = u.shapes.map(\.gpus).min() else { continue }
            needs.append((n, Set(u.shapes.map(\.gpuType))))
        }
        needs.sort { $0.0 < $1.0 }
        var pool = needs.reduce(into: Set<String>()) { $0.formUnion($1.1) }.reduce(0) { $0 + (freeByType[$1] ?? 0) }
        var count = 0
        for (n, _) in needs where n <= pool {
            pool -= n
            count += 1
        }
        return count
    }
}

/// Why each unplaced unit is unplaced: what it needs against the best that is free.
enum Reasons {
    /// Free capacity per GPU type, computed once for all unplaced units.
    struct Summary {
        var servers: [String: Int] = [:]
        var freeTotal: [String: Int] = [:]
        /// The server with the most free GPUs (lowest index on ties) and its count.
        var best: [String: (name: String, free: Int)] = [:]
        /// Free GPUs per GPU type and network (with its fabric).
        var freeOnNetwork: [String: [Pool.Fabric: Int]] = [:]

        init(_ pool: Pool) {
            for s in pool.servers {
                servers[s.gpuType, default: 0] += 1
                freeTotal[s.gpuType, default: 0] += s.free.count
                if let n = s.network {
                    freeOnNetwork[s.gpuType, default: [:]][Pool.Fabric(network: n, gbps: s.fabricGbps, rdma: s.fabricRDMA), default: 0] += s.free.count
                }
                if s.free.count > (best[s.gpuType]?.free ?? 0) { best[s.gpuType] = (s.name, s.free.count) }
            }
        }
    }

    /// What holds the room of an unplaced unit's first shape: replays of this run's placements
    /// without the work of higher (or equal) priority. Cached per shape and priority, so thousands
    /// of unplaced units of a few kinds cost a few replays.
    struct Bindings {
        let units: [JobUnit]
        let servers: [ServerState]
        let final: Pool
        let assignments: [Assignment]
        /// The free capacity with only the placements of priority above a level applied.
        var above: [Int: Pool] = [:]
        /// The free capacity before this run.
        var initial: Pool?
        var cache: [Key: UnplacedReason.Binding?] = [:]

        struct Key: Hashable {
            var shape: UnitShape
            var priority: Int
        }

        init(units: [JobUnit], servers: [ServerState], final: Pool, assignments: [Assignment]) {
            self.units = units
            self.servers = servers
            self.final = final
            self.assignments = assignments
        }

        func replay(_ keep: (Int) -> Bool) -> Pool {
            var pool = Pool(servers)
            for a in assignments where keep(units[a.unit].priority) {
                for al in a.allocations { pool.take(al.server, gpus: al.gpus, hostPerGPU: a.shape.hostBytesPerGPU) }
            }
            return pool
        }

        static func fits(_ shape: UnitShape, _ pool: Pool) -> Bool {
            var p = pool
            return p.place(shape) != nil
        }

        mutating func binding(_ shape: UnitShape, priority: Int) -> UnplacedReason.Binding? {
            let key = Key(shape: shape, priority: priority)
            if let hit = cache[key] { return hit }
            var result: UnplacedReason.Binding?
            if shape.hostBytesPerGPU > 0 {
                var shapeless = shape
                shapeless.hostBytesPerGPU = 0
                if Self.fits(shapeless, final) { result = .hostMemory }
            }
            if result == nil {
                if above[priority] == nil { above[priority] = replay { $0 > priority } }
                if !Self.fits(shape, above[priority]!) {
                    // Only a unit that fits the fleet as it was before this run is kept out by this run's work.
                    if initial == nil { initial = Pool(servers) }
                    if Self.fits(shape, initial!) {
                        let holders = assignments.filter { units[$0.unit].priority > priority && $0.shape.gpuType == shape.gpuType }
                        var names: [String] = []
                        for a in holders where !names.contains(units[a.unit].job) {
                            names.append(units[a.unit].job)
                            if names.count == 3 { break }
                        }
                        if !holders.isEmpty { result = .higherPriority(count: holders.count, jobs: names) }
                    }
                } else {
                    let same = assignments.filter { units[$0.unit].priority == priority && $0.shape.gpuType == shape.gpuType }.count
                    if same > 0 { result = .samePriority(count: same) }
                }
            }
            cache[key] = result
            return result
        }
    }

    static func why(_ unit: JobUnit, _ summary: Summary, _ bindings: inout Bindings) -> UnplacedReason {
        guard let shape = unit.shapes.first else { return .noShape(unit.noShapeReason) }
        let others = unit.shapes.dropFirst().filter { $0.gpuType != shape.gpuType }
        var seen = Set<String>()
        // Enough free GPUs of the type in all, but no network that meets its fabric need has them.
        var fabricBinds = false
        if !shape.sameServer && shape.groups > 1 && (summary.freeTotal[shape.gpuType] ?? 0) >= shape.gpus {
            var perNetwork: [String: Int] = [:]
            for (f, n) in summary.freeOnNetwork[shape.gpuType] ?? [:] where f.gbps >= shape.fabric.gbps && (f.rdma || !shape.fabric.rdma) {
                perNetwork[f.network, default: 0] += n
            }
            fabricBinds = (perNetwork.values.max() ?? 0) < shape.gpus
        }
        let alts = others.filter { seen.insert($0.gpuType).inserted }.prefix(2).map { UnplacedReason.Alternative(gpus: $0.gpus, gpuType: $0.gpuType) }
        return .noRoom(
            .init(
                shape: shape, fleetHasType: summary.servers[shape.gpuType] != nil, largestFree: summary.best[shape.gpuType].map { .init(server: $0.name, free: $0.free) },
                freeOfType: summary.freeTotal[shape.gpuType] ?? 0, alternatives: Array(alts), fabricBinds: fabricBinds,
                binding: fabricBinds ? nil : bindings.binding(shape, priority: unit.priority)))
    }
}
