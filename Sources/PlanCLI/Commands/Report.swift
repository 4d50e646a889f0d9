import ArgumentParser
import Foundation
import Inventory
import PlanCore
import PlanModel
import Reports

/// `plan report`: one HTML page of the fleet (the map, capacity, each job's memory, the purchase gap,
/// the jobs that do not fit); `--format` gives the same values as JSON, CSV or a table.
struct ReportCommand: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write one self-contained HTML page of the fleet: the GPU map, capacity, each job's memory, what to buy, what does not fit.",
        discussion: """
            The page has inline CSS and SVG, no script, and loads nothing: it opens from disk and prints. Fleets of more than \
            4,096 GPUs are drawn folded: servers of one rack with the same GPU type and as many GPUs held share a row. \
            Nothing is written to the database. With --format table, json or csv the same values are printed instead \
            (to standard output unless --output is given); CSV lists each job's bytes per GPU.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(
        name: .customLong("output"),
        help: "Write to this file (default: report.html for the page, standard output otherwise; - for standard output).")
    var outputFile: String?
    @OptionGroup var output: PageFormatOptions

    func run(in ctx: Context) throws {
        let format = output.format ?? .html
        let snap = try ctx.store(readOnly: true).versionedSnapshot().snapshot
        let report = try FleetPicture.compute(snap)
        let path = outputFile ?? (format == .html ? "report.html" : "-")
        if path == "-" {
            ctx.out.render(report, format)
        } else {
            try ReportFile.write(report.text(format), to: path, databasePath: ctx.databasePath)
            ctx.out.line("wrote the fleet report to \(path)")
        }
    }
}
