/// Exhaustive branch-and-bound for small instances: the assignment that places the most units,
/// compared priority level by priority level (a higher-priority unit outweighs any number of
/// lower ones).
///
/// Depth-first over units in priority order, trying placements before skipping, best-fit servers
/// first, so the first solutions found look like the greedy plan. A branch is cut when an optimistic
/// bound (every remaining unit that could still fit on its own, limited per priority level by the
/// free GPU count) cannot beat the best plan so far. Servers with the same type, size, memory and
/// free capacity are interchangeable, and so are replicas of one job; neither is enumerated twice.
/// Gives up after `nodeLimit` nodes, keeping the best plan found.
struct ExactSearch {
    struct Decision {
        var unit: Int
        var shape: UnitShape
        var split: [(Int, Int)]  // (server, tp-groups)
    }

    let units: [JobUnit]
    let order: [Int]
    let levels: [Int]  // distinct priorities, descending
    var free: [Int]
    var hostFree: [Int]
    let types: [String]
    let memory: [Int]
    let gpuCount: [Int]
    var nodes = 0
    let nodeLimit: Int
    var aborted = false
    var best: [Int]
    var bestDecisions: [Decision] = []
    /// Per unit: its priority level index; per shape: its GPU type index (for the fast bound).
    let levelOf: [Int]
    let typeIndex: [String: Int]
    let serverType: [Int]
    var path: [Decision] = []
    var current: [Int]

    init(units: [JobUnit], order: [Int], servers: [ServerState], nodeLimit: Int, incumbent: [Int]) {
        self.units = units
        self.order = order
        levels = Array(Set(units.map(\.priority))).sorted(by: >)
        free = servers.map(\.free.count)
        hostFree = servers.map(\.hostFree)
        types = servers.map(\.gpuType)
        memory = servers.map(\.gpuMemory)
        gpuCount = servers.map(\.gpuCount)
        self.nodeLimit = nodeLimit
        best = levels.map { l in incumbent.filter { units[$0].priority == l }.count }
        current = levels.map { _ in 0 }
        let levels = self.levels
        levelOf = units.map { u in levels.firstIndex(of: u.priority)! }
        var ti: [String: Int] = [:]
        for t in servers.map(\.gpuType) where ti[t] == nil { ti[t] = ti.count }
        typeIndex = ti
        serverType = servers.map { ti[$0.gpuType]! }
    }

    static func better(_ a: [Int], _ b: [Int]) -> Bool { a != b && !a.lexicographicallyPrecedes(b) }

    func capacity(_ s: Int, _ shape: UnitShape) -> Int {
        guard types[s] == shape.gpuType, memory[s] >= shape.perGPUBytes else { return 0 }
        var c = free[s] / shape.tp
        if shape.hostBytesPerGPU > 0 { c = min(c, hostFree[s] / (shape.hostBytesPerGPU * shape.tp)) }
        return c
    }

    /// Whether `shape` fits the current free capacity on its own.
    func fits(_ shape: UnitShape) -> Bool {
        var total = 0
        for s in 0..<free.count {
            let c = capacity(s, shape)
            if c >= shape.groups { return true }
            total += c
        }
        return !shape.sameServer && total >= shape.groups
    }

    /// Every way to spread `shape`'s tp-groups over servers, single servers first (best fit), then
    /// wider splits; identical servers are not enumerated in more than one order.
    func splits(_ shape: UnitShape) -> [[(Int, Int)]] {
        let candidates = (0..<free.count).filter { capacity($0, shape) > 0 }
        var singles: [[(Int, Int)]] = []
        var seen = Set<[Int]>()
        for s in candidates.sorted(by: { (free[$0], $0) < (free[$1], $1) }) where capacity(s, shape) >= shape.groups {
            if seen.insert([free[s], hostFree[s], memory[s], gpuCount[s]]).inserted { singles.append([(s, shape.groups)]) }
        }
        if shape.sameServer || shape.groups == 1 { return singles }
        var wide: [[(Int, Int)]] = []
        var chosen: [(Int, Int)] = []
        func identical(_ a: Int, _ b: Int) -> Bool {
            free[a] == free[b] && hostFree[a] == hostFree[b] && memory[a] == memory[b] && gpuCount[a] == gpuCount[b]
        }
        func rec(_ idx: Int, _ remaining: Int, _ prev: (Int, Int)?) {
            if remaining == 0 {
                if chosen.count > 1 { wide.append(chosen) }
                return
            }
            guard idx < candidates.count else { return }
            let s = candidates[idx]
            var upper = min(capacity(s, shape), remaining)
            if let (p, k) = prev, identical(p, s) { upper = min(upper, k) }
            var k = upper
            while k >= 0 {
                if k > 0 { chosen.append((s, k)) }
                rec(idx + 1, remaining - k, (s, k))
                if k > 0 { chosen.removeLast() }
                k -= 1
            }
        }
        rec(0, shape.groups, nil)
        wide.sort { $0.count < $1.count }
        return singles + wide
    }

    /// Current counts plus, per level, the remaining units that could still fit alone (judged by free
    /// GPU counts only, which can only overestimate), limited to as many of the smallest as the free
    /// GPUs hold.
    func bound(_ i: Int, precise: Bool) -> [Int] {
        var b = current
        var sumFree = Array(repeating: 0, count: typeIndex.count)
        var maxFree = sumFree
        for s in 0..<free.count {
            sumFree[serverType[s]] += free[s]
            maxFree[serverType[s]] = max(maxFree[serverType[s]], free[s])
        }
        let totalFree = sumFree.reduce(0, +)
        var needs: [[Int]] = levels.map { _ in [] }
        for j in i..<order.count {
            let u = units[order[j]]
            var need = Int.max
            for shape in u.shapes {
                guard let t = typeIndex[shape.gpuType] else { continue }
                let ok = (shape.sameServer || shape.groups == 1) ? maxFree[t] >= shape.gpus : sumFree[t] >= shape.gpus
                if ok && (!precise || fits(shape)) { need = min(need, shape.gpus) }
            }
            if need != Int.max { needs[levelOf[order[j]]].append(need) }
        }
        for (l, n) in needs.enumerated() where !n.isEmpty {
            var sum = 0
            for x in n.sorted() {
                sum += x
                if sum > totalFree { break }
                b[l] += 1
            }
        }
        return b
    }

    func sameJob(_ i: Int) -> Bool { i > 0 && units[order[i]].job == units[order[i - 1]].job }

    mutating func apply(_ shape: UnitShape, _ split: [(Int, Int)], sign: Int) {
        for (s, k) in split {
            free[s] -= sign * k * shape.tp
            hostFree[s] -= sign * k * shape.tp * shape.hostBytesPerGPU
        }
    }

    mutating func dfs(_ i: Int, skippedPrev: Bool) {
        if aborted { return }
        nodes += 1
        if nodes > nodeLimit {
            aborted = true
            return
        }
        if i == order.count {
            if Self.better(current, best) {
                best = current
                bestDecisions = path
            }
            return
        }
        if !Self.better(bound(i, precise: false), best) || !Self.better(bound(i, precise: true), best) { return }
        let unit = units[order[i]]
        let level = levelOf[order[i]]
        // Replicas are interchangeable: once one is skipped, the later ones are too.
        if !(skippedPrev && sameJob(i)) {
            for shape in unit.shapes {
                for split in splits(shape) {
                    apply(shape, split, sign: 1)
                    current[level] += 1
                    path.append(Decision(unit: order[i], shape: shape, split: split))
                    dfs(i + 1, skippedPrev: false)
                    path.removeLast()
                    current[level] -= 1
                    apply(shape, split, sign: -1)
                    if aborted { return }
                }
            }
        }
        dfs(i + 1, skippedPrev: i + 1 < order.count && units[order[i + 1]].job == unit.job)
    }

    /// Searches; returns the improving decisions (nil when the incumbent is already best) and
    /// whether the search finished.
    mutating func solve() -> (decisions: [Decision]?, finished: Bool) {
        dfs(0, skippedPrev: false)
        return (bestDecisions.isEmpty ? nil : bestDecisions, !aborted)
    }
}
