import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import Placement
import PlanCore
import PlanModel
import Reports

struct Place: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Place pending jobs onto free GPUs (all-or-nothing per job; per replica for inference).",
        discussion: """
            Higher priority first; per job the fewest GPUs that fit with its headroom; tensor-parallel groups \
            stay inside one server; multi-server jobs span as few servers as possible; partly used servers \
            fill first. Placed jobs stay where they are unless --repack. Small problems are solved exactly.
            Same database, same plan. Exit status 3 with --strict when some jobs could not be placed.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("job"), help: "Place only this job (repeatable). Default: all pending jobs.") var jobs: [String] = []
    @Flag(name: .customLong("dry-run"), help: "Print the plan; write nothing.") var dryRun = false
    @Flag(help: "Re-plan every job from scratch and move placed jobs when that places more or fragments less; lists the moves.")
    var repack = false
    @Flag(help: "Exit with status 3 when some jobs could not be placed.") var strict = false
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if repack && !jobs.isEmpty {
            throw ValidationError("--repack re-plans every job; it cannot be combined with --job")
        }
    }

    func run(in ctx: Context) throws {
        let store = try ctx.store(readOnly: dryRun)
        let only = jobs.map(Names.normalized)
        let result = try Planning.run(store, dryRun: dryRun) { snap in try PlaceRun.compute(snap, only: only, repack: repack) }
        ctx.out.render(PlaceReport(run: result, dryRun: dryRun), output.format)
        if strict && !result.unplaced.isEmpty { throw Exit(code: ExitCode.unplaced) }
    }
}

struct Unplace: PlanCommand {
    static let configuration = CommandConfiguration(abstract: "Unplace jobs (they become pending; their GPUs free).")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("job"), help: "A job to unplace (repeatable).") var jobs: [String] = []
    @Flag(help: "Unplace every job.") var all = false

    func validate() throws {
        if all && !jobs.isEmpty {
            throw ValidationError("give either --job NAME (repeatable) or --all, not both")
        }
        if !all && jobs.isEmpty { throw ValidationError("give --job NAME (repeatable) or --all") }
    }

    func run(in ctx: Context) throws {
        let done = try ctx.store().unplace(names: all ? nil : jobs)
        ctx.out.line(done.isEmpty ? "nothing was placed" : "unplaced: \(done.joined(separator: ", "))")
    }
}

struct Capacity: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leftover capacity: free GPUs and memory per server and per GPU type, and the largest block a job could get.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        ctx.out.render(CapacityReport.compute(try ctx.store(readOnly: true).servers()), output.format)
    }
}
