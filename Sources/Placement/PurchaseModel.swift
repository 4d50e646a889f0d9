/// The exact purchase model: every unit placed under the packing rules (`Packing`) on the existing
/// servers plus candidate new servers, each with a buy binary; minimise the price of what is bought.
///
/// Candidate servers per SKU: enough to hold, alone, every unit that can use the SKU, but never
/// more than the best known plan could pay for (`upper.cost / price`), and at least as many as that
/// plan buys (so it is a feasible start). Copies of one SKU are bought in order (`z[i] >= z[i+1]`),
/// which removes the symmetric solutions.
struct PurchaseModel {
    let units: [JobUnit]
    let existing: [ServerState]
    let skus: [SKUOption]
    /// Candidate new servers: (SKU, copy number from 0).
    var copies: [(sku: Int, copy: Int)] = []
    var buyColumns: [Int] = []
    var servers: [ServerState]
    var milp = MILP()
    var packing: Packing

    init?(units: [JobUnit], existing: [ServerState], skus: [SKUOption], upper: PurchasePlan?, maxColumns: Int) {
        self.units = units
        self.existing = existing
        self.skus = skus
        var servers = existing
        for (k, sku) in skus.enumerated() {
            let alone = units.reduce(0) { acc, u in acc + (u.shapes.compactMap { sku.serversNeeded($0) }.min() ?? 0) }
            guard alone > 0 else { continue }
            let affordable = upper.map { sku.price > 0 ? $0.cost / sku.price : alone } ?? alone
            let n = max(upper?.quantities[k] ?? 0, min(alone, affordable))
            for i in 0..<n {
                copies.append((k, i))
                servers.append(sku.server(i + 1))
            }
        }
        self.servers = servers
        if Packing.estimatedColumns(units: units, servers: servers, limit: 2 * maxColumns) > 2 * maxColumns { return nil }
        var buy: [Int?] = Array(repeating: nil, count: existing.count)
        for (i, c) in copies.enumerated() {
            let z = milp.addColumn(upper: 1, objective: Double(skus[c.sku].price), integer: true)
            buyColumns.append(z)
            buy.append(z)
            if i > 0 && copies[i - 1].sku == c.sku { milp.addRow([(buyColumns[i - 1], 1), (z, -1)], UInt8(ascii: "G"), 0) }
        }
        guard let p = Packing(into: &milp, units: units, servers: servers, buy: buy, maxColumns: maxColumns, objective: { _, _ in 0 })
        else { return nil }
        packing = p
        for ys in p.shapeColumns {
            guard !ys.isEmpty else { return nil }
            milp.addRow(ys.map { ($0, 1.0) }, UInt8(ascii: "E"), 1)
        }
    }

    struct Solved {
        /// A plan cheaper than `upper`, or nil.
        var plan: PurchasePlan?
        var proved: Bool
        var bound: Double
    }

    /// `upper`: the best complete plan known, if any (CBC's first incumbent; only a cheaper plan is returned).
    func solve(seconds: Double, upper: PurchasePlan?) -> Solved {
        var start: [Double]?
        if let upper { start = self.start(upper) }
        let r = milp.solve(seconds: seconds, start: start)
        let limit = upper?.cost ?? Int.max
        guard r.feasible else { return Solved(plan: nil, proved: false, bound: r.bound) }
        let bought = copies.indices.filter { r.values[buyColumns[$0]] > 0.5 }
        let cost = bought.reduce(0) { $0 + skus[copies[$1].sku].price }
        let decoded = packing.decode(r.values, units)
        guard cost < limit, decoded.count == units.count, Packing.valid(decoded, servers) else {
            return Solved(plan: nil, proved: r.proved && cost >= limit, bound: r.bound)
        }
        return Solved(plan: plan(bought: bought, cost: cost, decoded), proved: r.proved, bound: r.bound)
    }

    /// Column values for a known plan: its k-th new server of a SKU is that SKU's copy k.
    func start(_ upper: PurchasePlan) -> [Double]? {
        var index: [Int: Int] = [:]  // upper's server index -> model server index
        var seen: [Int: Int] = [:]
        for (i, k) in upper.newServerSKU.enumerated() {
            let n = seen[k, default: 0]
            seen[k] = n + 1
            if let c = copies.firstIndex(where: { $0.sku == k && $0.copy == n }) { index[existing.count + i] = existing.count + c }
        }
        let mapped = upper.assignments.map { a -> Assignment in
            var a = a
            a.allocations = a.allocations.map { al in
                var al = al
                if al.server >= existing.count { al.server = index[al.server] ?? -1 }
                return al
            }
            return a
        }
        guard mapped.allSatisfy({ $0.allocations.allSatisfy { $0.server >= 0 } }),
            var s = packing.start(mapped, units, columns: milp.columns.count, servers: servers)
        else { return nil }
        for c in index.values { s[buyColumns[c - existing.count]] = 1 }
        return s
    }

    /// The plan the solver's values describe: the bought copies renumbered after the existing servers.
    func plan(bought: [Int], cost: Int, _ decoded: [Assignment]) -> PurchasePlan {
        // Renumber: existing servers, then the bought copies in SKU and copy order.
        var renumber: [Int: Int] = [:]
        var newServers: [ServerState] = []
        var newSKU: [Int] = []
        var counters: [Int: Int] = [:]
        for c in bought {
            let k = copies[c].sku
            counters[k, default: 0] += 1
            renumber[existing.count + c] = existing.count + newServers.count
            newServers.append(skus[k].server(counters[k]!))
            newSKU.append(k)
        }
        var pool = Pool(existing + newServers)
        let assignments = decoded.sorted { $0.unit < $1.unit }.map { a -> Assignment in
            var a = a
            a.allocations = a.allocations.map { al in
                let s = al.server >= existing.count ? renumber[al.server]! : al.server
                return Allocation(server: s, gpus: pool.take(s, count: al.gpus.count, hostPerGPU: a.shape.hostBytesPerGPU))
            }.sorted { $0.server < $1.server }
            return a
        }
        var q: [Int: Int] = [:]
        for k in newSKU { q[k, default: 0] += 1 }
        return PurchasePlan(
            quantities: q, cost: cost, newServers: newServers, newServerSKU: newSKU, assignments: assignments, unbuyable: [],
            provedOptimal: false, lowerBound: 0)
    }
}

/// The fluid relaxation of a purchase: how many servers of each SKU, with the GPUs (and host
/// memory) of each kind of server pooled, so a unit may take GPUs of several servers of its type
/// at once. Identical units are counted once with a multiplicity. Every real plan is a solution,
/// so its optimum is a lower bound on the cheapest purchase; its counts are a good first guess.
struct FluidModel {
    var milp = MILP()
    /// SKU index -> its count column.
    var countColumn: [Int: Int] = [:]
    /// Each unit's class, and each class's (shape index, count column) pairs.
    var classOf: [Int] = []
    var shapeCount: [[(shape: Int, column: Int)]] = []

    init(units: [JobUnit], existing: [ServerState], skus: [SKUOption]) {
        // Kinds of existing servers: GPU type, GPU memory, GPUs per server.
        struct Kind: Hashable {
            var type: String
            var memory: Int
            var size: Int
        }
        var kinds: [Kind: (gpus: Int, host: Int)] = [:]
        for s in existing where !s.free.isEmpty {
            let k = Kind(type: s.gpuType, memory: s.gpuMemory, size: s.gpuCount)
            kinds[k] = ((kinds[k]?.gpus ?? 0) + s.free.count, (kinds[k]?.host ?? 0) + s.hostFree)
        }
        let kindList = kinds.keys.sorted { ($0.type, $0.memory, $0.size) < ($1.type, $1.memory, $1.size) }
        var classes: [(shapes: [UnitShape], count: Int)] = []
        for u in units {
            if let i = classes.firstIndex(where: { $0.shapes == u.shapes }) {
                classes[i].count += 1
                classOf.append(i)
            } else {
                classOf.append(classes.count)
                classes.append((u.shapes, 1))
            }
        }
        // Pools: each existing kind (fixed capacity) and each SKU (capacity x its count).
        var poolGPU: [[(Int, Double)]] = Array(repeating: [], count: kindList.count + skus.count)
        var poolHost: [[(Int, Double)]] = poolGPU
        for cls in classes {
            var chosen: [(Int, Double)] = []
            shapeCount.append([])
            for (si, shape) in cls.shapes.enumerated() {
                var placed: [(Int, Double)] = []
                for (p, kind) in kindList.enumerated()
                where kind.type == shape.gpuType && kind.memory >= shape.perGPUBytes && shape.tp <= kind.size
                    && (!shape.sameServer || shape.gpus <= kind.size)
                {
                    let a = milp.addColumn(upper: Double(cls.count), objective: 0, integer: false)
                    placed.append((a, 1))
                    poolGPU[p].append((a, Double(shape.gpus)))
                    if shape.hostBytesPerGPU > 0 { poolHost[p].append((a, Double(shape.gpus * shape.hostBytesPerGPU) / 1_048_576)) }
                }
                for (k, sku) in skus.enumerated() where sku.serversNeeded(shape) != nil {
                    let p = kindList.count + k
                    let a = milp.addColumn(upper: Double(cls.count), objective: 0, integer: false)
                    placed.append((a, 1))
                    poolGPU[p].append((a, Double(shape.gpus)))
                    if shape.hostBytesPerGPU > 0 { poolHost[p].append((a, Double(shape.gpus * shape.hostBytesPerGPU) / 1_048_576)) }
                }
                if placed.isEmpty { continue }
                let t = milp.addColumn(upper: Double(cls.count), objective: 0, integer: true)
                chosen.append((t, 1))
                shapeCount[shapeCount.count - 1].append((si, t))
                milp.addRow(placed + [(t, -1)], UInt8(ascii: "E"), 0)
            }
            milp.addRow(chosen, UInt8(ascii: "E"), Double(cls.count))
        }
        for (p, kind) in kindList.enumerated() {
            milp.addRow(poolGPU[p], UInt8(ascii: "L"), Double(kinds[kind]!.gpus))
            milp.addRow(poolHost[p], UInt8(ascii: "L"), Double(kinds[kind]!.host) / 1_048_576)
        }
        for (k, sku) in skus.enumerated() where !poolGPU[kindList.count + k].isEmpty {
            let n = milp.addColumn(upper: Double(units.count * 1024), objective: Double(sku.price), integer: true)
            countColumn[k] = n
            milp.addRow(poolGPU[kindList.count + k] + [(n, -Double(sku.gpusPerServer))], UInt8(ascii: "L"), 0)
            if !poolHost[kindList.count + k].isEmpty {
                milp.addRow(poolHost[kindList.count + k] + [(n, -Double(sku.hostMemory) / 1_048_576)], UInt8(ascii: "L"), 0)
            }
        }
    }

    struct Solved {
        var bound: Double
        var proved: Bool
        /// SKU index -> count in the relaxation's optimum (nil when it found none).
        var counts: [Int: Int]?
        /// Per unit, the shape the relaxation gave it.
        var preferred: [Int?] = []
    }

    func solve(seconds: Double) -> Solved {
        let r = milp.solve(seconds: seconds)
        guard r.feasible else { return Solved(bound: 0, proved: false, counts: nil) }
        var counts: [Int: Int] = [:]
        for (k, c) in countColumn {
            let n = Int(r.values[c].rounded())
            if n > 0 { counts[k] = n }
        }
        // Hand out each class's shape counts to its units in order.
        var left = shapeCount.map { $0.map { (shape: $0.shape, n: Int(r.values[$0.column].rounded())) } }
        var preferred: [Int?] = []
        for c in classOf {
            if let i = left[c].firstIndex(where: { $0.n > 0 }) {
                left[c][i].n -= 1
                preferred.append(left[c][i].shape)
            } else {
                preferred.append(nil)
            }
        }
        return Solved(bound: max(r.bound, 0), proved: r.proved, counts: counts, preferred: preferred)
    }
}
