/// Placement as a mixed-integer program for CBC.
///
/// Columns: `y[u,k]` (binary) says unit `u` runs with shape `k`; `x[u,k,j]` (integer) is how many
/// of that shape's tensor-parallel groups run on server `j` (a group never spans servers); for a
/// same-server shape `w[u,k,j]` (binary) puts all its groups on server `j`. Rows: a unit takes at
/// most one shape; a chosen shape's groups add up to its group count (gang: all or nothing); each
/// server's GPUs and host memory (offload) hold what is put on it. Only servers of the shape's GPU
/// type with enough GPU memory get columns. Objective (maximised): each placed unit is worth a
/// weight per priority level, large enough that one unit of a level outweighs every unit below it
/// and every GPU; minus one per GPU used (fewest GPUs among the best plans).
struct PlacementModel {
    struct Choice {
        var unit: Int
        var shape: Int
        var y: Int
        /// (server, column, groups per unit of the column).
        var cells: [(server: Int, column: Int, groups: Int)]
    }

    let units: [JobUnit]
    let servers: [ServerState]
    var milp = MILP()
    var choices: [Choice] = []
    var levelWeight: [Int: Double] = [:]

    /// Nil when the model would be too large or its weights too large for exact arithmetic in doubles.
    init?(units: [JobUnit], servers: [ServerState], maxColumns: Int) {
        self.units = units
        self.servers = servers
        let levels = Array(Set(units.map(\.priority))).sorted()
        let gpuTerm = Double(units.reduce(0) { $0 + ($1.shapes.map(\.gpus).max() ?? 0) } + 1)
        var below = 0.0
        for l in levels {
            let w = below + gpuTerm
            levelWeight[l] = w
            below += w * Double(units.filter { $0.priority == l }.count)
        }
        guard below < 1e12 else { return nil }
        // Count the columns before building anything: a fleet of thousands of servers with
        // thousands of left-over units must fall back to the greedy plan at once.
        var serversOfType: [String: Int] = [:]
        for s in servers where !s.free.isEmpty { serversOfType[s.gpuType, default: 0] += 1 }
        var estimate = 0
        for unit in units {
            for shape in unit.shapes { estimate += 1 + (serversOfType[shape.gpuType] ?? 0) }
            if estimate > 4 * maxColumns { return nil }
        }
        milp.maximize = true
        var serverGPU: [Int: [(Int, Double)]] = [:]
        var serverHost: [Int: [(Int, Double)]] = [:]
        for (u, unit) in units.enumerated() {
            var oneShape: [(Int, Double)] = []
            for (k, shape) in unit.shapes.enumerated() {
                let tp = max(shape.tp, 1)
                let groups = shape.gpus / tp
                let whole = shape.sameServer && groups > 1
                var candidates: [(Int, Int)] = []
                for (j, s) in servers.enumerated() where s.gpuType == shape.gpuType {
                    let cap = Pool.capacity(s, tp: tp, hostPerGPU: shape.hostBytesPerGPU, perGPU: shape.perGPUBytes)
                    if cap >= (whole ? groups : 1) { candidates.append((j, min(cap, groups))) }
                }
                let total = candidates.reduce(0) { $0 + $1.1 }
                if candidates.isEmpty || (whole ? false : total < groups) { continue }
                if milp.columns.count + candidates.count + 1 > maxColumns { return nil }
                let y = milp.addColumn(upper: 1, objective: levelWeight[unit.priority]! - Double(shape.gpus), integer: true)
                oneShape.append((y, 1))
                var cells: [(server: Int, column: Int, groups: Int)] = []
                var sum: [(Int, Double)] = [(y, -Double(groups))]
                for (j, cap) in candidates {
                    let per = whole ? groups : 1
                    let c = milp.addColumn(upper: whole ? 1 : Double(cap), objective: 0, integer: true)
                    cells.append((j, c, per))
                    sum.append((c, Double(per)))
                    serverGPU[j, default: []].append((c, Double(per * tp)))
                    if shape.hostBytesPerGPU > 0 {
                        // MiB keeps the coefficients small; the plan is checked in exact bytes afterwards.
                        serverHost[j, default: []].append((c, Double(per * tp) * Double(shape.hostBytesPerGPU) / 1_048_576))
                    }
                }
                milp.addRow(sum, UInt8(ascii: "E"), 0)
                choices.append(Choice(unit: u, shape: k, y: y, cells: cells))
            }
            if oneShape.count > 1 { milp.addRow(oneShape, UInt8(ascii: "L"), 1) }
        }
        for j in serverGPU.keys.sorted() {
            milp.addRow(serverGPU[j]!, UInt8(ascii: "L"), Double(servers[j].free.count))
            if let h = serverHost[j] { milp.addRow(h, UInt8(ascii: "L"), Double(servers[j].hostFree) / 1_048_576) }
        }
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
        var start = Array(repeating: 0.0, count: milp.columns.count)
        var startOK = true
        for a in greedy {
            guard let k = units[a.unit].shapes.firstIndex(of: a.shape), let ch = choices.first(where: { $0.unit == a.unit && $0.shape == k })
            else {
                startOK = false
                break
            }
            start[ch.y] = 1
            for al in a.allocations {
                guard let cell = ch.cells.first(where: { $0.server == al.server }) else {
                    startOK = false
                    break
                }
                start[cell.column] = Double(al.gpus.count / max(a.shape.tp, 1) / cell.groups)
            }
        }
        let r = milp.solve(seconds: seconds, start: startOK ? start : nil)
        let greedyValue = value(of: greedy)
        var plan: [Assignment]?
        if r.feasible {
            plan = decode(r.values)
        }
        var proved = r.proved
        if let p = plan, !valid(p) {
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

    /// The solver's values as assignments, in priority order; GPU indices are filled in by the caller.
    func decode(_ v: [Double]) -> [Assignment] {
        var out: [Assignment] = []
        for ch in choices where v[ch.y] > 0.5 {
            let shape = units[ch.unit].shapes[ch.shape]
            let tp = max(shape.tp, 1)
            var allocs: [Allocation] = []
            for cell in ch.cells {
                let n = Int(v[cell.column].rounded())
                if n > 0 { allocs.append(Allocation(server: cell.server, gpus: Array(repeating: 0, count: n * cell.groups * tp))) }
            }
            out.append(Assignment(unit: ch.unit, shape: shape, allocations: allocs.sorted { $0.server < $1.server }))
        }
        return out.sorted { (units[$0.unit].priority, -$0.unit) > (units[$1.unit].priority, -$1.unit) }
    }

    /// Exact integer check of a decoded plan (the solver works in doubles).
    func valid(_ plan: [Assignment]) -> Bool {
        var free = servers.map(\.free.count)
        var host = servers.map(\.hostFree)
        for a in plan {
            guard a.allocations.reduce(0, { $0 + $1.gpus.count }) == a.shape.gpus else { return false }
            if a.shape.sameServer && a.allocations.count != 1 { return false }
            for al in a.allocations {
                free[al.server] -= al.gpus.count
                host[al.server] -= al.gpus.count * a.shape.hostBytesPerGPU
                if free[al.server] < 0 || host[al.server] < 0 { return false }
            }
        }
        return true
    }
}
