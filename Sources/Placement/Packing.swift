/// The packing rules as MILP columns and rows, shared by placement (`PlacementModel`) and purchase
/// (`PurchaseModel`), so both obey exactly the same rules.
///
/// Columns: `y[u,k]` (binary) says unit `u` runs with shape `k`; `x[u,k,j]` (integer) is how many
/// of that shape's tensor-parallel groups run on server `j` (a group never spans servers); for a
/// same-server shape `w[u,k,j]` (binary) puts all its groups on server `j`. Rows: a chosen shape's
/// groups add up to its group count (gang: all or nothing); each server's GPUs and host memory
/// (offload) hold what is put on it. A server that may be bought has a buy column `z`: its rows
/// read "used <= capacity x z". Only servers of the shape's GPU type with enough GPU memory get
/// columns. A shape whose groups span servers uses one network (`ServerState.network`) whose
/// fabric meets the shape's need; a server off that network can hold the unit only whole.
struct Packing {
    struct Cell {
        var server: Int
        var column: Int
        /// Groups per unit of the column (all of them for a whole-unit column).
        var groups: Int
    }

    struct Choice {
        var unit: Int
        var shape: Int
        var y: Int
        var cells: [Cell]
        /// The network binaries, when the unit has a choice of network to spread over.
        var networks: [String: Int]
    }

    var choices: [Choice] = []
    /// Each unit's `y` columns.
    var shapeColumns: [[Int]]

    /// Counts the columns a model of these units on these servers would have, stopping early past `limit`.
    static func estimatedColumns(units: [JobUnit], servers: [ServerState], limit: Int) -> Int {
        var serversOfType: [String: Int] = [:]
        for s in servers where !s.free.isEmpty { serversOfType[s.gpuType, default: 0] += 1 }
        var estimate = 0
        for unit in units {
            for shape in unit.shapes { estimate += 1 + (serversOfType[shape.gpuType] ?? 0) }
            if estimate > limit { return estimate }
        }
        return estimate
    }

    /// Adds the units' columns and the servers' rows to `milp`; `buy[j]` is server `j`'s buy column,
    /// if it is one that may be bought. Nil when the model would pass `maxColumns`.
    init?(
        into milp: inout MILP, units: [JobUnit], servers: [ServerState], buy: [Int?], maxColumns: Int,
        objective: (Int, UnitShape) -> Double
    ) {
        shapeColumns = Array(repeating: [], count: units.count)
        var serverGPU: [Int: [(Int, Double)]] = [:]
        var serverHost: [Int: [(Int, Double)]] = [:]
        // Servers by GPU type, so each shape looks only at its own type.
        var ofType: [String: [Int]] = [:]
        for (j, s) in servers.enumerated() where !s.free.isEmpty { ofType[s.gpuType, default: []].append(j) }
        for (u, unit) in units.enumerated() {
            for (k, shape) in unit.shapes.enumerated() {
                let tp = max(shape.tp, 1)
                let groups = shape.gpus / tp
                // A unit of one group, or a same-server unit, sits on one server: no network needed.
                let canSpread = !shape.sameServer && groups > 1
                // (server, most groups it can take, whether it may share the unit with other servers)
                var candidates: [(server: Int, cap: Int, network: String?)] = []
                for j in ofType[shape.gpuType] ?? [] {
                    let cap = min(Pool.capacity(servers[j], tp: tp, hostPerGPU: shape.hostBytesPerGPU, perGPU: shape.perGPUBytes), groups)
                    guard cap >= 1 else { continue }
                    let net = canSpread ? Pool.network(servers[j], for: shape) : nil
                    if net == nil && cap < groups { continue }
                    candidates.append((j, cap, net))
                }
                if candidates.isEmpty { continue }
                // Networks on which the unit could be spread, with their total capacity.
                var netCap: [String: Int] = [:]
                for c in candidates { if let n = c.network { netCap[n, default: 0] += c.cap } }
                let networks = netCap.keys.filter { netCap[$0]! >= groups }.sorted()
                let whole = candidates.filter { $0.cap == groups }
                if networks.isEmpty && whole.isEmpty { continue }
                if milp.columns.count + candidates.count + networks.count + 1 > maxColumns { return nil }
                let y = milp.addColumn(upper: 1, objective: objective(unit.priority, shape), integer: true)
                shapeColumns[u].append(y)
                var cells: [Cell] = []
                var sum: [(Int, Double)] = [(y, -Double(groups))]
                // One binary per network when there is a choice of where to spread; a server off
                // every network (or whose network is too small) takes the unit whole.
                var pick: [String: Int] = [:]
                var picks: [(Int, Double)] = []
                let chooseNetwork = networks.count > 1 || (!networks.isEmpty && whole.contains { c in c.network.map { !networks.contains($0) } ?? true })
                if chooseNetwork {
                    for n in networks {
                        let v = milp.addColumn(upper: 1, objective: 0, integer: true)
                        pick[n] = v
                        picks.append((v, 1))
                    }
                }
                for c in candidates {
                    let spread = c.network.map { networks.contains($0) } ?? false
                    if !spread && c.cap < groups { continue }
                    let per = spread ? 1 : groups
                    let col = milp.addColumn(upper: spread ? Double(c.cap) : 1, objective: 0, integer: true)
                    cells.append(Cell(server: c.server, column: col, groups: per))
                    sum.append((col, Double(per)))
                    if chooseNetwork {
                        if spread {
                            milp.addRow([(col, 1), (pick[c.network!]!, -Double(c.cap))], UInt8(ascii: "L"), 0)
                        } else {
                            picks.append((col, 1))
                        }
                    }
                    serverGPU[c.server, default: []].append((col, Double(per * tp)))
                    if shape.hostBytesPerGPU > 0 {
                        // MiB keeps the coefficients small; the plan is checked in exact bytes afterwards.
                        serverHost[c.server, default: []].append((col, Double(per * tp) * Double(shape.hostBytesPerGPU) / 1_048_576))
                    }
                }
                milp.addRow(sum, UInt8(ascii: "E"), 0)
                if chooseNetwork { milp.addRow(picks + [(y, -1)], UInt8(ascii: "E"), 0) }
                choices.append(Choice(unit: u, shape: k, y: y, cells: cells, networks: pick))
            }
        }
        for j in serverGPU.keys.sorted() {
            let gpus = Double(servers[j].free.count)
            let host = Double(servers[j].hostFree) / 1_048_576
            if let z = buy[j] {
                milp.addRow(serverGPU[j]! + [(z, -gpus)], UInt8(ascii: "L"), 0)
                if let h = serverHost[j] { milp.addRow(h + [(z, -host)], UInt8(ascii: "L"), 0) }
            } else {
                milp.addRow(serverGPU[j]!, UInt8(ascii: "L"), gpus)
                if let h = serverHost[j] { milp.addRow(h, UInt8(ascii: "L"), host) }
            }
        }
    }

    /// The solver's values as assignments, highest priority first; GPU indices are filled in by the
    /// caller (each allocation holds the right number of placeholder indices).
    func decode(_ v: [Double], _ units: [JobUnit]) -> [Assignment] {
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

    /// The column values that encode `plan` (a feasible plan, e.g. the greedy one), or nil when
    /// some placement has no column in this model.
    func start(_ plan: [Assignment], _ units: [JobUnit], columns: Int, servers: [ServerState]) -> [Double]? {
        var start = Array(repeating: 0.0, count: columns)
        for a in plan {
            guard let k = units[a.unit].shapes.firstIndex(of: a.shape), let ch = choices.first(where: { $0.unit == a.unit && $0.shape == k })
            else { return nil }
            start[ch.y] = 1
            for al in a.allocations {
                guard let cell = ch.cells.first(where: { $0.server == al.server }) else { return nil }
                let n = al.gpus.count / max(a.shape.tp, 1) / cell.groups
                start[cell.column] = Double(n)
                if cell.groups == 1, let net = Pool.network(servers[al.server], for: a.shape), let v = ch.networks[net] { start[v] = 1 }
            }
        }
        return start
    }

    /// Exact integer check of a decoded plan (the solver works in doubles): GPU counts, host
    /// memory, same-server units, and spread units on one qualifying network.
    static func valid(_ plan: [Assignment], _ servers: [ServerState]) -> Bool {
        var free = servers.map(\.free.count)
        var host = servers.map(\.hostFree)
        for a in plan {
            guard a.allocations.reduce(0, { $0 + $1.gpus.count }) == a.shape.gpus else { return false }
            if a.shape.sameServer && a.allocations.count != 1 { return false }
            if a.allocations.count > 1 {
                let nets = a.allocations.map { Pool.network(servers[$0.server], for: a.shape) }
                guard let first = nets[0], nets.allSatisfy({ $0 == first }) else { return false }
            }
            for al in a.allocations {
                free[al.server] -= al.gpus.count
                host[al.server] -= al.gpus.count * a.shape.hostBytesPerGPU
                if free[al.server] < 0 || host[al.server] < 0 { return false }
            }
        }
        return true
    }
}
