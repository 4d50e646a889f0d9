import ArgumentParser
import Foundation
import Inventory
import PlanCore
import PlanModel
import Reports

/// The README's main job: an example cluster and workloads, placed, with what is left.
struct Demo: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the example: a small cluster and LLM jobs, placed; leftover capacity; the purchase gap.",
        discussion: """
            Adds servers named demo-* and example jobs to a database of its own when they are absent, places the pending \
            jobs, and prints the cluster, the placement, the leftover capacity and the cheapest servers to buy. Running it again adds nothing new.

            The demo never touches your inventory: it uses ${XDG_DATA_HOME:-$HOME/.local/share}/plan/demo.sqlite \
            (PLAN_DB is ignored), or the database given with --db.

            --jobs-only adds just the example jobs to the database given with --db (for example a fleet you imported) \
            and stops; `plan place` then places them there.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("jobs-only"), help: "Add only the example jobs to the --db database, and stop.") var jobsOnly = false

    static let servers: [NewServer] = [
        NewServer(name: "demo-h100-1", gpu: "h100-sxm-80gb", gpus: 8, site: "demo", rack: "r1"),
        NewServer(name: "demo-a100-1", gpu: "a100-sxm-80gb", gpus: 8, site: "demo", rack: "r1"),
        NewServer(name: "demo-l40s-1", gpu: "l40s-48gb", gpus: 4, site: "demo", rack: "r2"),
        NewServer(name: "demo-4090-1", gpu: "rtx-4090-24gb", gpus: 2, site: "demo", rack: "r2"),
        NewServer(name: "demo-4090-2", gpu: "rtx-4090-24gb", gpus: 2, site: "demo", rack: "r2"),
    ]

    /// The article's two workloads, and two that this cluster cannot hold (for the purchase gap).
    static let jobs: [[String: String]] = [
        ["name": "llama3-8b-ft", "model": "meta-llama/Meta-Llama-3-8B-Instruct", "mode": "train", "method": "full",
         "batch": "1", "seq": "2048", "checkpointing": "true", "priority": "10"],
        ["name": "llama3-8b-infer", "model": "meta-llama/Meta-Llama-3-8B-Instruct", "mode": "infer", "seq": "8192",
         "batch": "4", "replicas": "4", "priority": "5"],
        ["name": "llama3-70b-ft", "model": "llama-3-70b", "mode": "train", "method": "full", "batch": "1", "seq": "4096",
         "checkpointing": "true", "priority": "1", "gpu_types": "h100-sxm-80gb,h200-141gb,b200-192gb,a100-sxm-80gb"],
        ["name": "qwen2.5-72b-infer", "model": "qwen2.5-72b", "mode": "infer", "seq": "32768", "batch": "8",
         "replicas": "2", "priority": "1"],
        ["name": "mixtral-qlora", "model": "mixtral-8x7b-v0.1", "mode": "train", "method": "qlora", "batch": "2",
         "seq": "4096", "checkpointing": "true", "priority": "3"],
    ]

    func run(in ctx: Context) throws {
        if jobsOnly && (ctx.dbOverride ?? "").isEmpty {
            throw PlanError.usage("--jobs-only adds the example jobs to a database of yours: give --db PATH")
        }
        if (ctx.dbOverride ?? "").isEmpty {
            let path = ctx.demoDatabasePath
            try? FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            ctx.dbOverride = path
        }
        let store = try ctx.store()
        let existing = Set(try store.servers().map(\.name))
        let missing = Self.servers.filter { !existing.contains($0.name) }
        if !missing.isEmpty && !jobsOnly { try store.addServers(missing) }
        let known = Set(try store.jobs().map(\.name))
        let catalog = try store.catalog()
        let newJobs = try Self.jobs.filter { !known.contains($0["name"]!) }.map {
            try JobInput(row: $0, where_: "demo job \($0["name"]!)").validated(catalog: catalog)
        }
        if !newJobs.isEmpty { try store.addJobs(newJobs) }
        if jobsOnly {
            ctx.out.line("added \(newJobs.count) example job(s) to \(store.path); run `plan place` to place them")
            return
        }

        ctx.out.line("== Example cluster (database: \(store.path))")
        ctx.out.render(try store.servers().filter { $0.name.hasPrefix("demo-") }.map(ServerItem.init), .table)
        ctx.out.line()
        ctx.out.line("== Jobs")
        ctx.out.render(try store.jobs().filter { j in Self.jobs.contains { $0["name"] == j.name } }.map(JobItem.init), .table)
        ctx.out.line()
        ctx.out.line("== plan place")
        let demoJobs = Self.jobs.map { $0["name"]! }
        let run = try Planning.run(store, dryRun: false) { snap in try PlaceRun.compute(snap, only: demoJobs, repack: false) }
        ctx.out.render(PlaceReport(run: run, dryRun: false), .table)
        ctx.out.line()
        ctx.out.line("== Leftover capacity (plan capacity)")
        ctx.out.render(CapacityReport.compute(try store.servers(), perServer: false), .table)
        ctx.out.line()
        ctx.out.line("== What to buy so that every job fits (plan gaps)")
        ctx.out.render(try GapReport.compute(try store.versionedSnapshot().snapshot, whatIf: false), .table)
    }
}
