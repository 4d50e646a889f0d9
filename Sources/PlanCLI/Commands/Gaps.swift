import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import Placement
import PlanModel

struct Gaps: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "The cheapest servers to buy so that every unplaced job fits (placed jobs stay where they are).",
        discussion: """
            Searches the server SKU catalog (`plan skus`, with your prices) for the cheapest mix of servers that, \
            with the free capacity you have, holds every pending job under the same rules as `plan place`. \
            Small problems are solved exactly. Also shows what a per-GPU-type count would buy.

            CSV (--format csv) columns: server_sku,gpu,gpus_per_server,quantity,unit_price,total_price,jobs, then a TOTAL row.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .customLong("output"), help: "Write the report to this file instead of standard output.") var outputFile: String?
    @Flag(name: .customLong("what-if"), help: "Also show where every job would run after the purchase (nothing is written).")
    var whatIf = false

    static let csvHeader = ["server_sku", "gpu", "gpus_per_server", "quantity", "unit_price", "total_price", "jobs"]

    func run(in ctx: Context) throws {
        let report = try GapReport.compute(try ctx.store(readOnly: true).snapshot(), whatIf: whatIf)
        let text: String
        switch output.format {
        case .json: text = JSONOutput.encode(report.json)
        case .csv: text = report.csv
        case .table: text = report.table
        }
        if let path = outputFile {
            try ReportFile.write(text, to: path, databasePath: ctx.databasePath)
            if output.format == .table { ctx.out.line("wrote the purchase gap to \(path)") }
        } else {
            ctx.out.write(text)
        }
    }
}

/// The purchase gap: what to buy, which jobs drive it, and the alternatives per job.
struct GapReport {
    struct Line: Encodable {
        var serverSku: String
        var gpu: String
        var gpusPerServer: Int
        var quantity: Int
        var unitPrice: Int
        var totalPrice: Int
        var jobs: [String]
    }
    struct Alternative: Encodable {
        var serverSku: String
        var quantity: Int
        var totalPrice: Int
    }
    struct JobGap: Encodable {
        var job: String
        var pendingReplicas: Int
        /// "existing" (fits the free capacity), "purchase", or "none" (nothing in the catalog holds it).
        var runsOn: String
        var alternatives: [Alternative]
    }
    struct Unbuyable: Encodable {
        var job: String
        var reason: String
    }
    struct Arithmetic: Encodable {
        var purchase: [Line]
        var totalPrice: Int
    }
    struct JSON: Encodable {
        var purchase: [Line]
        var totalPrice: Int
        var totalServers: Int
        var lowerBound: Int
        var provedOptimal: Bool
        var jobs: [JobGap]
        var unbuyable: [Unbuyable]
        var perTypeArithmetic: Arithmetic
        var whatIf: [PlaceRun.PlacedItem]?
    }

    var json: JSON

    static func compute(_ snap: PlanningSnapshot, whatIf: Bool) throws -> GapReport {
        let gpuByID = Dictionary(uniqueKeysWithValues: snap.catalog.gpus.map { ($0.id, $0) })
        var sizer = Sizer(catalog: snap.catalog.gpus, servers: snap.servers, skus: snap.catalog.skus)
        let pendingJobs = snap.jobs.filter { !$0.isPlaced }
        var units: [JobUnit] = []
        for j in pendingJobs { units += sizer.units(for: j, ignorePlaced: false) }
        let existing = FleetState.planner(snap.servers)
        let skus = snap.catalog.skus.compactMap { k -> SKUOption? in
            guard let g = gpuByID[k.gpu] else { return nil }
            return SKUOption(id: k.id, gpuType: k.gpu, gpusPerServer: k.gpusPerServer, gpuMemory: g.memoryBytes,
                             hostMemory: k.hostMemoryBytes, price: k.priceUSD)
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
        for u in plan.unbuyable where reasons[units[u.unit].job] == nil { reasons[units[u.unit].job] = u.reason }
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
            let runsOn = unbuyableJobs.contains(j.name) ? "none" : (onNew.contains(j.name) ? "purchase" : "existing")
            return JobGap(job: j.name, pendingReplicas: mine.count, runsOn: runsOn, alternatives: alternatives)
        }
        var whatIfItems: [PlaceRun.PlacedItem]?
        if whatIf {
            let names = existing.map(\.name) + plan.newServers.map(\.name)
            whatIfItems = plan.assignments.map { a in
                let u = units[a.unit]
                return PlaceRun.PlacedItem(
                    job: u.job, replica: u.replica, strategy: a.shape.strategy, tp: a.shape.tp, pp: a.shape.pp, dp: a.shape.dp,
                    gpuType: a.shape.gpuType, perGpuBytes: a.shape.perGPUBytes, hostBytes: a.shape.hostBytesPerGPU * a.shape.gpus,
                    allocations: a.allocations.map { .init(server: names[$0.server], gpus: $0.gpus) })
            }.sorted { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
        }
        let json = JSON(
            purchase: lines, totalPrice: plan.cost, totalServers: plan.newServers.count, lowerBound: plan.lowerBound,
            provedOptimal: plan.provedOptimal, jobs: jobs,
            unbuyable: reasons.keys.sorted(by: naturalLess).map { Unbuyable(job: $0, reason: reasons[$0]!) },
            perTypeArithmetic: arithmetic(units, existing, skus, gpuByID, unbuyable: Set(plan.unbuyable.map(\.unit))),
            whatIf: whatIfItems)
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

    var csv: String {
        var rows = json.purchase.map {
            [$0.serverSku, $0.gpu, String($0.gpusPerServer), String($0.quantity), String($0.unitPrice), String($0.totalPrice),
             $0.jobs.joined(separator: " ")]
        }
        rows.append(["TOTAL", "", "", String(json.totalServers), "", String(json.totalPrice), ""])
        return CSVWriter.render(header: Gaps.csvHeader, rows: rows)
    }

    var table: String {
        var out = ""
        if json.jobs.isEmpty { return "nothing to buy: every job is placed\n" }
        if json.purchase.isEmpty {
            out += "Nothing to buy: every pending job fits the free capacity (run `plan place`).\n"
        } else {
            out += "Buy (cheapest mix\(json.provedOptimal ? ", proved optimal" : "; lower bound \(Human.usd(json.lowerBound))")):\n"
            var t = TextTable(["SERVER SKU", "GPU", "GPUS", "QTY", "UNIT PRICE", "TOTAL", "FOR JOBS"], rightAligned: [2, 3, 4, 5])
            for l in json.purchase {
                t.add([l.serverSku, l.gpu, String(l.gpusPerServer), String(l.quantity), Human.usd(l.unitPrice), Human.usd(l.totalPrice),
                       l.jobs.joined(separator: ", ")])
            }
            t.add(["TOTAL", "", "", String(json.totalServers), "", Human.usd(json.totalPrice), ""])
            out += t.render()
        }
        out += "\nPending jobs and their cheapest shapes on their own:\n"
        for j in json.jobs where j.runsOn != "none" {
            let alts = j.alternatives.map { "\($0.quantity) x \($0.serverSku) (\(Human.usd($0.totalPrice)))" }.joined(separator: " or ")
            let where_ = j.runsOn == "existing" ? "fits free capacity" : "on the purchase"
            out += "- \(j.job)\(j.pendingReplicas > 1 ? " (\(j.pendingReplicas) replicas)" : ""): \(where_)\(alts.isEmpty ? "" : "; alone: " + alts)\n"
        }
        for u in json.unbuyable { out += "- \(u.job): \(u.reason)\n" }
        let a = json.perTypeArithmetic
        if !a.purchase.isEmpty || !json.purchase.isEmpty {
            out += "\nA per-GPU-type count (GPUs needed minus GPUs free, rounded up per type) would buy: "
            out += a.purchase.isEmpty ? "nothing" : a.purchase.map { "\($0.quantity) x \($0.serverSku)" }.joined(separator: " + ")
            out += " = \(Human.usd(a.totalPrice))"
            out += a.totalPrice > json.totalPrice ? " (\(Human.usd(a.totalPrice - json.totalPrice)) more)\n"
                : (a.totalPrice < json.totalPrice ? " — too little: it ignores how jobs pack into servers\n" : "\n")
        }
        if let w = json.whatIf {
            out += "\nWhat if (nothing written):\n"
            var t = TextTable(["JOB", "GPUS", "GPU", "STRATEGY", "TP", "PP", "DP", "WHERE"], rightAligned: [1, 4, 5, 6])
            for p in w {
                t.add([p.replica > 0 ? "\(p.job)#\(p.replica)" : p.job, String(p.allocations.reduce(0) { $0 + $1.gpus.count }), p.gpuType,
                       p.strategy, String(p.tp), String(p.pp), String(p.dp),
                       p.allocations.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")])
            }
            out += t.render()
        }
        return out
    }
}
