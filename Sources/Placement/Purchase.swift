/// A server shape that can be bought.
public struct SKUOption: Sendable, Equatable {
    public var id: String
    public var gpuType: String
    public var gpusPerServer: Int
    public var gpuMemory: Int
    public var hostMemory: Int
    public var price: Int
    /// The network new servers join (as `ServerState.network`) and its fabric.
    public var network: String?
    public var fabricGbps: Int
    public var fabricRDMA: Bool

    public init(
        id: String, gpuType: String, gpusPerServer: Int, gpuMemory: Int, hostMemory: Int, price: Int, network: String? = "",
        fabricGbps: Int = 400, fabricRDMA: Bool = true
    ) {
        self.id = id
        self.gpuType = gpuType
        self.gpusPerServer = gpusPerServer
        self.gpuMemory = gpuMemory
        self.hostMemory = hostMemory
        self.price = price
        self.network = network
        self.fabricGbps = fabricGbps
        self.fabricRDMA = fabricRDMA
    }

    /// New servers of this SKU hold `shape` alone in this many servers (nil: never; a shape that
    /// needs more than one server needs a fabric that meets its need).
    public func serversNeeded(_ shape: UnitShape) -> Int? {
        guard shape.gpuType == gpuType, shape.perGPUBytes <= gpuMemory, shape.tp <= gpusPerServer else { return nil }
        var groupsPerServer = gpusPerServer / shape.tp
        if shape.hostBytesPerGPU > 0 { groupsPerServer = min(groupsPerServer, hostMemory / (shape.hostBytesPerGPU * shape.tp)) }
        guard groupsPerServer >= 1 else { return nil }
        if shape.groups <= groupsPerServer { return 1 }
        if shape.sameServer || Pool.network(server(1), for: shape) == nil { return nil }
        return (shape.groups + groupsPerServer - 1) / groupsPerServer
    }

    func server(_ n: Int) -> ServerState {
        ServerState(
            name: "new-\(id)-\(n)", gpuType: gpuType, gpuCount: gpusPerServer, free: Array(0..<gpusPerServer), hostFree: hostMemory,
            gpuMemory: gpuMemory, network: network, fabricGbps: fabricGbps, fabricRDMA: fabricRDMA)
    }
}

/// What to buy and where everything would run.
public struct PurchasePlan: Sendable, Equatable {
    /// SKU index -> servers bought.
    public var quantities: [Int: Int]
    public var cost: Int
    /// The bought servers, in order (named new-<sku>-<n>), after the existing ones.
    public var newServers: [ServerState]
    /// Which SKU each new server is.
    public var newServerSKU: [Int]
    /// Placement of every unit it holds, over existing servers then `newServers`.
    public var assignments: [Assignment]
    /// Units no purchase from the catalog can hold.
    public var unbuyable: [Unplaced]
    /// Whether the cost is proved minimal (by CBC, or by meeting the lower bound).
    public var provedOptimal: Bool
    /// A lower bound on the cost of any purchase that holds every unit: the optimum of the fluid
    /// relaxation (GPUs and host memory pooled per server kind, server walls ignored), raised by
    /// CBC's bound on the exact model when that ran.
    public var lowerBound: Int
    /// (cost - lowerBound) / cost; 0 when proved.
    public var gap: Double = 0
}

/// The cheapest multiset of server SKUs so that every unit fits on the existing free capacity plus
/// the new servers, under the planner's rules (tp groups inside a server, gangs, memory, host
/// memory, a network for units that span servers).
///
/// Three steps, each keeping the cheapest plan so far:
/// 1. Greedy: largest units first, each on capacity already there or bought at the lowest cost for
///    it alone; then a local search drops or swaps bought servers.
/// 2. The fluid relaxation (`FluidModel`, a small MILP over SKU counts with GPUs pooled): its
///    optimum is a lower bound, and its counts are tried as a purchase. When the planner packs every
///    unit onto them, the plan meets the bound and is proved optimal.
/// 3. Otherwise, when small enough, the exact model (`PurchaseModel`: the packing rules over the
///    existing servers and enough candidate servers of each SKU, each with a buy binary) is solved
///    by CBC with the best plan so far as its first incumbent.
public enum PurchasePlanner {
    public struct Options: Sendable {
        /// Exact models with more columns than this keep the heuristic plan and report the bound.
        public var maxColumns = 20_000
        /// Seconds for each CBC solve.
        public var timeLimit = 10.0
        public init() {}
    }

    public static func plan(units: [JobUnit], existing: [ServerState], skus: [SKUOption], options: Options = Options()) -> PurchasePlan {
        // Units that no SKU and no existing server could ever hold are reported, not bought for.
        var buyable: [Int] = []
        var unbuyable: [Unplaced] = []
        for (i, u) in units.enumerated() {
            let onSKU = u.shapes.contains { s in skus.contains { $0.serversNeeded(s) != nil } }
            if onSKU || Planner.place(units: [u], servers: existing).unplaced.isEmpty {
                buyable.append(i)
            } else {
                unbuyable.append(Unplaced(unit: i, reason: unbuyableReason(u, skus)))
            }
        }
        let subUnits = buyable.map { units[$0] }
        var result = greedy(subUnits, existing, skus)
        // A plan that leaves a unit out (the greedy can strand one that only fits where others went)
        // is no upper bound; any complete plan beats it.
        func better(_ p: PurchasePlan) -> Bool {
            p.unbuyable.isEmpty && (!result.unbuyable.isEmpty || p.cost < result.cost)
        }
        var bound = 0.0
        var proved = result.cost == 0 && result.unbuyable.isEmpty
        if !proved {
            let fluid = FluidModel(units: subUnits, existing: existing, skus: skus).solve(seconds: options.timeLimit)
            bound = fluid.bound
            if let counts = fluid.counts {
                let vector = counts.sorted { $0.key < $1.key }
                if let p = evaluate(subUnits, existing, skus, vector, preferred: fluid.preferred), better(p) {
                    result = p
                } else {
                    let p = greedy(subUnits, existing, skus, startingWith: counts)
                    if better(p) { result = p }
                }
            }
            let complete = result.unbuyable.isEmpty
            proved = fluid.proved && complete && Double(result.cost) <= bound + 0.5
            if !proved,
                let model = PurchaseModel(
                    units: subUnits, existing: existing, skus: skus, upper: complete ? result : nil, maxColumns: options.maxColumns)
            {
                let solved = model.solve(seconds: options.timeLimit, upper: complete ? result : nil)
                if let p = solved.plan { result = p }
                bound = max(bound, solved.bound)
                proved = result.unbuyable.isEmpty && (solved.proved || Double(result.cost) <= bound + 0.5)
            }
        }
        if proved { bound = Double(result.cost) }
        bound = min(bound, Double(result.cost))
        // Map unit indices back.
        result.assignments = result.assignments.map { var a = $0; a.unit = buyable[a.unit]; return a }
        result.unbuyable = result.unbuyable.map { var u = $0; u.unit = buyable[u.unit]; return u } + unbuyable
        result.provedOptimal = proved
        result.lowerBound = min(result.cost, Int((bound - 1e-6).rounded(.up)))
        result.gap = result.cost > 0 ? Double(result.cost - result.lowerBound) / Double(result.cost) : 0
        return result
    }

    static func unbuyableReason(_ u: JobUnit, _ skus: [SKUOption]) -> UnplacedReason {
        guard let s = u.shapes.first else { return .noShape(u.noShapeReason) }
        let sameType = skus.filter { $0.gpuType == s.gpuType }
        if sameType.isEmpty { return .noSKUOfType(gpuType: s.gpuType) }
        let biggest = sameType.map(\.gpusPerServer).max() ?? 0
        if s.tp > biggest || (s.sameServer && s.gpus > biggest) {
            return .widerThanSKUs(needs: s.sameServer ? s.gpus : s.tp, gpuType: s.gpuType, largest: biggest)
        }
        if s.gpus > biggest, sameType.allSatisfy({ Pool.network($0.server(1), for: s) == nil }) {
            return .noFabric(shape: s, largest: biggest)
        }
        return .noSKUHolds
    }

    /// The servers a purchase vector adds, in SKU order, named new-<sku>-<n>.
    static func servers(_ skus: [SKUOption], _ vector: [(Int, Int)]) -> (servers: [ServerState], sku: [Int]) {
        var out: [ServerState] = []
        var sku: [Int] = []
        for (k, n) in vector where n > 0 {
            for i in 0..<n {
                out.append(skus[k].server(i + 1))
                sku.append(k)
            }
        }
        return (out, sku)
    }

    /// The plan for buying `vector`, or nil when the planner cannot place every unit on it.
    /// `preferred[u]`: the shape to try first (the relaxation's choice); units are then placed
    /// largest first, so GPU counts that are powers of two pack servers without gaps.
    static func evaluate(
        _ units: [JobUnit], _ existing: [ServerState], _ skus: [SKUOption], _ vector: [(Int, Int)], preferred: [Int?] = []
    ) -> PurchasePlan? {
        let (newServers, newSKU) = servers(skus, vector)
        var options = Planner.Options()
        options.timeLimit = 2
        var arranged = units
        for (u, k) in preferred.enumerated() {
            guard let k else { continue }
            arranged[u].shapes.swapAt(0, k)
            arranged[u].priority = 0
        }
        // Every unit must fit, so priorities play no part; largest first (stable).
        let order = arranged.indices.sorted { (arranged[$0].shapes.first?.gpus ?? 0, -$0) > (arranged[$1].shapes.first?.gpus ?? 0, -$1) }
        var out = Planner.place(units: order.map { arranged[$0] }, servers: existing + newServers, options: options)
        guard out.unplaced.isEmpty else { return nil }
        out.assignments = out.assignments.map { var a = $0; a.unit = order[a.unit]; return a }
        var q: [Int: Int] = [:]
        for (k, n) in vector where n > 0 { q[k] = n }
        return PurchasePlan(
            quantities: q, cost: vector.reduce(0) { $0 + skus[$1.0].price * $1.1 }, newServers: newServers, newServerSKU: newSKU,
            assignments: out.assignments.sorted { $0.unit < $1.unit }, unbuyable: [], provedOptimal: false, lowerBound: 0)
    }

    /// Mutable state of the greedy purchase: the pool (existing servers, then bought ones), which
    /// SKU each bought server is, which are still bought, and each unit's assignment.
    struct BuyState {
        var pool: Pool
        let existingCount: Int
        var sku: [Int] = []  // per bought server
        var alive: [Bool] = []  // per bought server
        var assignment: [Int: Assignment] = [:]  // unit -> where
        var unitsOn: [Int: Set<Int>] = [:]  // server -> units

        mutating func buy(_ k: Int, _ option: SKUOption) -> Int {
            sku.append(k)
            alive.append(true)
            pool.add(option.server(sku.count))
            return pool.servers.count - 1
        }

        mutating func record(_ a: Assignment) {
            assignment[a.unit] = a
            for al in a.allocations { unitsOn[al.server, default: []].insert(a.unit) }
        }

        mutating func release(_ unit: Int) -> Assignment? {
            guard let a = assignment.removeValue(forKey: unit) else { return nil }
            for al in a.allocations {
                pool.give(al.server, gpus: al.gpus, hostPerGPU: a.shape.hostBytesPerGPU)
                unitsOn[al.server]?.remove(unit)
            }
            return a
        }

        mutating func restore(_ a: Assignment) {
            for al in a.allocations { pool.take(al.server, gpus: al.gpus, hostPerGPU: a.shape.hostBytesPerGPU) }
            record(a)
        }

        /// Takes a server out of use (its GPUs cannot be placed on); returns its free list to restore.
        mutating func disable(_ server: Int) -> ([Int], Int) {
            let saved = (pool.servers[server].free, pool.servers[server].hostFree)
            pool.servers[server].free = []
            pool.servers[server].hostFree = 0
            return saved
        }

        mutating func enable(_ server: Int, _ saved: ([Int], Int)) {
            pool.servers[server].free = saved.0
            pool.servers[server].hostFree = saved.1
            pool.requeue(server)
        }

        mutating func place(_ unit: Int, _ u: JobUnit) -> Bool {
            for shape in u.shapes {
                if let allocs = pool.place(shape) {
                    record(Assignment(unit: unit, shape: shape, allocations: allocs))
                    return true
                }
            }
            return false
        }
    }

    /// `startingWith`: SKU counts bought before anything is placed (a proposal to repair).
    static func greedy(_ units: [JobUnit], _ existing: [ServerState], _ skus: [SKUOption], startingWith: [Int: Int] = [:]) -> PurchasePlan {
        var st = BuyState(pool: Pool(existing), existingCount: existing.count)
        for k in startingWith.keys.sorted() { for _ in 0..<startingWith[k]! { _ = st.buy(k, skus[k]) } }
        // Place what fits on the capacity there first, keeping those placements.
        let first = Planner.place(units: units, servers: st.pool.servers)
        for a in first.assignments { st.restore(a) }
        var rest = first.unplaced.map(\.unit)
        // Largest first (by smallest GPU need), higher priority first among equals.
        rest.sort {
            let a = units[$0].shapes.map(\.gpus).min() ?? 0
            let b = units[$1].shapes.map(\.gpus).min() ?? 0
            return (a, units[$0].priority, -$0) > (b, units[$1].priority, -$1)
        }
        var unbuyable: [Unplaced] = []
        for u in rest {
            if st.place(u, units[u]) { continue }
            // Buy for this unit alone at the lowest cost, least waste.
            var best: (cost: Int, waste: Int, k: Int, m: Int)?
            for shape in units[u].shapes {
                for (k, sku) in skus.enumerated() {
                    guard let m = sku.serversNeeded(shape) else { continue }
                    let c = (m * sku.price, m * sku.gpusPerServer - shape.gpus, k, m)
                    if best == nil || (c.0, c.1, c.2) < (best!.cost, best!.waste, best!.k) { best = c }
                }
            }
            guard let b = best else {
                unbuyable.append(Unplaced(unit: u, reason: unbuyableReason(units[u], skus)))
                continue
            }
            for _ in 0..<b.m { _ = st.buy(b.k, skus[b.k]) }
            if !st.place(u, units[u]) { unbuyable.append(Unplaced(unit: u, reason: unbuyableReason(units[u], skus))) }
        }
        improve(units, skus, &st)
        return assemble(st, skus, unbuyable)
    }

    /// Local search: drop a bought server whose units fit elsewhere, or swap it for a cheaper SKU
    /// that (with the spare room elsewhere) still holds them. Partly used, expensive servers first;
    /// a fixed budget of attempts bounds the time.
    static func improve(_ units: [JobUnit], _ skus: [SKUOption], _ st: inout BuyState, budget: Int = 20_000) {
        var attempts = 0
        var improved = true
        while improved && attempts < budget {
            improved = false
            let bought = st.sku.indices.filter { st.alive[$0] }
            func used(_ b: Int) -> Int {
                let s = st.existingCount + b
                return st.pool.servers[s].gpuCount - st.pool.servers[s].free.count
            }
            let order = bought.sorted {
                (Double(used($0)) / Double(skus[st.sku[$0]].gpusPerServer), -skus[st.sku[$0]].price, $0)
                    < (Double(used($1)) / Double(skus[st.sku[$1]].gpusPerServer), -skus[st.sku[$1]].price, $1)
            }
            for b in order {
                let server = st.existingCount + b
                let touching = (st.unitsOn[server] ?? []).sorted()
                let types = Set(touching.flatMap { units[$0].shapes.map(\.gpuType) })
                let cheaper = skus.indices.filter { skus[$0].price < skus[st.sku[b]].price && types.contains(skus[$0].gpuType) }
                    .sorted { (skus[$0].price, $0) < (skus[$1].price, $1) }
                for replacement in [nil] + cheaper.map(Optional.some) {
                    attempts += 1
                    if tryReplace(units, skus, &st, bought: b, with: replacement, touching: touching) {
                        improved = true
                        break
                    }
                    if attempts >= budget { return }
                }
            }
        }
    }

    /// Replaces bought server `b` by `replacement` (or nothing) if its units then still fit.
    static func tryReplace(
        _ units: [JobUnit], _ skus: [SKUOption], _ st: inout BuyState, bought b: Int, with replacement: Int?, touching: [Int]
    ) -> Bool {
        let server = st.existingCount + b
        let old = touching.compactMap { st.release($0) }
        let saved = st.disable(server)
        var added: Int?
        if let r = replacement { added = st.buy(r, skus[r]) }
        var placed: [Int] = []
        var ok = true
        for u in touching {
            if st.place(u, units[u]) { placed.append(u) } else {
                ok = false
                break
            }
        }
        if ok {
            st.alive[b] = false
            return true
        }
        for u in placed { _ = st.release(u) }
        if let a = added {
            _ = st.disable(a)
            st.alive[a - st.existingCount] = false
        }
        st.enable(server, saved)
        for a in old { st.restore(a) }
        return false
    }

    /// The final plan: bought servers still in use, renumbered after the existing ones.
    static func assemble(_ st: BuyState, _ skus: [SKUOption], _ unbuyable: [Unplaced]) -> PurchasePlan {
        var renumber: [Int: Int] = [:]
        var newSKU: [Int] = []
        var newServers: [ServerState] = []
        var counters: [Int: Int] = [:]
        for b in st.sku.indices where st.alive[b] {
            let k = st.sku[b]
            counters[k, default: 0] += 1
            renumber[st.existingCount + b] = st.existingCount + newServers.count
            newServers.append(skus[k].server(counters[k]!))
            newSKU.append(k)
        }
        let assignments = st.assignment.keys.sorted().map { u -> Assignment in
            var a = st.assignment[u]!
            a.allocations = a.allocations.map { al in
                var x = al
                if x.server >= st.existingCount { x.server = renumber[x.server]! }
                return x
            }.sorted { $0.server < $1.server }
            return a
        }
        var q: [Int: Int] = [:]
        for k in newSKU { q[k, default: 0] += 1 }
        return PurchasePlan(
            quantities: q, cost: newSKU.reduce(0) { $0 + skus[$1].price }, newServers: newServers, newServerSKU: newSKU,
            assignments: assignments, unbuyable: unbuyable, provedOptimal: false, lowerBound: 0)
    }
}

extension Pool {
    /// Takes exactly these GPU indices of a server (replaying an earlier placement).
    mutating func take(_ server: Int, gpus: [Int], hostPerGPU: Int) {
        let taken = Set(gpus)
        servers[server].free.removeAll { taken.contains($0) }
        servers[server].hostFree -= hostPerGPU * gpus.count
        requeue(server)
    }
}
