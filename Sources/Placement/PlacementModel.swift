/// Placement as a mixed-integer program for CBC: the packing rules of `Packing`, a unit takes at
/// most one shape, and the objective (maximised): each placed unit is worth a weight per priority
/// level, large enough that one unit of a level outweighs every unit below it and every GPU; minus
/// one per GPU used (fewest GPUs among the best plans).
struct PlacementModel {
    let units: [JobUnit]
    let servers: [ServerState]
    var milp = MILP()
    var packing: Packing
    var levelWeight: [Int: Double] = [:]

    /// Nil when the model would be too large or its weights too large for exact arithmetic in doubles.
    init?(units: [JobUnit], servers: [ServerState], maxColumns: Int) {
        self.units = units
        self.servers = servers
        let levels = Array(Set(units.map(\.priority))).sorted()
        let gpuTerm = Double(units.reduce(0) { $0 + ($1.shapes.map(\.gpus).max() ?? 0) } + 1)
        var below = 0.0
        var weights: [Int: Double] = [:]
        for l in levels {
            let w = below + gpuTerm
            weights[l] = w
            below += w * Double(units.filter { $0.priority == l }.count)
        }
        guard below < 1e12 else { return nil }
        levelWeight = weights
        // Count the columns before building anything: a fleet of thousands of servers with
        // thousands of left-over units must fall back to the greedy plan at once.
        if Packing.estimatedColumns(units: units, servers: servers, limit: 4 * maxColumns) > 4 * maxColumns { return nil }
        milp.maximize = true
        guard
            let p = Packing(
                into: &milp, units: units, servers: servers, buy: Array(repeating: nil, count: servers.count), maxColumns: maxColumns,
                objective: { weights[$0]! - Double($1.gpus) })
        else { return nil }
        packing = p
        for ys in p.shapeColumns where ys.count > 1 { milp.addRow(ys.map { ($0, 1.0) }, UInt8(ascii: "L"), 1) }
    }

    struct Solved {
        /// A plan better than the greedy one, or nil to keep the greedy plan.
        var assignments: [Assignment]?
        var proved: Bool
        var bound: Double
        var gap: Double
    }

    func value(of assignments: [Assignment]) -> Double {
        assignments.reduce(0) { $0 + levelWeight[units[$1.unit].priority]! - Double($1.shape.gpus) }
    }

    func solve(seconds: Double, greedy: [Assignment]) -> Solved {
        // The greedy plan as CBC's first incumbent.
        let start = packing.start(greedy, units, columns: milp.columns.count, servers: servers)
        let r = milp.solve(seconds: seconds, start: start)
        let greedyValue = value(of: greedy)
        var plan: [Assignment]?
        if r.feasible {
            plan = packing.decode(r.values, units)
        }
        var proved = r.proved
        if let p = plan, !Packing.valid(p, servers) {
            plan = nil
            proved = false
        }
        var best = greedyValue
        if let p = plan {
            let v = value(of: p)
            if v > greedyValue + 0.5 { best = v } else { plan = nil }
        }
        let bound = max(r.bound, best)
        let gap = proved ? 0 : (bound - best) / max(abs(bound), 1)
        return Solved(assignments: plan, proved: proved, bound: bound, gap: gap)
    }
}
