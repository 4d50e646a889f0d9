import ArgumentParser
import Foundation
import Inventory
import PlanModel

/// The README's main job: an example cluster, shown.
struct Demo: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the example: create a small cluster (if absent) and show it.",
        discussion: "Adds servers named demo-* to the database; running it again adds nothing new.")
    @OptionGroup var global: GlobalOptions

    static let servers: [NewServer] = [
        NewServer(name: "demo-h100-1", gpu: "h100-sxm-80gb", gpus: 8, site: "demo", rack: "r1"),
        NewServer(name: "demo-a100-1", gpu: "a100-sxm-80gb", gpus: 8, site: "demo", rack: "r1"),
        NewServer(name: "demo-l40s-1", gpu: "l40s-48gb", gpus: 4, site: "demo", rack: "r2"),
        NewServer(name: "demo-4090-1", gpu: "rtx-4090-24gb", gpus: 2, site: "demo", rack: "r2"),
        NewServer(name: "demo-4090-2", gpu: "rtx-4090-24gb", gpus: 2, site: "demo", rack: "r2"),
    ]

    func run(in ctx: Context) throws {
        let store = try ctx.store()
        let existing = Set(try store.servers().map(\.name))
        let missing = Self.servers.filter { !existing.contains($0.name) }
        if !missing.isEmpty { try store.addServers(missing) }
        ctx.out.line("== Example cluster (database: \(store.path))")
        let demo = try store.servers().filter { $0.name.hasPrefix("demo-") }
        ctx.out.render(demo.map(ServerItem.init), .table)
    }
}
