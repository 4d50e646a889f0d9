import PlanModel

/// `plan import kubernetes|slurm|nvidia-smi`: what the sync added, changed and found missing.
public struct ImportReport: Report {
    public var report: SyncReport
    public var dryRun: Bool
    public var skipped: Int
    public var notes: [String]
    public var file: String

    public init(report: SyncReport, dryRun: Bool, skipped: Int, notes: [String], file: String) {
        self.report = report
        self.dryRun = dryRun
        self.skipped = skipped
        self.notes = notes
        self.file = file
    }

    public struct JSON: Encodable {
        struct Change: Encodable {
            var server: String
            var changes: [String]
        }
        var dryRun: Bool
        var added: [String]
        var changed: [Change]
        var unchanged: Int
        var missing: [String]
        var removed: [String]
        var unplacedJobs: [String]
        var needsForce: Bool
        var skippedWithoutGpus: Int
        var notes: [String]
    }

    public var document: JSON {
        JSON(
            dryRun: dryRun, added: report.added, changed: report.changed.map { .init(server: $0.server, changes: $0.fields) },
            unchanged: report.unchanged, missing: report.missing, removed: report.removed, unplacedJobs: report.unplacedJobs,
            needsForce: report.needsForce, skippedWithoutGpus: skipped, notes: notes)
    }

    public var csv: String {
        var rows: [[String]] = report.added.map { ["added", $0, ""] }
        rows += report.changed.map { ["changed", $0.server, $0.fields.joined(separator: "; ")] }
        rows += report.missing.map { [report.removed.contains($0) ? "removed" : "missing", $0, ""] }
        return CSVWriter.render(header: ["action", "server", "detail"], rows: rows)
    }

    public var table: String {
        let verb = dryRun ? "would be" : "were"
        var out = dryRun ? "Dry run of \(file): nothing was written.\n" : "Synced the fleet with \(file).\n"
        out += "\(report.added.count) server(s) \(verb) added, \(report.changed.count) changed, \(report.unchanged) unchanged"
        out += skipped > 0 ? "; \(skipped) node(s) without GPUs skipped.\n" : ".\n"
        if !report.added.isEmpty { out += "Added: \(report.added.joined(separator: ", "))\n" }
        for c in report.changed { out += "Changed \(c.server): \(c.fields.joined(separator: "; "))\n" }
        if !report.missing.isEmpty {
            let kept = report.missing.filter { !report.removed.contains($0) }
            if !report.removed.isEmpty { out += "Removed (--prune): \(report.removed.joined(separator: ", "))\n" }
            if !kept.isEmpty { out += "Missing from the list (kept; --prune removes them): \(kept.joined(separator: ", "))\n" }
        }
        if !report.unplacedJobs.isEmpty {
            out += report.needsForce
                ? "Needs --force, which would unplace: \(report.unplacedJobs.joined(separator: ", "))\n"
                : "Unplaced (--force): \(report.unplacedJobs.joined(separator: ", "))\n"
        }
        for n in notes { out += "Note: \(n)\n" }
        return out
    }
}

