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

/// Free capacity with fast best-fit lookups: per GPU type, servers bucketed by free-GPU count.
/// Buckets hold stale entries lazily; an entry is valid while the server's free count equals the bucket.
struct Pool {
    var servers: [ServerState]
    var buckets: [String: [IndexHeap]] = [:]
    /// Per GPU type, the distinct networks its servers are on with their fabric, in name order.
    var fabrics: [String: [Fabric]] = [:]

    struct Fabric: Hashable, Comparable {
        var network: String
        var gbps: Int
        var rdma: Bool
        static func < (a: Fabric, b: Fabric) -> Bool { (a.network, a.gbps, a.rdma ? 1 : 0) < (b.network, b.gbps, b.rdma ? 1 : 0) }
    }

    init(_ servers: [ServerState]) {
        self.servers = servers
        var seen: [String: Set<Fabric>] = [:]
        for s in servers { if let n = s.network { seen[s.gpuType, default: []].insert(Fabric(network: n, gbps: s.fabricGbps, rdma: s.fabricRDMA)) } }
        fabrics = seen.mapValues { $0.sorted() }
        // Mutate the buckets in place: copying a bucket out and back would copy its heap on
        // every push (quadratic in the number of servers).
        for (i, s) in servers.enumerated() {
            while buckets[s.gpuType, default: []].count <= s.gpuCount { buckets[s.gpuType, default: []].append(IndexHeap()) }
            buckets[s.gpuType]![s.free.count].push(i)
        }
    }

    func isValid(_ server: Int, _ bucket: Int) -> Bool { servers[server].free.count == bucket }

    /// GPU groups of `tp` the server can still take with `hostPerGPU` bytes of host memory each
    /// and `perGPU` bytes on each GPU.
    func capacity(_ server: Int, tp: Int, hostPerGPU: Int, perGPU: Int) -> Int {
        Self.capacity(servers[server], tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU)
    }

    static func capacity(_ s: ServerState, tp: Int, hostPerGPU: Int, perGPU: Int) -> Int {
        if perGPU > s.gpuMemory { return 0 }
        var c = s.free.count / tp
        if hostPerGPU > 0 { c = min(c, s.hostFree / (hostPerGPU * tp)) }
        return c
    }

    /// The network over which `s` may share a unit of `shape` with other servers: its own, when its
    /// fabric meets the shape's need; nil when it can only hold such a unit whole.
    static func network(_ s: ServerState, for shape: UnitShape) -> String? {
        guard let n = s.network, s.fabricGbps >= shape.fabric.gbps, s.fabricRDMA || !shape.fabric.rdma else { return nil }
        return n
    }

    /// The lowest-index server in bucket `f` of `type` that passes `accept`, dropping stale entries.
    mutating func first(in f: Int, of type: String, where accept: (ServerState, Int) -> Bool) -> Int? {
        // Move the heap out (leaving an empty one) so that popping does not copy it.
        var heap = buckets[type]![f]
        buckets[type]![f] = IndexHeap()
        let servers = self.servers
        var aside: [Int] = []
        var found: Int?
        while let top = heap.top {
            if servers[top].free.count != f {
                heap.pop()
                continue
            }
            if accept(servers[top], top) {
                found = top
                break
            }
            aside.append(heap.pop()!)
        }
        for x in aside { heap.push(x) }
        buckets[type]![f] = heap
        return found
    }

    /// The server of `type` with the fewest free GPUs that still holds `groups` groups of `tp`
    /// (best fit: fill partly used servers, keep whole ones free), lowest index on ties.
    mutating func bestFit(
        type: String, groups: Int, tp: Int, hostPerGPU: Int, perGPU: Int, excluding: Set<Int> = [], on net: (ServerState) -> Bool = { _ in true }
    ) -> Int? {
        guard let count = buckets[type]?.count else { return nil }
        let need = groups * tp
        guard need < count else { return nil }
        for f in need..<count {
            if let s = first(in: f, of: type, where: { s, i in
                !excluding.contains(i) && net(s) && Self.capacity(s, tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU) >= groups
            }) {
                return s
            }
        }
        return nil
    }

    /// The server of `type` with the most free GPUs (at least `tp`), lowest index on ties.
    mutating func largest(type: String, tp: Int, hostPerGPU: Int, perGPU: Int, excluding: Set<Int>, on net: (ServerState) -> Bool) -> Int? {
        guard let count = buckets[type]?.count else { return nil }
        var f = count - 1
        while f >= tp {
            if let s = first(in: f, of: type, where: { s, i in
                !excluding.contains(i) && net(s) && Self.capacity(s, tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU) >= 1
            }) {
                return s
            }
            f -= 1
        }
        return nil
    }

    /// Takes the lowest free GPU indices of a server.
    mutating func take(_ server: Int, count: Int, hostPerGPU: Int) -> [Int] {
        let taken = Array(servers[server].free.prefix(count))
        servers[server].free.removeFirst(count)
        servers[server].hostFree -= hostPerGPU * count
        buckets[servers[server].gpuType]![servers[server].free.count].push(server)
        return taken
    }

    /// Gives GPUs back (undo of `take`).
    mutating func give(_ server: Int, gpus: [Int], hostPerGPU: Int) {
        servers[server].free = (servers[server].free + gpus).sorted()
        servers[server].hostFree += hostPerGPU * gpus.count
        buckets[servers[server].gpuType]![servers[server].free.count].push(server)
    }

    /// Places one shape greedily: one server if it fits (best fit), else spread over as few servers
    /// of one network as possible (largest free blocks first, a best-fit server for the rest),
    /// trying each network whose fabric meets the shape's need and keeping the one that takes the
    /// fewest servers (the first in name order on ties). Nil if it cannot.
    mutating func place(_ shape: UnitShape) -> [Allocation]? {
        let tp = max(shape.tp, 1)
        let h = shape.hostBytesPerGPU
        let m = shape.perGPUBytes
        if let s = bestFit(type: shape.gpuType, groups: shape.groups, tp: tp, hostPerGPU: h, perGPU: m) {
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

    /// The networks on which servers of the shape's type could share it, in name order.
    func networks(for shape: UnitShape) -> [String] {
        var out: [String] = []
        for f in fabrics[shape.gpuType] ?? [] where f.gbps >= shape.fabric.gbps && (f.rdma || !shape.fabric.rdma) {
            if out.last != f.network { out.append(f.network) }
        }
        return out
    }

    /// Spreads a shape's groups over servers of network `net`; nil (and nothing taken) if they do not hold it.
    mutating func spread(_ shape: UnitShape, on net: String) -> [Allocation]? {
        let tp = max(shape.tp, 1)
        let h = shape.hostBytesPerGPU
        let m = shape.perGPUBytes
        let onNet: (ServerState) -> Bool = { Self.network($0, for: shape) == net }
        var remaining = shape.groups
        var chosen: [Allocation] = []
        var used: Set<Int> = []
        while remaining > 0 {
            if let s = bestFit(type: shape.gpuType, groups: remaining, tp: tp, hostPerGPU: h, perGPU: m, excluding: used, on: onNet) {
                chosen.append(Allocation(server: s, gpus: take(s, count: remaining * tp, hostPerGPU: h)))
                remaining = 0
                break
            }
            guard let s = largest(type: shape.gpuType, tp: tp, hostPerGPU: h, perGPU: m, excluding: used, on: onNet) else { break }
            let k = min(capacity(s, tp: tp, hostPerGPU: h, perGPU: m), remaining)
            chosen.append(Allocation(server: s, gpus: take(s, count: k * tp, hostPerGPU: h)))
            used.insert(s)
            remaining -= k
        }
        if remaining > 0 {
            for a in chosen.reversed() { give(a.server, gpus: a.gpus, hostPerGPU: h) }
            return nil
        }
        return chosen.sorted { $0.server < $1.server }
    }
}
