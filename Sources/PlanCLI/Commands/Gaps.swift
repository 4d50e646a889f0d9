import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import Placement
import PlanCore
import PlanModel
import Reports

struct Gaps: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "The cheapest servers to buy so that every unplaced job fits (placed jobs stay where they are).",
        discussion: """
            Searches the server SKU catalog (`plan skus`, with your prices) for the cheapest mix of servers that, \
            with the free capacity you have, holds every pending job under the same rules as `plan place`. \
            The purchase is solved by CBC (the MILP solver); the report says whether it is proved optimal, \
            and the lower bound otherwise. Also shows what a per-GPU-type count would buy.

            --repack re-plans every job that is not pinned (`plan job pin`) and buys the cheapest complement; \
            without it, when re-planning would buy less, one line says so with the saving.

            CSV (--format csv) columns: server_sku,gpu,gpus_per_server,quantity,unit_price,total_price,jobs, then a TOTAL row.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .customLong("output"), help: "Write the report to this file instead of standard output.") var outputFile: String?
    @Flag(name: .customLong("what-if"), help: "Also show where every job would run after the purchase (nothing is written).")
    var whatIf = false
    @Flag(help: "Let placed jobs move (all but pinned ones) and buy the cheapest complement; --what-if then lists the moves.")
    var repack = false

    func run(in ctx: Context) throws {
        let report = try GapReport.compute(try ctx.store(readOnly: true).versionedSnapshot().snapshot, whatIf: whatIf, repack: repack)
        if let path = outputFile {
            try ReportFile.write(report.text(output.format), to: path, databasePath: ctx.databasePath)
            if output.format == .table { ctx.out.line("wrote the purchase gap to \(path)") }
        } else {
            ctx.out.render(report, output.format)
        }
    }
}
