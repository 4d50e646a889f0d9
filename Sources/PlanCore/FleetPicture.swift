import MemoryEstimation
import Placement
import PlanModel

/// How a unit of a job is split over its GPUs, as a placement stores it.
public struct PlacementSplit: Encodable, Sendable, Hashable {
    public var strategy: PlacementStrategy
    public var tp, pp, dp: Int

    public init(strategy: PlacementStrategy, tp: Int, pp: Int, dp: Int) {
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
        self.dp = dp
    }

    /// "zero2, dp 2, tp 1, pp 1"; a pre-sized job's is "sized".
    public var label: String { strategy == .sized ? "sized" : "\(strategy.rawValue), dp \(dp), tp \(tp), pp \(pp)" }
}

/// Per-GPU memory against the GPU's: the line a job may fill (its memory less the headroom kept).
public enum MemoryLine {
    /// The bytes a job may use on a GPU of `memoryBytes` keeping `headroom` (a fraction) free.
    public static func usable(_ memoryBytes: Int, headroom: Double) -> Int { Int(Double(memoryBytes) * (1 - headroom)) }
}

/// `plan report`: the whole fleet as plain values for one page: the map of every GPU and what holds
/// it, capacity per GPU type, each job's memory, the purchase gap and the jobs that do not fit.
/// Everything the page shows is computed here (or by the use cases it calls); Reports only lays it out.
public struct FleetPicture: Sendable {
    /// One GPU of the map.
    public struct Cell: Encodable, Sendable {
        public var gpu: Int
        public var job: String?
        /// Which replica, for a job of several.
        public var replica: Int?
        public var perGpuBytes: Int?
        public var split: String?
        public var pinned: Bool
        /// The job's position in the legend (its colour); nil when free.
        public var key: Int?
    }
    /// One server, cell by cell.
    public struct ServerRow: Encodable, Sendable {
        public var name: String
        public var gpuType: String
        public var gpus, freeGpus: Int
        public var pinned: Bool
        public var cells: [Cell]
    }
    /// Servers of one rack (or site) with the same GPU type and count and as many GPUs held, drawn as one row.
    public struct FoldedRow: Encodable, Sendable {
        public var gpuType: String
        public var gpusPerServer: Int
        public var servers: Int
        public var heldGpus, pinnedGpus: Int
        /// Of each server's GPUs: held by pinned work, held by other work (fractions of 1).
        public var pinnedFraction, heldFraction: Double
        /// The first and last server of the group in natural order.
        public var first, last: String
    }
    public struct Rack: Encodable, Sendable {
        /// "" when the servers have none; "(all racks)" when the map folds by site.
        public var name: String
        public var servers, gpus, freeGpus: Int
        public var rows: [ServerRow]
        public var folded: [FoldedRow]
    }
    public struct Site: Encodable, Sendable {
        public var name: String
        public var servers, gpus, freeGpus: Int
        public var racks: [Rack]
    }
    /// How the map is drawn: every GPU a cell while the fleet has at most `cellLimit` GPUs, else
    /// servers folded by rack (or by site when racks alone leave more than `foldLimit` rows).
    public enum Fold: String, Encodable, Sendable { case none, rack, site }
    public struct Map: Encodable, Sendable {
        public var fold: Fold
        public var cellLimit: Int
        public var servers, gpus, freeGpus: Int
        public var rows: Int
        public var sites: [Site]
    }
    /// A job in the map's legend.
    public struct LegendEntry: Encodable, Sendable {
        public var key: Int
        public var job: String
        public var pinned: Bool
        public var gpus: Int
    }
    public struct Component: Encodable, Sendable, Hashable {
        public var name: String
        public var bytes: Int

        public init(name: String, bytes: Int) {
            self.name = name
            self.bytes = bytes
        }

        /// An estimate's bytes per GPU, part by part; a serving reservation beyond the parts (vLLM's
        /// `--gpu-memory-utilization`) is one more part, "reserved", so the parts add up to the total.
        public static func parts(of e: MemoryEstimate) -> [Component] {
            var parts = [
                ("weights", e.weights), ("gradients", e.gradients), ("optimizer_states", e.optimizerStates),
                ("master_weights", e.masterWeights), ("activations", e.activations), ("kv_cache", e.kvCache),
                ("overhead", e.overhead),
            ].map { Component(name: $0.0, bytes: $0.1) }
            if e.total > e.componentsTotal { parts.append(Component(name: "reserved", bytes: e.total - e.componentsTotal)) }
            return parts
        }
    }
    /// One job's (or several identical jobs') bytes per GPU against its GPU.
    public struct MemoryBar: Encodable, Sendable {
        public var jobs: [String]
        /// How many jobs share this bar (`jobs` lists at most 10 of them).
        public var jobCount: Int
        public var placed: Bool
        public var gpuType: String
        public var split: String
        public var components: [Component]
        public var totalBytes: Int
        public var gpuMemoryBytes: Int
        public var usableBytes: Int
        public var headroomFraction: Double
        /// The largest component.
        public var dominant: String
        public var fits: Bool
    }
    public struct Memory: Encodable, Sendable {
        public var bars: [MemoryBar]
        /// Jobs without a bar: no GPU type in the fleet holds them (their reason is under unplaced).
        public var unsized: [String]
        /// Whether identical bars are drawn once for several jobs (more than `barLimit` jobs).
        public var grouped: Bool
        /// Bars left out beyond `barLimit`, and the jobs they stand for.
        public var omittedBars, omittedJobs: Int
        /// The bytes the widest bar spans (the largest of the GPUs' memories and the totals).
        public var scaleBytes: Int
    }
    public struct Unplaced: Encodable, Sendable {
        public var job: String
        /// Replicas (units) of the job that do not fit.
        public var units: Int
        public var reason: String
    }

    public var map: Map
    public var legend: [LegendEntry]
    public var capacity: CapacityReport
    public var memory: Memory
    public var gaps: GapReport
    /// Pending jobs that do not fit the free capacity, per job, with the first unit's reason.
    public var unplaced: [Unplaced]
    public var omittedUnplaced: Int
    /// Pending jobs (or replicas) that would fit the free capacity now (`plan place` places them).
    public var fitsNow: [String]

    /// The defaults: cells up to 4,096 GPUs; at most 2,000 folded rows before folding by site; a
    /// bar per job up to 100 jobs, then identical bars grouped, at most 100 of them; 500 unplaced jobs.
    public static func compute(
        _ snap: PlanningSnapshot, cellLimit: Int = 4096, foldLimit: Int = 2000, barLimit: Int = 100, unplacedLimit: Int = 500
    ) throws -> FleetPicture {
        let jobs = Dictionary(snap.jobs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var placements: [String: PlacementRecord] = [:]
        for j in snap.jobs { for p in j.placements { placements["\(j.name)#\(p.replica)"] = p } }
        let legendJobs = snap.jobs.filter { !$0.placements.isEmpty }.map(\.name).sorted(by: naturalLess)
        let keyOf = Dictionary(uniqueKeysWithValues: legendJobs.enumerated().map { ($1, $0 + 1) })
        var held: [String: Int] = [:]
        for s in snap.servers { for g in s.gpus { if let j = g.job { held[j, default: 0] += 1 } } }
        let legend = legendJobs.map {
            LegendEntry(key: keyOf[$0]!, job: $0, pinned: jobs[$0]?.job.pinned ?? false, gpus: held[$0] ?? 0)
        }
        let map = fleetMap(
            snap.servers, jobs: jobs, placements: placements, keyOf: keyOf, cellLimit: cellLimit, foldLimit: foldLimit)

        var sizer = Sizer(catalog: snap.catalog.gpus, servers: snap.servers)
        let memory = memorySection(snap, sizer: &sizer, barLimit: barLimit)
        let gaps = try GapReport.compute(snap, whatIf: false)
        let (_, dry) = try PlaceRun.compute(snap, only: [], repack: false)
        var byJob: [(String, Int, String)] = []
        for u in dry.unplaced {
            if let last = byJob.last, last.0 == u.job {
                byJob[byJob.count - 1].1 += 1
            } else {
                byJob.append((u.job, 1, u.reason))
            }
        }
        let unplaced = byJob.prefix(unplacedLimit).map { Unplaced(job: $0.0, units: $0.1, reason: $0.2) }
        let fitsNow = dry.placed.map {
            $0.replica > 0 || jobs[$0.job].map { $0.job.replicas > 1 } == true ? "\($0.job)#\($0.replica)" : $0.job
        }
        return FleetPicture(
            map: map, legend: legend, capacity: CapacityReport.compute(snap.servers, perServer: false), memory: memory,
            gaps: gaps,
            unplaced: unplaced, omittedUnplaced: byJob.count - unplaced.count, fitsNow: Array(fitsNow.prefix(unplacedLimit)))
    }

    static func fleetMap(
        _ servers: [ServerInfo], jobs: [String: JobRecord], placements: [String: PlacementRecord], keyOf: [String: Int],
        cellLimit: Int,
        foldLimit: Int
    ) -> Map {
        let totalGPUs = servers.reduce(0) { $0 + $1.gpuCount }
        let totalFree = servers.reduce(0) { $0 + $1.freeGPUs }
        var fold: Fold = totalGPUs <= cellLimit ? .none : .rack
        let bySite = Dictionary(grouping: servers, by: \.site)
        let siteNames = bySite.keys.sorted(by: naturalLess)
        func pinned(_ g: GPUSlot) -> Bool { g.job.flatMap { jobs[$0]?.job.pinned } ?? false }
        func folded(_ group: [ServerInfo]) -> [FoldedRow] {
            struct Key: Hashable { var type: String, gpus: Int, held: Int, pinned: Int }
            var rows: [Key: FoldedRow] = [:]
            for s in group {
                let h = s.gpuCount - s.freeGPUs
                let p = s.gpus.count(where: pinned)
                let k = Key(type: s.gpuType, gpus: s.gpuCount, held: h, pinned: p)
                if rows[k] == nil {
                    rows[k] = FoldedRow(
                        gpuType: s.gpuType, gpusPerServer: s.gpuCount, servers: 0, heldGpus: h, pinnedGpus: p,
                        pinnedFraction: Double(p) / Double(max(s.gpuCount, 1)),
                        heldFraction: Double(h - p) / Double(max(s.gpuCount, 1)),
                        first: s.name, last: s.name)
                }
                rows[k]!.servers += 1
                if naturalLess(s.name, rows[k]!.first) { rows[k]!.first = s.name }
                if naturalLess(rows[k]!.last, s.name) { rows[k]!.last = s.name }
            }
            return rows.values.sorted {
                ($0.gpuType, $1.heldGpus, $1.pinnedGpus, $0.gpusPerServer) < (
                    $1.gpuType, $0.heldGpus, $0.pinnedGpus, $1.gpusPerServer
                )
            }
        }
        func row(_ s: ServerInfo) -> ServerRow {
            let cells = s.gpus.sorted { $0.index < $1.index }.map { g -> Cell in
                guard let j = g.job else { return Cell(gpu: g.index, pinned: false) }
                let p = placements["\(j)#\(g.replica ?? 0)"]
                let split = p.map { PlacementSplit(strategy: $0.strategy, tp: $0.tp, pp: $0.pp, dp: $0.dp).label }
                let replica = (jobs[j]?.job.replicas ?? 1) > 1 || (g.replica ?? 0) > 0 ? g.replica : nil
                return Cell(
                    gpu: g.index, job: j, replica: replica, perGpuBytes: p?.perGPUBytes, split: split, pinned: pinned(g),
                    key: keyOf[j])
            }
            return ServerRow(
                name: s.name, gpuType: s.gpuType, gpus: s.gpuCount, freeGpus: s.freeGPUs, pinned: cells.contains(where: \.pinned),
                cells: cells)
        }
        func rack(_ name: String, _ group: [ServerInfo]) -> Rack {
            let sorted = group.sorted { naturalLess($0.name, $1.name) }
            return Rack(
                name: name, servers: group.count, gpus: group.reduce(0) { $0 + $1.gpuCount },
                freeGpus: group.reduce(0) { $0 + $1.freeGPUs },
                rows: fold == .none ? sorted.map(row) : [], folded: fold == .none ? [] : folded(group))
        }
        func sites() -> [Site] {
            siteNames.map { name in
                let group = bySite[name]!
                let racks: [Rack]
                if fold == .site {
                    racks = [rack("(all racks)", group)]
                } else {
                    let byRack = Dictionary(grouping: group, by: \.rack)
                    racks = byRack.keys.sorted(by: naturalLess).map { rack($0, byRack[$0]!) }
                }
                return Site(
                    name: name, servers: group.count, gpus: group.reduce(0) { $0 + $1.gpuCount },
                    freeGpus: group.reduce(0) { $0 + $1.freeGPUs }, racks: racks)
            }
        }
        var result = sites()
        var rows = result.reduce(0) { $0 + $1.racks.reduce(0) { $0 + $1.rows.count + $1.folded.count } }
        if fold == .rack && rows > foldLimit {
            fold = .site
            result = sites()
            rows = result.reduce(0) { $0 + $1.racks.reduce(0) { $0 + $1.rows.count + $1.folded.count } }
        }
        return Map(
            fold: fold, cellLimit: cellLimit, servers: servers.count, gpus: totalGPUs, freeGpus: totalFree, rows: rows,
            sites: result)
    }

    static func memorySection(_ snap: PlanningSnapshot, sizer: inout Sizer, barLimit: Int) -> Memory {
        let gpuByID = Dictionary(snap.catalog.gpus.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        struct Key: Hashable { var gpu: String, split: PlacementSplit, sizing: Sizer.SizingKey }
        var cache: [Key: (MemoryEstimate, Double)?] = [:]
        var bars: [MemoryBar] = []
        var unsized: [String] = []
        for j in snap.jobs.sorted(by: { naturalLess($0.name, $1.name) }) {
            let first = j.placements.min { $0.replica < $1.replica }
            let shape = first == nil ? sizer.firstShape(for: j) : nil
            guard let gpuType = first?.gpuType ?? shape?.gpuType, let gpu = gpuByID[gpuType] else {
                unsized.append(j.name)
                continue
            }
            let split =
                first.map { PlacementSplit(strategy: $0.strategy, tp: $0.tp, pp: $0.pp, dp: $0.dp) }
                ?? PlacementSplit(strategy: shape!.strategy, tp: shape!.tp, pp: shape!.pp, dp: shape!.dp)
            var components: [Component]
            var headroom: Double
            if j.job.kind == .sized {
                components = [Component(name: "requested", bytes: j.job.gpuMemoryBytes ?? 0)]
                headroom = j.job.headroom ?? Headroom.sized
            } else {
                let key = Key(gpu: gpuType, split: split, sizing: sizer.sizingKey(j))
                if cache[key] == nil { cache[key] = .some(sizer.breakdown(for: j, gpu: gpu, split: split)) }
                guard let (e, h) = cache[key]! else {
                    unsized.append(j.name)
                    continue
                }
                components = Component.parts(of: e)
                headroom = h
            }
            let total = components.reduce(0) { $0 + $1.bytes }
            let usable = MemoryLine.usable(gpu.memoryBytes, headroom: headroom)
            let dominant = components.max { ($0.bytes, $1.name) < ($1.bytes, $0.name) }!.name
            bars.append(
                MemoryBar(
                    jobs: [j.name], jobCount: 1, placed: first != nil, gpuType: gpuType, split: split.label,
                    components: components,
                    totalBytes: total, gpuMemoryBytes: gpu.memoryBytes, usableBytes: usable, headroomFraction: headroom,
                    dominant: dominant,
                    fits: total <= usable))
        }
        let grouped = bars.count > barLimit
        if grouped {
            struct Same: Hashable { var placed: Bool, gpu: String, split: String, components: [Component], headroom: Double }
            var index: [Same: Int] = [:]
            var merged: [MemoryBar] = []
            for b in bars {
                let k = Same(
                    placed: b.placed, gpu: b.gpuType, split: b.split, components: b.components, headroom: b.headroomFraction)
                if let i = index[k] {
                    merged[i].jobCount += 1
                    if merged[i].jobs.count < 10 { merged[i].jobs.append(b.jobs[0]) }
                } else {
                    index[k] = merged.count
                    merged.append(b)
                }
            }
            bars = merged.sorted { $0.jobCount != $1.jobCount ? $0.jobCount > $1.jobCount : naturalLess($0.jobs[0], $1.jobs[0]) }
        }
        let kept = Array(bars.prefix(barLimit))
        let omitted = bars.dropFirst(barLimit)
        let scale = kept.reduce(1) { max($0, $1.gpuMemoryBytes, $1.totalBytes) }
        return Memory(
            bars: kept, unsized: unsized, grouped: grouped, omittedBars: omitted.count,
            omittedJobs: omitted.reduce(0) { $0 + $1.jobCount },
            scaleBytes: scale)
    }
}
