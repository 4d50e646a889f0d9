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
        /// Models with more columns than this are left to the greedy plan.
        public var maxColumns = 40_000

        public init() {}
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
        if !failed.isEmpty, let model = PlacementModel(units: units, servers: servers, maxColumns: options.maxColumns) {
            let solved = model.solve(seconds: options.timeLimit, greedy: assignments)
            bound = solved.bound
            gap = solved.gap
            provedOptimal = solved.proved
            if let better = solved.assignments {
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
        }
        let summary = Reasons.Summary(pool)
        let unplaced = failed.map { Unplaced(unit: $0, reason: Reasons.why(units[$0], summary)) }
        return PlacementOutcome(
            assignments: assignments, unplaced: unplaced, provedOptimal: provedOptimal, upperBound: upperBound(units, servers),
            solverBound: bound, gap: gap)
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

    static func why(_ unit: JobUnit, _ summary: Summary) -> UnplacedReason {
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
                freeOfType: summary.freeTotal[shape.gpuType] ?? 0, alternatives: Array(alts), fabricBinds: fabricBinds))
    }
}
