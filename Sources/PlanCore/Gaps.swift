import MemoryEstimation
import Placement
import PlanModel

/// The purchase gap: what to buy, which jobs drive it, and the alternatives per job.
public struct GapReport: Sendable {
    public struct Line: Encodable, Sendable {
        public var serverSku: String
        public var gpu: String
        public var gpusPerServer: Int
        public var quantity: Int
        public var unitPrice: Int
        public var totalPrice: Int
        public var jobs: [String]
    }
    public struct Alternative: Encodable, Sendable {
        public var serverSku: String
        public var quantity: Int
        public var totalPrice: Int
    }
    public struct JobGap: Encodable, Sendable {
        public var job: String
        public var pendingReplicas: Int
        /// "existing" (fits the free capacity), "purchase", or "none" (nothing in the catalog holds it).
        public var runsOn: RunsOn
        public var alternatives: [Alternative]
    }
    public struct Unbuyable: Encodable, Sendable {
        public var job: String
        public var reason: String
    }
    public struct Arithmetic: Encodable, Sendable {
        public var purchase: [Line]
        public var totalPrice: Int
    }
    public struct JSON: Encodable, Sendable {
        /// "keep": placed jobs stay; "repack": every job that is not pinned may move.
        public var mode: Mode
        public var purchase: [Line]
        public var totalPrice: Int
        public var totalServers: Int
        public var lowerBound: Int
        public var provedOptimal: Bool
        /// (total_price - lower_bound) / total_price.
        public var gap: Double
        public var jobs: [JobGap]
        public var unbuyable: [Unbuyable]
        public var perTypeArithmetic: Arithmetic
        /// Keep mode: what `--repack` would save, when it buys less for the same jobs.
        public var repackSaving: Int?
        public var whatIf: [PlaceRun.PlacedItem]?
        /// Repack mode with --what-if: the placed jobs that would move.
        public var moves: [PlaceRun.Move]?
    }

    public var json: JSON

    /// `repack`: re-plan every job that is not pinned and buy the cheapest complement; otherwise
    /// placed jobs stay where they are and only pending ones are bought for.
    public static func compute(_ snap: PlanningSnapshot, whatIf: Bool, repack: Bool = false) throws -> GapReport {
        var report = solve(snap, whatIf: whatIf, repack: repack)
        // Re-planning can only save where something is bought (a saving needs a lower price than this one).
        if !repack && report.json.totalPrice > 0 && snap.jobs.contains(where: { !$0.job.pinned && !$0.placements.isEmpty }) {
            let other = solve(snap, whatIf: false, repack: true)
            if other.json.totalPrice < report.json.totalPrice && other.json.unbuyable.count <= report.json.unbuyable.count {
                report.json.repackSaving = report.json.totalPrice - other.json.totalPrice
            }
        }
        return report
    }

    static func solve(_ snap: PlanningSnapshot, whatIf: Bool, repack: Bool) -> GapReport {
        let gpuByID = Dictionary(uniqueKeysWithValues: snap.catalog.gpus.map { ($0.id, $0) })
        var sizer = Sizer(catalog: snap.catalog.gpus, servers: snap.servers, skus: snap.catalog.skus)
        let pendingJobs = repack ? snap.jobs.filter { !$0.job.pinned } : snap.jobs.filter { !$0.isPlaced }
        var units: [JobUnit] = []
        for j in pendingJobs { units += sizer.units(for: j, ignorePlaced: repack) }
        let existing = FleetState.planner(snap.servers, ignoring: repack ? Set(pendingJobs.map(\.name)) : [])
        let skus = snap.catalog.skus.compactMap { k -> SKUOption? in
            guard let g = gpuByID[k.gpu] else { return nil }
            let fabric = Fabric.named(k.fabric) ?? .none
            // Bought servers join the servers of their fabric at site "".
            return SKUOption(id: k.id, gpuType: k.gpu, gpusPerServer: k.gpusPerServer, gpuMemory: g.memoryBytes,
                             hostMemory: k.hostMemoryBytes, price: k.priceUSD, network: FleetState.network(site: "", fabric: fabric),
                             fabricGbps: fabric.gbps, fabricRDMA: fabric.rdma)
        }
        let plan = PurchasePlanner.plan(units: units, existing: existing, skus: skus)

        // Which jobs each SKU's new servers hold.
        var jobsBySKU: [Int: Set<String>] = [:]
        var onNew = Set<String>()
        for a in plan.assignments {
            for al in a.allocations where al.server >= existing.count {
                jobsBySKU[plan.newServerSKU[al.server - existing.count], default: []].insert(units[a.unit].job)
                onNew.insert(units[a.unit].job)
            }
        }
        let lines = plan.quantities.keys.sorted { skus[$0].id < skus[$1].id }.map { k in
            Line(serverSku: skus[k].id, gpu: skus[k].gpuType, gpusPerServer: skus[k].gpusPerServer, quantity: plan.quantities[k]!,
                 unitPrice: skus[k].price, totalPrice: skus[k].price * plan.quantities[k]!, jobs: (jobsBySKU[k] ?? []).sorted(by: naturalLess))
        }
        let unbuyableJobs = Set(plan.unbuyable.map { units[$0.unit].job })
        var reasons: [String: String] = [:]
        for u in plan.unbuyable where reasons[units[u.unit].job] == nil { reasons[units[u.unit].job] = u.reason.sentence }
        let unitsByJob = Dictionary(grouping: units, by: \.job)
        let jobs = pendingJobs.map { j -> JobGap in
            let mine = unitsByJob[j.name] ?? []
            var alternatives: [Alternative] = []
            if let u = mine.first {
                var best: [String: Alternative] = [:]
                for shape in u.shapes {
                    for k in skus {
                        guard let m = k.serversNeeded(shape) else { continue }
                        // Replicas that fit one server share servers; larger ones take m servers each.
                        var perServer = m == 1 ? k.gpusPerServer / shape.gpus : 0
                        if perServer >= 1, shape.hostBytesPerGPU > 0 {
                            perServer = min(perServer, k.hostMemory / (shape.hostBytesPerGPU * shape.gpus))
                        }
                        let servers = perServer >= 1 ? (mine.count + perServer - 1) / perServer : m * mine.count
                        let alt = Alternative(serverSku: k.id, quantity: servers, totalPrice: servers * k.price)
                        if best[k.id] == nil || alt.totalPrice < best[k.id]!.totalPrice { best[k.id] = alt }
                    }
                }
                alternatives = Array(best.values.sorted { ($0.totalPrice, $0.serverSku) < ($1.totalPrice, $1.serverSku) }.prefix(3))
            }
            let runsOn: RunsOn = unbuyableJobs.contains(j.name) ? .none : (onNew.contains(j.name) ? .purchase : .existing)
            return JobGap(job: j.name, pendingReplicas: mine.count, runsOn: runsOn, alternatives: alternatives)
        }
        var whatIfItems: [PlaceRun.PlacedItem]?
        var moves: [PlaceRun.Move]?
        if whatIf {
            let names = existing.map(\.name) + plan.newServers.map(\.name)
            whatIfItems = plan.assignments.map { a in
                let u = units[a.unit]
                return PlaceRun.PlacedItem(
                    job: u.job, replica: u.replica, strategy: a.shape.strategy, tp: a.shape.tp, pp: a.shape.pp, dp: a.shape.dp,
                    gpuType: a.shape.gpuType, perGpuBytes: a.shape.perGPUBytes, hostBytes: a.shape.hostBytesPerGPU * a.shape.gpus,
                    allocations: a.allocations.map { .init(server: names[$0.server], gpus: $0.gpus) })
            }.sorted { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
            if repack {
                var before: [String: String] = [:]
                for j in pendingJobs { for p in j.placements { before["\(j.name)#\(p.replica)"] = PlaceRun.describe(p.allocations) } }
                moves = whatIfItems!.compactMap { p in
                    let key = "\(p.job)#\(p.replica)"
                    let after = PlaceRun.describe(p.allocations.map { ($0.server, $0.gpus) })
                    guard let b = before[key], b != after else { return nil }
                    return PlaceRun.Move(job: p.replica > 0 ? key : p.job, from: b, to: after)
                }
            }
        }
        let json = JSON(
            mode: repack ? .repack : .keep, purchase: lines, totalPrice: plan.cost, totalServers: plan.newServers.count,
            lowerBound: plan.lowerBound, provedOptimal: plan.provedOptimal, gap: plan.gap, jobs: jobs,
            unbuyable: reasons.keys.sorted(by: naturalLess).map { Unbuyable(job: $0, reason: reasons[$0]!) },
            perTypeArithmetic: arithmetic(units, existing, skus, gpuByID, unbuyable: Set(plan.unbuyable.map(\.unit))),
            repackSaving: nil, whatIf: whatIfItems, moves: moves)
        return GapReport(json: json)
    }

    /// What a calculator does: per GPU type, GPUs needed (each job on its cheapest type) minus free
    /// GPUs owned, rounded up to servers of that type's cheapest-per-GPU SKU. Ignores how jobs pack
    /// into servers (tensor-parallel groups, same-server jobs, fragmented free GPUs) and cannot mix types.
    static func arithmetic(_ units: [JobUnit], _ existing: [ServerState], _ skus: [SKUOption], _ gpus: [String: GPUType], unbuyable: Set<Int>) -> Arithmetic {
        var need: [String: Int] = [:]
        for (i, u) in units.enumerated() where !unbuyable.contains(i) {
            let buyableShapes = u.shapes.filter { s in skus.contains { $0.serversNeeded(s) != nil } }
            func price(_ s: UnitShape) -> Int { s.gpus * (gpus[s.gpuType]?.priceUSD ?? 0) }
            guard let s = buyableShapes.min(by: { (price($0), $0.gpuType) < (price($1), $1.gpuType) }) else { continue }
            need[s.gpuType, default: 0] += s.gpus
        }
        var owned: [String: Int] = [:]
        for s in existing { owned[s.gpuType, default: 0] += s.free.count }
        var lines: [Line] = []
        for t in need.keys.sorted() {
            let deficit = need[t]! - (owned[t] ?? 0)
            guard deficit > 0, let k = skus.filter({ $0.gpuType == t }).min(by: {
                (Double($0.price) / Double($0.gpusPerServer), $0.id) < (Double($1.price) / Double($1.gpusPerServer), $1.id)
            }) else { continue }
            let n = (deficit + k.gpusPerServer - 1) / k.gpusPerServer
            lines.append(Line(serverSku: k.id, gpu: t, gpusPerServer: k.gpusPerServer, quantity: n, unitPrice: k.price, totalPrice: n * k.price, jobs: []))
        }
        return Arithmetic(purchase: lines, totalPrice: lines.reduce(0) { $0 + $1.totalPrice })
    }
}
