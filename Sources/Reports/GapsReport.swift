import PlanCore
import PlanModel

extension GapReport: Report {
    /// The CSV columns, for budgeting.
    public static let csvHeader = ["server_sku", "gpu", "gpus_per_server", "quantity", "unit_price", "total_price", "jobs"]

    public var document: JSON { json }

    public var csv: String {
        var rows = json.purchase.map {
            [$0.serverSku, $0.gpu, String($0.gpusPerServer), String($0.quantity), String($0.unitPrice), String($0.totalPrice),
             $0.jobs.joined(separator: " ")]
        }
        rows.append(["TOTAL", "", "", String(json.totalServers), "", String(json.totalPrice), ""])
        return CSVWriter.render(header: Self.csvHeader, rows: rows)
    }

    public var table: String {
        var out = ""
        if json.jobs.isEmpty { return json.mode == .repack ? "nothing to buy: every job is pinned\n" : "nothing to buy: every job is placed\n" }
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
        if let s = json.repackSaving {
            out += "Re-planning placed jobs that are not pinned would buy \(Human.usd(s)) less: run `plan gaps --repack --what-if`.\n"
        }
        out += json.mode == .repack ? "\nJobs (placed ones may move) and their cheapest shapes on their own:\n" : "\nPending jobs and their cheapest shapes on their own:\n"
        for j in json.jobs where j.runsOn != .none {
            let alts = j.alternatives.map { "\($0.quantity) x \($0.serverSku) (\(Human.usd($0.totalPrice)))" }.joined(separator: " or ")
            let where_ = j.runsOn == .existing ? "fits free capacity" : "on the purchase"
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
                       p.strategy.rawValue, String(p.tp), String(p.pp), String(p.dp),
                       p.allocations.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")])
            }
            out += t.render()
        }
        if let m = json.moves, !m.isEmpty {
            out += "\nMoves:\n"
            for x in m { out += "- \(x.job): \(x.from) -> \(x.to)\n" }
        }
        return out
    }
}
