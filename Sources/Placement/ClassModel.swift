/// Placement at scale as a mixed-integer program over classes, not single servers and units.
///
/// Servers that are interchangeable (same GPU type, GPUs, free GPUs, free host memory, GPU memory,
/// network and fabric) form one class with a count, and units with the same priority and shapes
/// form one class with a count, so 100,000 GPUs and 10,000 jobs make a model of a few hundred
/// columns. A server of a class is filled by a *pattern*: a maximal multiset of slots that fits its
/// free GPUs and host memory, where a slot is a whole unit (a unit on one server) or one
/// tensor-parallel group of a unit spread over servers of one network. Columns: how many servers of
/// each class take each pattern; how many whole units of each unit class and shape sit on each
/// server class; how many groups of each spread shape sit on each server class; how many units of
/// each shape are spread over each network. Rows: a class has no more servers than its count; the
/// slots used are no more than the patterns provide; a spread shape's groups on a network are its
/// group count times its units there (gang); a unit class places no more units than it has.
///
/// This is the same set of plans as `PlacementModel`'s (the same rules as `Packing`): any filling of a
/// server is contained in a maximal pattern, and any assignment of groups to group slots of one
/// network can be cut into whole units. The objectives are solved in turn, each kept as a row for
/// the next: units placed per priority level (highest first), then the fewest GPUs, then the fewest
/// wholly free servers touched (the least fragmentation: whole servers stay whole).
struct ClassModel {
    struct ServerClass {
        var members: [Int]
        var representative: ServerState
    }

    struct UnitClass {
        var members: [Int]
        var priority: Int
        var shapes: [UnitShape]
    }

    /// A slot on a server of some class: GPUs and host memory it takes.
    struct Slot: Hashable {
        var gpus: Int
        var host: Int
    }

    /// Whole units of one unit class and shape on one server class.
    struct WholeUse {
        var unitClass: Int
        var shape: Int
        var serverClass: Int
        var slot: Int
        var column: Int
    }

    /// Groups of one unit class and shape spread over one network, on one server class.
    struct GroupUse {
        var unitClass: Int
        var shape: Int
        var network: String
        var serverClass: Int
        var slot: Int
        var column: Int
    }

    /// Units of one unit class and shape spread over one network.
    struct SpreadCount {
        var unitClass: Int
        var shape: Int
        var network: String
        var column: Int
    }

    let units: [JobUnit]
    let servers: [ServerState]
    var serverClasses: [ServerClass] = []
    var unitClasses: [UnitClass] = []
    /// Per server class, its slot kinds, and its patterns as (pattern counts per slot, column).
    var slots: [[Slot]] = []
    var patterns: [[(counts: [Int], column: Int)]] = []
    var wholes: [WholeUse] = []
    var groups: [GroupUse] = []
    var spreads: [SpreadCount] = []
    var milp = MILP()

    /// Nil when a class has more patterns than `maxPatterns` (many distinct slot sizes) or the model
    /// passes `maxColumns`.
    init?(units: [JobUnit], servers: [ServerState], maxColumns: Int = 20_000, maxPatterns: Int = 2_000) {
        self.units = units
        self.servers = servers
        struct ServerKey: Hashable {
            var gpuType: String
            var gpus: Int
            var free: Int
            var host: Int
            var memory: Int
            var network: String?
            var gbps: Int
            var rdma: Bool
        }
        var serverIndex: [ServerKey: Int] = [:]
        for (j, s) in servers.enumerated() where !s.free.isEmpty {
            let key = ServerKey(
                gpuType: s.gpuType, gpus: s.gpuCount, free: s.free.count, host: s.hostFree, memory: s.gpuMemory, network: s.network, gbps: s.fabricGbps,
                rdma: s.fabricRDMA)
            if let c = serverIndex[key] {
                serverClasses[c].members.append(j)
            } else {
                serverIndex[key] = serverClasses.count
                serverClasses.append(ServerClass(members: [j], representative: s))
            }
        }
        struct UnitKey: Hashable {
            var priority: Int
            var shapes: [UnitShape]
        }
        var unitIndex: [UnitKey: Int] = [:]
        for u in units.indices.sorted(by: { (units[$0].priority, -$0) > (units[$1].priority, -$1) }) where !units[u].shapes.isEmpty {
            let key = UnitKey(priority: units[u].priority, shapes: units[u].shapes)
            if let t = unitIndex[key] {
                unitClasses[t].members.append(u)
            } else {
                unitIndex[key] = unitClasses.count
                unitClasses.append(UnitClass(members: [u], priority: units[u].priority, shapes: units[u].shapes))
            }
        }
        var classesOfType: [String: [Int]] = [:]
        for (c, sc) in serverClasses.enumerated() { classesOfType[sc.representative.gpuType, default: []].append(c) }

        // The slots each server class offers, and which (unit class, shape) uses which.
        slots = Array(repeating: [], count: serverClasses.count)
        func slot(_ c: Int, _ s: Slot) -> Int {
            if let i = slots[c].firstIndex(of: s) { return i }
            slots[c].append(s)
            return slots[c].count - 1
        }
        var wholePlan: [(t: Int, k: Int, c: Int, slot: Int, upper: Int)] = []
        var groupPlan: [(t: Int, k: Int, net: String, c: Int, slot: Int, upper: Int)] = []
        for (t, uc) in unitClasses.enumerated() {
            for (k, shape) in uc.shapes.enumerated() {
                let tp = max(shape.tp, 1)
                let canSpread = !shape.sameServer && shape.groups > 1
                for c in classesOfType[shape.gpuType] ?? [] {
                    let rep = serverClasses[c].representative
                    let cap = Pool.capacity(rep, tp: tp, hostPerGPU: shape.hostBytesPerGPU, perGPU: shape.perGPUBytes)
                    guard cap >= 1 else { continue }
                    let n = serverClasses[c].members.count
                    if canSpread, let net = Pool.network(rep, for: shape) {
                        let i = slot(c, Slot(gpus: tp, host: tp * shape.hostBytesPerGPU))
                        groupPlan.append((t, k, net, c, i, min(cap * n, shape.groups * uc.members.count)))
                    } else if cap >= shape.groups {
                        let i = slot(c, Slot(gpus: shape.gpus, host: shape.gpus * shape.hostBytesPerGPU))
                        wholePlan.append((t, k, c, i, min(n * (cap / shape.groups), uc.members.count)))
                    }
                }
            }
        }
        // Maximal patterns per class.
        var patternCounts: [[[Int]]] = []
        for (c, sc) in serverClasses.enumerated() {
            guard let ps = Self.maximalPatterns(slots[c], gpus: sc.representative.free.count, host: sc.representative.hostFree, limit: maxPatterns)
            else { return nil }
            patternCounts.append(ps)
        }
        let columnCount = patternCounts.reduce(0) { $0 + $1.count } + wholePlan.count + groupPlan.count
        if columnCount > maxColumns { return nil }

        // Columns.
        patterns = Array(repeating: [], count: serverClasses.count)
        for c in serverClasses.indices {
            for p in patternCounts[c] {
                patterns[c].append((p, milp.addColumn(upper: Double(serverClasses[c].members.count), objective: 0, integer: true)))
            }
        }
        for w in wholePlan {
            wholes.append(WholeUse(unitClass: w.t, shape: w.k, serverClass: w.c, slot: w.slot, column: milp.addColumn(upper: Double(w.upper), objective: 0, integer: true)))
        }
        for g in groupPlan {
            groups.append(
                GroupUse(
                    unitClass: g.t, shape: g.k, network: g.net, serverClass: g.c, slot: g.slot,
                    column: milp.addColumn(upper: Double(g.upper), objective: 0, integer: true)))
        }
        var spreadIndex: [String: Int] = [:]
        for g in groups {
            let key = "\(g.unitClass)|\(g.shape)|\(g.network)"
            if spreadIndex[key] == nil {
                spreadIndex[key] = spreads.count
                spreads.append(
                    SpreadCount(
                        unitClass: g.unitClass, shape: g.shape, network: g.network,
                        column: milp.addColumn(upper: Double(unitClasses[g.unitClass].members.count), objective: 0, integer: true)))
            }
        }

        // Rows: servers per class.
        for c in serverClasses.indices {
            milp.addRow(patterns[c].map { ($0.column, 1.0) }, UInt8(ascii: "L"), Double(serverClasses[c].members.count))
        }
        // Slots used <= slots provided.
        var used: [[[(Int, Double)]]] = slots.map { Array(repeating: [], count: $0.count) }
        for w in wholes { used[w.serverClass][w.slot].append((w.column, 1)) }
        for g in groups { used[g.serverClass][g.slot].append((g.column, 1)) }
        for c in serverClasses.indices {
            for i in slots[c].indices where !used[c][i].isEmpty {
                let provided = patterns[c].compactMap { p in p.counts[i] > 0 ? (p.column, -Double(p.counts[i])) : nil }
                milp.addRow(used[c][i] + provided, UInt8(ascii: "L"), 0)
            }
        }
        // Gangs: a spread shape's groups on a network are its group count times its units there.
        for s in spreads {
            let shape = unitClasses[s.unitClass].shapes[s.shape]
            let terms = groups.filter { $0.unitClass == s.unitClass && $0.shape == s.shape && $0.network == s.network }.map { ($0.column, 1.0) }
            milp.addRow(terms + [(s.column, -Double(shape.groups))], UInt8(ascii: "E"), 0)
        }
        // A unit class places at most its units.
        for t in unitClasses.indices {
            let terms = placedTerms(t)
            if !terms.isEmpty { milp.addRow(terms, UInt8(ascii: "L"), Double(unitClasses[t].members.count)) }
        }
    }

    /// The columns that count placed units of unit class `t`, with their shapes.
    func placedTerms(_ t: Int) -> [(Int, Double)] {
        wholes.filter { $0.unitClass == t }.map { ($0.column, 1.0) } + spreads.filter { $0.unitClass == t }.map { ($0.column, 1.0) }
    }

    func shapeTerms() -> [(column: Int, unitClass: Int, shape: UnitShape)] {
        wholes.map { ($0.column, $0.unitClass, unitClasses[$0.unitClass].shapes[$0.shape]) }
            + spreads.map { ($0.column, $0.unitClass, unitClasses[$0.unitClass].shapes[$0.shape]) }
    }

    /// Every maximal multiset of `slots` (counts per slot) that fits `gpus` and `host`; nil past `limit`.
    static func maximalPatterns(_ slots: [Slot], gpus: Int, host: Int, limit: Int) -> [[Int]]? {
        if slots.isEmpty { return [] }
        var out: [[Int]] = []
        var counts = Array(repeating: 0, count: slots.count)
        var visits = 0
        var overflow = false
        func visit(_ i: Int, _ g: Int, _ h: Int) {
            visits += 1
            if overflow || visits > 50 * limit {
                overflow = true
                return
            }
            if i == slots.count {
                // Maximal: nothing more fits; the empty pattern is the server left untouched.
                if counts.contains(where: { $0 > 0 }) && !slots.contains(where: { $0.gpus <= g && $0.host <= h }) {
                    out.append(counts)
                    if out.count > limit { overflow = true }
                }
                return
            }
            let s = slots[i]
            var n = g / s.gpus
            if s.host > 0 { n = min(n, h / s.host) }
            while n >= 0 {
                counts[i] = n
                visit(i + 1, g - n * s.gpus, h - n * s.host)
                n -= 1
            }
            counts[i] = 0
        }
        visit(0, gpus, host)
        return overflow ? nil : out
    }

    struct Solved {
        var assignments: [Assignment]
        /// Every stage proved optimal.
        var proved: Bool
        /// Units placed per priority level, in this plan and at most (the solver's bound per level).
        var placedPerLevel: [Int: Int]
        var boundPerLevel: [Int: Int]
    }

    /// Solves the stages in turn within `seconds` in all; nil if the solver found no plan.
    func solve(seconds: Double) -> Solved? {
        var m = milp
        var proved = true
        var values: [Double] = []
        let levels = Array(Set(unitClasses.map(\.priority))).sorted(by: >)
        let stageSeconds = max(seconds / Double(levels.count + 2), 0.5)
        let terms = shapeTerms()
        var placedPerLevel: [Int: Int] = [:]
        var boundPerLevel: [Int: Int] = [:]
        func run(_ objective: [(Int, Double)], maximize: Bool) -> Double? {
            for i in m.columns.indices { m.columns[i].objective = 0 }
            for (c, v) in objective { m.columns[c].objective += v }
            m.maximize = maximize
            let r = m.solve(seconds: stageSeconds)
            guard r.feasible else { return nil }
            if !r.proved { proved = false }
            values = r.values
            return maximize ? r.bound : r.objective
        }
        for l in levels {
            let objective = terms.filter { unitClasses[$0.unitClass].priority == l }.map { ($0.column, 1.0) }
            guard let bound = run(objective, maximize: true) else { return nil }
            let got = objective.reduce(0.0) { $0 + values[$1.0] }.rounded()
            placedPerLevel[l] = Int(got)
            boundPerLevel[l] = Int((bound + 1e-6).rounded(.down))
            // Later stages keep this level's count.
            m.addRow(objective, UInt8(ascii: "G"), got)
        }
        let gpuObjective = terms.map { ($0.column, Double($0.shape.gpus)) }
        guard run(gpuObjective, maximize: false) != nil else { return nil }
        let gpus = gpuObjective.reduce(0.0) { $0 + values[$1.0] * $1.1 }.rounded()
        m.addRow(gpuObjective, UInt8(ascii: "L"), gpus)
        // Only wholly free servers count: a partly used one is fragmented already.
        let touched = serverClasses.indices.filter { serverClasses[$0].representative.free.count == serverClasses[$0].representative.gpuCount }
            .flatMap { c in patterns[c].map { ($0.column, 1.0) } }
        let before = values
        if run(touched, maximize: false) == nil { values = before }
        return Solved(assignments: decode(values), proved: proved, placedPerLevel: placedPerLevel, boundPerLevel: boundPerLevel)
    }

    /// The solver's values as assignments (GPU indices are placeholders, filled in by the caller).
    func decode(_ v: [Double]) -> [Assignment] {
        func count(_ c: Int) -> Int { Int(v[c].rounded()) }
        // Slot instances per (server class, slot), in server order.
        var free: [[[Int]]] = slots.map { Array(repeating: [], count: $0.count) }
        for (c, sc) in serverClasses.enumerated() {
            var next = 0
            for p in patterns[c] {
                for _ in 0..<count(p.column) {
                    let server = sc.members[next]
                    next += 1
                    for (i, n) in p.counts.enumerated() { free[c][i] += Array(repeating: server, count: n) }
                }
            }
        }
        var cursor: [[Int]] = slots.map { Array(repeating: 0, count: $0.count) }
        func takeSlot(_ c: Int, _ i: Int) -> Int {
            let s = free[c][i][cursor[c][i]]
            cursor[c][i] += 1
            return s
        }
        var nextMember = Array(repeating: 0, count: unitClasses.count)
        var out: [Assignment] = []
        for w in wholes {
            let uc = unitClasses[w.unitClass]
            let shape = uc.shapes[w.shape]
            for _ in 0..<count(w.column) {
                let server = takeSlot(w.serverClass, w.slot)
                let u = uc.members[nextMember[w.unitClass]]
                nextMember[w.unitClass] += 1
                out.append(Assignment(unit: u, shape: shape, allocations: [Allocation(server: server, gpus: Array(repeating: 0, count: shape.gpus))]))
            }
        }
        for s in spreads {
            let uc = unitClasses[s.unitClass]
            let shape = uc.shapes[s.shape]
            var groupServers: [Int] = []
            for g in groups where g.unitClass == s.unitClass && g.shape == s.shape && g.network == s.network {
                for _ in 0..<count(g.column) { groupServers.append(takeSlot(g.serverClass, g.slot)) }
            }
            let n = shape.groups
            for k in 0..<count(s.column) {
                var perServer: [Int: Int] = [:]
                for server in groupServers[(k * n)..<((k + 1) * n)] { perServer[server, default: 0] += 1 }
                let u = uc.members[nextMember[s.unitClass]]
                nextMember[s.unitClass] += 1
                let allocs = perServer.keys.sorted().map { Allocation(server: $0, gpus: Array(repeating: 0, count: perServer[$0]! * max(shape.tp, 1))) }
                out.append(Assignment(unit: u, shape: shape, allocations: allocs))
            }
        }
        return out.sorted { (units[$0.unit].priority, -$0.unit) > (units[$1.unit].priority, -$1.unit) }
    }
}
