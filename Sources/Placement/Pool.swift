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

    init(_ servers: [ServerState]) {
        self.servers = servers
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
    mutating func bestFit(type: String, groups: Int, tp: Int, hostPerGPU: Int, perGPU: Int, excluding: Set<Int> = []) -> Int? {
        guard let count = buckets[type]?.count else { return nil }
        let need = groups * tp
        guard need < count else { return nil }
        for f in need..<count {
            if let s = first(in: f, of: type, where: { s, i in !excluding.contains(i) && Self.capacity(s, tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU) >= groups }) {
                return s
            }
        }
        return nil
    }

    /// The server of `type` with the most free GPUs (at least `tp`), lowest index on ties.
    mutating func largest(type: String, tp: Int, hostPerGPU: Int, perGPU: Int, excluding: Set<Int>) -> Int? {
        guard let count = buckets[type]?.count else { return nil }
        var f = count - 1
        while f >= tp {
            if let s = first(in: f, of: type, where: { s, i in !excluding.contains(i) && Self.capacity(s, tp: tp, hostPerGPU: hostPerGPU, perGPU: perGPU) >= 1 }) {
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

    /// Places one shape greedily: one server if it fits (best fit), else as few servers as
    /// possible, largest free blocks first and a best-fit server for the rest. Nil if it cannot.
    mutating func place(_ shape: UnitShape) -> [Allocation]? {
        let tp = max(shape.tp, 1)
        let h = shape.hostBytesPerGPU
        let m = shape.perGPUBytes
        if let s = bestFit(type: shape.gpuType, groups: shape.groups, tp: tp, hostPerGPU: h, perGPU: m) {
            return [Allocation(server: s, gpus: take(s, count: shape.gpus, hostPerGPU: h))]
        }
        if shape.sameServer { return nil }
        var remaining = shape.groups
        var chosen: [Allocation] = []
        var used: Set<Int> = []
        while remaining > 0 {
            if let s = bestFit(type: shape.gpuType, groups: remaining, tp: tp, hostPerGPU: h, perGPU: m, excluding: used) {
                chosen.append(Allocation(server: s, gpus: take(s, count: remaining * tp, hostPerGPU: h)))
                remaining = 0
                break
            }
            guard let s = largest(type: shape.gpuType, tp: tp, hostPerGPU: h, perGPU: m, excluding: used) else { break }
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
