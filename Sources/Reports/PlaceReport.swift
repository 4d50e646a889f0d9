import PlanCore
import PlanModel

/// `plan place`: what was placed, what could not be, and (repack) what moved.
public struct PlaceReport: Report {
    public var run: PlaceRun
    public var dryRun: Bool
    public init(run: PlaceRun, dryRun: Bool) {
        self.run = run
        self.dryRun = dryRun
    }

    public var document: PlaceRun.JSON { run.json(dryRun: dryRun) }

    public var csv: String {
        let placed = run.placed, unplaced = run.unplaced
        var rows = placed.map { p in
            ["placed", p.job, String(p.replica), p.gpuType, String(p.allocations.reduce(0) { $0 + $1.gpus.count }), p.strategy.rawValue,
             String(p.tp), String(p.pp), String(p.dp), String(p.perGpuBytes),
             p.allocations.map { "\($0.server):\($0.gpus.map(String.init).joined(separator: "/"))" }.joined(separator: " "), ""]
        }
        rows += unplaced.map { ["unplaced", $0.job, String($0.replica), "", "", "", "", "", "", "", "", $0.reason] }
        return CSVWriter.render(
            header: ["status", "job", "replica", "gpu_type", "gpus", "strategy", "tp", "pp", "dp", "per_gpu_bytes", "allocations", "reason"],
            rows: rows)
    }

    public var table: String {
        let placed = run.placed, unplaced = run.unplaced, moves = run.moves, note = run.note
        var out = ""
        if dryRun { out += "(dry run: nothing written)\n" }
        if let note { out += note + "\n" }
        if let moves, !moves.isEmpty {
            out += "Moves:\n"
            var t = TextTable(["JOB", "FROM", "TO"])
            for m in moves { t.add([m.job, m.from, m.to]) }
            out += t.render() + "\n"
        }
        if placed.isEmpty && unplaced.isEmpty { return out + (note == nil ? "nothing to place: every job is placed\n" : "") }
        if !placed.isEmpty {
            out += "Placed:\n"
            var t = TextTable(["JOB", "GPUS", "GPU", "STRATEGY", "TP", "PP", "DP", "PER GPU", "WHERE"], rightAligned: [1, 4, 5, 6, 7])
            for p in placed {
                let name = p.replica > 0 || unplaced.contains { $0.job == p.job } || placed.contains { $0.job == p.job && $0.replica != p.replica }
                    ? "\(p.job)#\(p.replica)" : p.job
                t.add([name, String(p.allocations.reduce(0) { $0 + $1.gpus.count }), p.gpuType, p.strategy.rawValue, String(p.tp), String(p.pp),
                       String(p.dp), Human.gib(p.perGpuBytes),
                       p.allocations.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")])
            }
            out += t.render()
        }
        if !unplaced.isEmpty {
            out += (placed.isEmpty ? "" : "\n") + "Not placed:\n"
            for u in unplaced { out += "- \(u.job)\(u.replica > 0 ? "#\(u.replica)" : ""): \(u.reason)\n" }
        }
        return out
    }
}
