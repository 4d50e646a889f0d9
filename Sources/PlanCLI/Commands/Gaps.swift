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
            Small problems are solved exactly. Also shows what a per-GPU-type count would buy.

            CSV (--format csv) columns: server_sku,gpu,gpus_per_server,quantity,unit_price,total_price,jobs, then a TOTAL row.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions
    @Option(name: .customLong("output"), help: "Write the report to this file instead of standard output.") var outputFile: String?
    @Flag(name: .customLong("what-if"), help: "Also show where every job would run after the purchase (nothing is written).")
    var whatIf = false

    func run(in ctx: Context) throws {
        let report = try GapReport.compute(try ctx.store(readOnly: true).versionedSnapshot().snapshot, whatIf: whatIf)
        if let path = outputFile {
            try ReportFile.write(report.text(output.format), to: path, databasePath: ctx.databasePath)
            if output.format == .table { ctx.out.line("wrote the purchase gap to \(path)") }
        } else {
            ctx.out.render(report, output.format)
        }
    }
}
