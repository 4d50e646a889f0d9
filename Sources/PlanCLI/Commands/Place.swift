import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import Placement
import PlanCore
import PlanModel

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
        ctx.out.write(result.render(output.format, dryRun: dryRun))
        if strict && !result.unplaced.isEmpty { throw Exit(code: ExitCode.unplaced) }
    }
}

extension PlaceRun {
    func render(_ format: OutputFormat, dryRun: Bool) -> String {
        switch format {
        case .json:
            return JSONOutput.encode(json(dryRun: dryRun))
        case .csv:
            var rows = placed.map { p in
                ["placed", p.job, String(p.replica), p.gpuType, String(p.allocations.reduce(0) { $0 + $1.gpus.count }), p.strategy,
                 String(p.tp), String(p.pp), String(p.dp), String(p.perGpuBytes),
                 p.allocations.map { "\($0.server):\($0.gpus.map(String.init).joined(separator: "/"))" }.joined(separator: " "), ""]
            }
            rows += unplaced.map { ["unplaced", $0.job, String($0.replica), "", "", "", "", "", "", "", "", $0.reason] }
            return CSVWriter.render(
                header: ["status", "job", "replica", "gpu_type", "gpus", "strategy", "tp", "pp", "dp", "per_gpu_bytes", "allocations", "reason"],
                rows: rows)
        case .table:
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
                    t.add([name, String(p.allocations.reduce(0) { $0 + $1.gpus.count }), p.gpuType, p.strategy, String(p.tp), String(p.pp),
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

    struct ServerRow: Encodable {
        var name, gpu: String
        var gpus, freeGpus: Int
        var freeMemoryBytes: Int
        var largestBlockGpus: Int
    }
    struct TypeRow: Encodable {
        var gpu: String
        var servers, gpus, freeGpus: Int
        var freeMemoryBytes: Int
        var largestBlockGpus: Int
        var largestBlockServer: String?
        var wholeFreeServers: Int
    }
    struct JSON: Encodable {
        var servers: [ServerRow]
        var gpuTypes: [TypeRow]
        var totalGpus: Int
        var freeGpus: Int
        var freeMemoryBytes: Int
    }

    func run(in ctx: Context) throws {
        try Self.render(try ctx.store(readOnly: true).servers(), format: output.format, to: ctx.out, perServer: true)
    }

    static func render(_ servers: [ServerInfo], format: OutputFormat, to out: OutputSink, perServer: Bool) throws {
        let rows = servers.map { s in
            ServerRow(
                name: s.name, gpu: s.gpuType, gpus: s.gpuCount, freeGpus: s.freeGPUs,
                freeMemoryBytes: s.gpus.filter { $0.job == nil }.reduce(0) { $0 + $1.memoryBytes }, largestBlockGpus: s.freeGPUs)
        }
        var types: [TypeRow] = []
        for t in Set(servers.map(\.gpuType)).sorted() {
            let mine = rows.filter { $0.gpu == t }
            let best = mine.max { ($0.freeGpus, $1.name) < ($1.freeGpus, $0.name) }
            types.append(
                TypeRow(
                    gpu: t, servers: mine.count, gpus: mine.reduce(0) { $0 + $1.gpus }, freeGpus: mine.reduce(0) { $0 + $1.freeGpus },
                    freeMemoryBytes: mine.reduce(0) { $0 + $1.freeMemoryBytes }, largestBlockGpus: best?.freeGpus ?? 0,
                    largestBlockServer: (best?.freeGpus ?? 0) > 0 ? best?.name : nil,
                    wholeFreeServers: mine.filter { $0.freeGpus == $0.gpus }.count))
        }
        let json = JSON(
            servers: rows, gpuTypes: types, totalGpus: rows.reduce(0) { $0 + $1.gpus }, freeGpus: rows.reduce(0) { $0 + $1.freeGpus },
            freeMemoryBytes: rows.reduce(0) { $0 + $1.freeMemoryBytes })
        switch format {
        case .json: out.write(JSONOutput.encode(json))
        case .csv:
            out.write(
                CSVWriter.render(
                    header: ["server", "gpu", "gpus", "free_gpus", "free_memory_bytes", "largest_block_gpus"],
                    rows: rows.map { [$0.name, $0.gpu, String($0.gpus), String($0.freeGpus), String($0.freeMemoryBytes), String($0.largestBlockGpus)] }))
        case .table:
            var t = TextTable(["GPU TYPE", "SERVERS", "GPUS", "FREE", "FREE MEMORY", "LARGEST BLOCK", "WHOLE FREE SERVERS"], rightAligned: [1, 2, 3, 4, 6])
            for r in types {
                t.add([r.gpu, String(r.servers), String(r.gpus), String(r.freeGpus), Human.gib(r.freeMemoryBytes),
                       r.largestBlockGpus > 0 ? "\(r.largestBlockGpus) on \(r.largestBlockServer!)" : "-", String(r.wholeFreeServers)])
            }
            t.add(["total", "", String(json.totalGpus), String(json.freeGpus), Human.gib(json.freeMemoryBytes), "", ""])
            var s = TextTable(["SERVER", "GPU", "GPUS", "FREE", "FREE MEMORY"], rightAligned: [2, 3, 4])
            for r in rows { s.add([r.name, r.gpu, String(r.gpus), String(r.freeGpus), Human.gib(r.freeMemoryBytes)]) }
            out.write(perServer ? t.render() + "\n" + s.render() : t.render())
        }
    }
}
