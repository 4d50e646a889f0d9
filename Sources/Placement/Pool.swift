/// A min-heap of server indices (lowest index = first in name order).
struct IndexHeap {
    var items: [Int] = []

    var isEmpty: Bool { items.isEmpty }
    var top: Int? { items.first }

    mutating func push(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[p] <= items[i] { break }
            items.swapAt(p, i)
            i = p
        }
    }

    @discardableResult
    mutating func pop() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(m, i)
                i = m
            }
        }
        return first
    }
}

/// Free capacity with fast best-fit lookups. Servers are grouped by GPU type and network (with its
/// fabric), and within a group bucketed by free-GPU count, so a search restricted to one network
/// never looks at the servers of another. Buckets hold stale entries lazily; an entry is valid
/// while the server's free count equals the bucket.
struct Pool {
    var servers: [ServerState]
    /// Each server's group: its GPU type on its network with its fabric (or on none).
    var groupOf: [Int] = []
    var groups: [Group] = []
    /// Per group, servers by free-GPU count.
    var buckets: [[IndexHeap]] = []
    /// Per GPU type, its groups: the one off every network first, then by fabric.
    var groupsOfType: [String: [Int]] = [:]

    struct Fabric: Hashable, Comparable {
        var network: String
        var gbps: Int
        var rdma: Bool
        static func < (a: Fabric, b: Fabric) -> Bool { (a.network, a.gbps, a.rdma ? 1 : 0) < (b.network, b.gbps, b.rdma ? 1 : 0) }
    }

    struct Group {
        var gpuType: String
        var fabric: Fabric?
    }

    init(_ servers: [ServerState]) {
        self.servers = []
        self.servers.reserveCapacity(servers.count)
        for s in servers { add(s) }
    }

    /// Adds a server (one of the fleet, or a purchase) to the pool.
    mutating func add(_ s: ServerState) {
        let fabric = s.network.map { Fabric(network: $0, gbps: s.fabricGbps, rdma: s.fabricRDMA) }
        let ids = groupsOfType[s.gpuType] ?? []
        let g: Int
        if let found = ids.first(where: { groups[$0].fabric == fabric }) {
            g = found
        } else {
            g = groups.count
            groups.append(Group(gpuType: s.gpuType, fabric: fabric))
            buckets.append([])
            groupsOfType[s.gpuType] = (ids + [g]).sorted { a, b in
                switch (groups[a].fabric, groups[b].fabric) {
                case (nil, _): return true
                case (_, nil): return false
                case (let x?, let y?): return x < y
                }
            }
        }
        servers.append(s)
        groupOf.append(g)
        // Mutate the buckets in place: copying a bucket out and back would copy its heap on
        // every push (quadratic in the number of servers).
        while buckets[g].count <= s.gpuCount { buckets[g].append(IndexHeap()) }
        requeue(servers.count - 1)
    }

    /// Files a server under its current free count (after its free GPUs changed).
    mutating func requeue(_ server: Int) {
        buckets[groupOf[server]][servers[server].free.count].push(server)
    }

    /// GPU groups of `tp` the server can still take with `hostPerGPU` bytes of host memory each
    /// and `perGPU` bytes on each GPU.
    func capacity(_ server: Int, tp: Int, hostPerGPU: Int, perGPU: Int) -> Int {
        Self.capacity(servers[server], tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU)
    }

    static func capacity(_ s: ServerState, tp: Int, hostPerGPU: Int, perGPU: Int) -> Int {
        capacity(free: s.free.count, hostFree: s.hostFree, gpuMemory: s.gpuMemory, tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU)
    }

    static func capacity(free: Int, hostFree: Int, gpuMemory: Int, tp: Int, hostPerGPU: Int, perGPU: Int) -> Int {
        if perGPU > gpuMemory { return 0 }
        var c = free / tp
        if hostPerGPU > 0 { c = min(c, hostFree / (hostPerGPU * tp)) }
        return c
    }

    /// The network over which `s` may share a unit of `shape` with other servers: its own, when its
    /// fabric meets the shape's need; nil when it can only hold such a unit whole.
    static func network(_ s: ServerState, for shape: UnitShape) -> String? {
        guard let n = s.network, s.fabricGbps >= shape.fabric.gbps, s.fabricRDMA || !shape.fabric.rdma else { return nil }
        return n
    }

    /// What a search asks of a server: room for `groups` groups of `tp` GPUs, each GPU with
    /// `perGPU` bytes and `hostPerGPU` bytes of host memory, and not one of `excluding`.
    struct Need {
        var groups: Int
        var tp: Int
        var hostPerGPU: Int
        var perGPU: Int
        var excluding: Set<Int> = []
    }

    /// The lowest-index server in bucket `f` of group `g` that meets `need`, dropping stale entries.
    mutating func first(in f: Int, group g: Int, _ need: Need) -> Int? {
        guard f < buckets[g].count else { return nil }
        // Move the heap out (leaving an empty one) so that popping does not copy it.
        var heap = buckets[g][f]
        buckets[g][f] = IndexHeap()
        var aside: [Int] = []
        var found: Int?
        while let top = heap.top {
            let free = servers[top].free.count
            if free != f {
                heap.pop()
                continue
            }
            if !need.excluding.contains(top)
                && Self.capacity(
                    free: free, hostFree: servers[top].hostFree, gpuMemory: servers[top].gpuMemory, tp: need.tp, hostPerGPU: need.hostPerGPU,
                    perGPU: need.perGPU) >= need.groups
            {
                found = top
                break
            }
            aside.append(heap.pop()!)
        }
        for x in aside { heap.push(x) }
        buckets[g][f] = heap
        return found
    }

    /// The lowest-index server with exactly `f` free GPUs in any of `ids` that meets `need`.
    mutating func first(in f: Int, groups ids: [Int], _ need: Need) -> Int? {
        var best: Int?
        for g in ids {
            if let s = first(in: f, group: g, need), s < (best ?? .max) { best = s }
        }
        return best
    }

    func widest(_ ids: [Int]) -> Int { ids.reduce(0) { max($0, buckets[$1].count) } }

    /// The server in `ids` with the fewest free GPUs that still holds the need's groups (best fit:
    /// fill partly used servers, keep whole ones free), lowest index on ties.
    mutating func bestFit(_ ids: [Int], _ need: Need) -> Int? {
        let count = widest(ids)
        let gpus = need.groups * need.tp
        guard gpus < count else { return nil }
        for f in gpus..<count {
            if let s = first(in: f, groups: ids, need) { return s }
        }
        return nil
    }

    /// The server in `ids` with the most free GPUs that holds at least one group, lowest index on ties.
    mutating func largest(_ ids: [Int], _ need: Need) -> Int? {
        var one = need
        one.groups = 1
        var f = widest(ids) - 1
        while f >= need.tp {
            if let s = first(in: f, groups: ids, one) { return s }
            f -= 1
        }
        return nil
    }

    /// Takes the lowest free GPU indices of a server.
    mutating func take(_ server: Int, count: Int, hostPerGPU: Int) -> [Int] {
        let taken = Array(servers[server].free.prefix(count))
        servers[server].free.removeFirst(count)
        servers[server].hostFree -= hostPerGPU * count
        requeue(server)
        return taken
    }

    /// Gives GPUs back (undo of `take`).
    mutating func give(_ server: Int, gpus: [Int], hostPerGPU: Int) {
        servers[server].free = (servers[server].free + gpus).sorted()
        servers[server].hostFree += hostPerGPU * gpus.count
        requeue(server)
    }

    /// Places one shape greedily: one server if it fits (best fit), else spread over as few servers
    /// of one network as possible (largest free blocks first, a best-fit server for the rest),
    /// trying each network whose fabric meets the shape's need and keeping the one that takes the
    /// fewest servers (the first in name order on ties). Nil if it cannot.
    mutating func place(_ shape: UnitShape) -> [Allocation]? {
        let h = shape.hostBytesPerGPU
        let need = Need(groups: shape.groups, tp: max(shape.tp, 1), hostPerGPU: h, perGPU: shape.perGPUBytes)
        if let s = bestFit(groupsOfType[shape.gpuType] ?? [], need) {
            return [Allocation(server: s, gpus: take(s, count: shape.gpus, hostPerGPU: h))]
        }
        if shape.sameServer || shape.groups < 2 { return nil }
        let networks = networks(for: shape)
        var best: (servers: Int, network: String)?
        if networks.count > 1 {
            for n in networks {
                guard let allocs = spread(shape, on: n) else { continue }
                for a in allocs { give(a.server, gpus: a.gpus, hostPerGPU: h) }
                if best == nil || allocs.count < best!.servers { best = (allocs.count, n) }
            }
        } else if let n = networks.first {
            best = (0, n)
        }
        guard let n = best?.network else { return nil }
        return spread(shape, on: n)
    }

    /// The groups of the shape's type on a network whose fabric meets its need, in fabric order.
    func qualifying(_ shape: UnitShape) -> [Int] {
        (groupsOfType[shape.gpuType] ?? []).filter { g in
            guard let f = groups[g].fabric else { return false }
            return f.gbps >= shape.fabric.gbps && (f.rdma || !shape.fabric.rdma)
        }
    }

    /// The networks on which servers of the shape's type could share it, in name order.
    func networks(for shape: UnitShape) -> [String] {
        var out: [String] = []
        for g in qualifying(shape) where out.last != groups[g].fabric!.network { out.append(groups[g].fabric!.network) }
        return out
    }

    /// Spreads a shape's groups over servers of network `net`; nil (and nothing taken) if they do not hold it.
    mutating func spread(_ shape: UnitShape, on net: String) -> [Allocation]? {
        let tp = max(shape.tp, 1)
        let h = shape.hostBytesPerGPU
        let ids = qualifying(shape).filter { groups[$0].fabric!.network == net }
        var need = Need(groups: shape.groups, tp: tp, hostPerGPU: h, perGPU: shape.perGPUBytes)
        var chosen: [Allocation] = []
        while need.groups > 0 {
            if let s = bestFit(ids, need) {
                chosen.append(Allocation(server: s, gpus: take(s, count: need.groups * tp, hostPerGPU: h)))
                need.groups = 0
                break
            }
            guard let s = largest(ids, need) else { break }
            let k = min(capacity(s, tp: tp, hostPerGPU: h, perGPU: need.perGPU), need.groups)
            chosen.append(Allocation(server: s, gpus: take(s, count: k * tp, hostPerGPU: h)))
            need.excluding.insert(s)
            need.groups -= k
        }
        if need.groups > 0 {
            for a in chosen.reversed() { give(a.server, gpus: a.gpus, hostPerGPU: h) }
            return nil
        }
        return chosen.sorted { $0.server < $1.server }
    }
}
