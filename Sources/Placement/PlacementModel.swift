/// Placement as a mixed-integer program for CBC: the packing rules of `Packing`, a unit takes at
/// most one shape, and the objective (maximised), lexicographic by its weights: each placed unit is
/// worth a weight per priority level, large enough that one unit of a level outweighs every unit
/// below it and every GPU; minus a weight per GPU used that outweighs every server (fewest GPUs
/// among the best plans); minus one per wholly free server the plan touches (the least
/// fragmentation: whole servers stay whole). A wholly free server has a binary `t` and its rows read
/// "used <= capacity x t".
struct PlacementModel {
    let units: [JobUnit]
    let servers: [ServerState]
    var milp = MILP()
    var packing: Packing
    var levelWeight: [Int: Double] = [:]
    var gpuWeight = 1.0
    /// Each wholly free server's "touched" column.
    var touched: [Int?] = []

    /// Nil when the model would be too large or its weights too large for exact arithmetic in doubles.
    init?(units: [JobUnit], servers: [ServerState], maxColumns: Int) {
        self.units = units
        self.servers = servers
        let whole = servers.map { !$0.free.isEmpty && $0.free.count == $0.gpuCount }
        let g = Double(whole.filter { $0 }.count + 1)
        let gpuTerm = Double(units.reduce(0) { $0 + ($1.shapes.map(\.gpus).max() ?? 0) } + 1) * g
        var below = 0.0
        var weights: [Int: Double] = [:]
        for l in Array(Set(units.map(\.priority))).sorted() {
            let w = below + gpuTerm
            weights[l] = w
            below += w * Double(units.filter { $0.priority == l }.count)
        }
        guard below < 1e12 else { return nil }
        levelWeight = weights
        gpuWeight = g
        // Count the columns before building anything: a fleet of thousands of servers with
        // thousands of left-over units must fall back to the greedy plan at once.
        if Packing.estimatedColumns(units: units, servers: servers, limit: 4 * maxColumns) > 4 * maxColumns { return nil }
        milp.maximize = true
        for w in whole { touched.append(w ? milp.addColumn(upper: 1, objective: -1, integer: true) : nil) }
        guard
            let p = Packing(
                into: &milp, units: units, servers: servers, buy: touched, maxColumns: maxColumns,
                objective: { weights[$0]! - g * Double($1.gpus) })
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
        let touchedCount = Set(assignments.flatMap { $0.allocations.map(\.server) }).filter { touched[$0] != nil }.count
        return assignments.reduce(0) { $0 + levelWeight[units[$1.unit].priority]! - gpuWeight * Double($1.shape.gpus) } - Double(touchedCount)
    }

    func solve(seconds: Double, greedy: [Assignment]) -> Solved {
        // The greedy plan as CBC's first incumbent.
        var start = packing.start(greedy, units, columns: milp.columns.count, servers: servers)
        if start != nil {
            for a in greedy { for al in a.allocations { if let t = touched[al.server] { start![t] = 1 } } }
        }
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
