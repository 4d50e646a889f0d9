import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import Placement
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
        let result = try store.plan(dryRun: dryRun) { snap in try PlaceRun.compute(snap, only: only, repack: repack) }
        ctx.out.write(result.render(output.format, dryRun: dryRun))
        if strict && !result.unplaced.isEmpty { throw Exit(code: ExitCode.unplaced) }
    }
}

/// One planning run: what was placed, what could not be, and (repack) what moved.
struct PlaceRun {
    struct PlacedItem: Encodable {
        struct Alloc: Encodable {
            var server: String
            var gpus: [Int]
        }
        var job: String
        var replica: Int
        var strategy: String
        var tp, pp, dp: Int
        var gpuType: String
        var perGpuBytes: Int
        var hostBytes: Int
        var allocations: [Alloc]
    }
    struct UnplacedItem: Encodable {
        var job: String
        var replica: Int
        var reason: String
    }
    struct Move: Encodable {
        var job: String
        var from: String
        var to: String
    }
    struct JSON: Encodable {
        var placed: [PlacedItem]
        var unplaced: [UnplacedItem]
        var moves: [Move]?
        var dryRun: Bool
        var provedOptimal: Bool
        /// At most this many units (jobs, or replicas) could be placed in this run (GPU-count relaxation).
        var upperBound: Int
        /// The solver's bound on its objective (priority-weighted units minus GPUs) and its relative
        /// gap; absent when the solver did not run (every unit placed, or the model too large).
        var bound: Double?
        var gap: Double?
    }

    var placed: [PlacedItem] = []
    var unplaced: [UnplacedItem] = []
    var moves: [Move]? = nil
    var provedOptimal = false
    var upperBound = 0
    var bound: Double? = nil
    var gap: Double? = nil
    var note: String? = nil

    static func compute(_ snap: PlanningSnapshot, only: [String], repack: Bool) throws -> (PlanChanges, PlaceRun) {
        let known = Set(snap.jobs.map(\.name))
        for n in only where !known.contains(n) {
            throw PlanError("unknown job '\(n)'; `plan jobs` lists the \(known.count) known jobs")
        }
        let selected = only.isEmpty ? snap.jobs : snap.jobs.filter { only.contains($0.name) }
        var sizer = Sizer(catalog: snap.catalog.gpus, servers: snap.servers)
        if repack {
            return repackRun(snap, sizer: &sizer)
        }
        let units = selected.flatMap { sizer.units(for: $0, ignorePlaced: false) }
        let servers = FleetState.planner(snap.servers)
        let outcome = Planner.place(units: units, servers: servers)
        var run = PlaceRun()
        run.provedOptimal = outcome.provedOptimal
        run.upperBound = outcome.upperBound
        run.bound = outcome.solverBound
        run.gap = outcome.gap
        let adds = outcome.assignments.map { placement($0, units, snap.servers) }
        run.placed = items(adds, snap.servers)
        run.unplaced = outcome.unplaced.map { UnplacedItem(job: units[$0.unit].job, replica: units[$0.unit].replica, reason: $0.reason) }
        run.sort()
        return (PlanChanges(add: adds), run)
    }

    /// Plans every job from an empty fleet; adopts the plan when it places more units (priority by
    /// priority) or, placing as many, leaves fewer servers partly used.
    static func repackRun(_ snap: PlanningSnapshot, sizer: inout Sizer) -> (PlanChanges, PlaceRun) {
        let all = Set(snap.jobs.map(\.name))
        let units = snap.jobs.flatMap { sizer.units(for: $0, ignorePlaced: true) }
        let servers = FleetState.planner(snap.servers, ignoring: all)
        let outcome = Planner.place(units: units, servers: servers)
        let levels = Array(Set(snap.jobs.map(\.job.priority))).sorted(by: >)
        func score(_ byPriority: [Int]) -> [Int] { levels.map { l in byPriority.filter { $0 == l }.count } }
        // The alternative: keep what is placed and place the pending jobs around it.
        var (incChanges, incremental) = (try? compute(snap, only: [], repack: false)) ?? (PlanChanges(), PlaceRun())
        let priorityOf = Dictionary(uniqueKeysWithValues: snap.jobs.map { ($0.name, $0.job.priority) })
        let newScore = score(outcome.assignments.map { units[$0.unit].priority })
        let keepScore = score(snap.jobs.flatMap { j in j.placements.map { _ in j.job.priority } } + incChanges.add.map { priorityOf[$0.job]! })
        // Servers left partly used by each plan.
        var usedNew: [String: Int] = [:]
        for a in outcome.assignments { for al in a.allocations { usedNew[servers[al.server].name, default: 0] += al.gpus.count } }
        var usedKeep: [String: Int] = [:]
        for s in snap.servers { usedKeep[s.name] = s.gpuCount - s.freeGPUs }
        let serverOfGPU = gpuIndex(snap.servers)
        for p in incChanges.add { for g in p.gpuIDs { usedKeep[serverOfGPU[g]!.0, default: 0] += 1 } }
        func partly(_ used: [String: Int]) -> Int {
            snap.servers.filter { (used[$0.name] ?? 0) > 0 && used[$0.name]! < $0.gpuCount }.count
        }
        var run = PlaceRun()
        run.provedOptimal = outcome.provedOptimal
        run.upperBound = outcome.upperBound
        run.bound = outcome.solverBound
        run.gap = outcome.gap
        let better = newScore != keepScore ? !newScore.lexicographicallyPrecedes(keepScore) : partly(usedNew) < partly(usedKeep)
        guard better else {
            incremental.moves = []
            incremental.note = "the current packing is kept: a full re-plan places no more jobs and leaves no fewer servers partly used"
            incChanges.remove = []
            return (incChanges, incremental)
        }
        let adds = outcome.assignments.map { placement($0, units, snap.servers) }
        var before: [String: String] = [:]
        for j in snap.jobs { for p in j.placements { before["\(j.name)#\(p.replica)"] = describe(p.allocations) } }
        var moves: [Move] = []
        let placedItems = items(adds, snap.servers)
        for (a, placedItem) in zip(adds, placedItems) {
            let after = describe(placedItem.allocations.map { ($0.server, $0.gpus) })
            let key = "\(a.job)#\(a.replica)"
            if let b = before[key], b != after { moves.append(Move(job: a.replica > 0 ? key : a.job, from: b, to: after)) }
        }
        run.moves = moves.sorted { naturalLess($0.job, $1.job) }
        run.placed = placedItems
        run.unplaced = outcome.unplaced.map { UnplacedItem(job: units[$0.unit].job, replica: units[$0.unit].replica, reason: $0.reason) }
        run.sort()
        let removals = snap.jobs.flatMap { $0.placements.map(\.id) }
        return (PlanChanges(remove: removals, add: adds), run)
    }

    static func describe(_ allocs: [(server: String, gpus: [Int])]) -> String {
        allocs.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")
    }

    static func placement(_ a: Assignment, _ units: [JobUnit], _ servers: [ServerInfo]) -> NewPlacement {
        let u = units[a.unit]
        var ids: [Int] = []
        for al in a.allocations {
            let slots = servers[al.server].gpus
            for g in al.gpus { ids.append(slots.first { $0.index == g }!.id) }
        }
        return NewPlacement(
            job: u.job, replica: u.replica, strategy: a.shape.strategy, tp: a.shape.tp, pp: a.shape.pp, dp: a.shape.dp,
            gpuType: a.shape.gpuType, perGPUBytes: a.shape.perGPUBytes, hostBytes: a.shape.hostBytesPerGPU * a.shape.gpus, gpuIDs: ids)
    }

    /// Where each GPU id is: (server name, index).
    static func gpuIndex(_ servers: [ServerInfo]) -> [Int: (String, Int)] {
        var where_: [Int: (String, Int)] = [:]
        for s in servers { for g in s.gpus { where_[g.id] = (s.name, g.index) } }
        return where_
    }

    static func items(_ adds: [NewPlacement], _ servers: [ServerInfo]) -> [PlacedItem] {
        let index = gpuIndex(servers)
        return adds.map { item($0, index) }
    }

    static func item(_ p: NewPlacement, _ where_: [Int: (String, Int)]) -> PlacedItem {
        var allocs: [PlacedItem.Alloc] = []
        for id in p.gpuIDs {
            let (server, idx) = where_[id]!
            if allocs.last?.server == server { allocs[allocs.count - 1].gpus.append(idx) } else { allocs.append(.init(server: server, gpus: [idx])) }
        }
        return PlacedItem(
            job: p.job, replica: p.replica, strategy: p.strategy, tp: p.tp, pp: p.pp, dp: p.dp, gpuType: p.gpuType,
            perGpuBytes: p.perGPUBytes, hostBytes: p.hostBytes, allocations: allocs)
    }

    mutating func sort() {
        placed.sort { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
        unplaced.sort { naturalLess($0.job, $1.job) || ($0.job == $1.job && $0.replica < $1.replica) }
    }

    func render(_ format: OutputFormat, dryRun: Bool) -> String {
        switch format {
        case .json:
            return JSONOutput.encode(
                JSON(placed: placed, unplaced: unplaced, moves: moves, dryRun: dryRun, provedOptimal: provedOptimal, upperBound: upperBound,
                    bound: bound, gap: gap))
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
