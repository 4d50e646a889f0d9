import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import PlanCore
import PlanModel
import Reports

struct JobCommand: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Add, remove, pin or unpin a planned workload.",
        subcommands: [JobAdd.self, JobRemove.self, JobPin.self, JobUnpin.self])
    @OptionGroup var global: GlobalOptions
    /// A group: on its own it prints its help (and the subcommands) rather than nothing.
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

struct JobAdd: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a job: an LLM workload sized by the estimator, or N GPUs of a given memory.",
        discussion: """
            Examples:
              plan job add llama3-8b-ft --model llama-3-8b --mode train --batch 1 --seq 2048 --priority 10
              plan job add llama3-8b-infer --model meta-llama/Meta-Llama-3-8B-Instruct --mode infer --replicas 3
              plan job add batch-eval --gpus 4 --gpu-memory 40GB --same-server
              plan job add chat --model llama-3.1-8b --mode infer --engine vllm --users 500 --context 8192 --tokens-per-s 25

            A serving job stated by its traffic (--users, --context, --tokens-per-s, optionally --ttft) gets as many \
            replicas as the GPU type it lands on needs to carry it; `plan place` and `plan gaps` size it that way.

            The planner picks the GPU type and split (fewest GPUs that fit with the headroom) unless you fix \
            --strategy/--tp/--pp or restrict --gpu-types. Headroom defaults to 10% of GPU memory for model jobs \
            and 0 for pre-sized jobs (their --gpu-memory is what they need).
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job name.") var name: String
    @Option(help: "Catalog id, alias, or a config.json path or folder (sized by the estimator).") var model: String?
    @OptionGroup var workloadOptions: WorkloadOptions
    @Option(help: "auto (the planner chooses; default), ddp, zero1, zero2, zero3 or fsdp.") var strategy: StrategyChoice = .auto
    @Option(parsing: .unconditional, help: "Fixed tensor-parallel degree.") var tp: Int?
    @Option(parsing: .unconditional, help: "Fixed pipeline-parallel stages.") var pp: Int?
    @Option(help: "CPU offload for training: optimizer or params.") var offload: Offload = .none
    @OptionGroup(title: "Serving engine and traffic") var speedOptions: SpeedOptions
    @Option(parsing: .unconditional, help: "Independent serving copies (inference).") var replicas: Int = 1
    @Option(parsing: .unconditional, help: "Higher places first (default 0).") var priority: Int = 0
    @Option(parsing: .unconditional, help: "Pre-sized job: this many whole GPUs (gang-scheduled). Model job: a fixed GPU count per copy.")
    var gpus: Int?
    @Option(name: .customLong("gpu-memory"), parsing: .unconditional, help: "Pre-sized job: memory each GPU must have, e.g. 40GB or 70GiB.") var gpuMemory: String?
    @Flag(name: .customLong("same-server"), help: "Pre-sized job: all GPUs on one server.") var sameServer = false
    @Option(name: .customLong("gpu-types"), help: "Allowed GPU types, comma-separated (default: any).") var gpuTypes: String?
    @Option(help: "Run only on this GPU type (same as --gpu-types with one type).") var gpu: String?
    @Option(parsing: .unconditional, help: "Fraction of each GPU's memory to keep free (default 0.1 for model jobs, 0 for pre-sized).") var headroom: Double?
    @Option(
        name: .customLong("min-fabric"),
        help: "The least network it needs to span servers: a fabric id (at least its rate, and RDMA if it has it) or 'any'. Default: 100 Gb/s RDMA (roce-100).")
    var minFabric: String?
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if let f = minFabric, FabricRequirement(parsing: f) == nil {
            throw ValidationError("unknown --min-fabric '\(f)'; valid: any, \(Fabric.all.filter { $0 != .none }.map(\.id).joined(separator: ", "))")
        }
        try Args.count(replicas, flag: "--replicas", range: 1...100_000)
        if let g = gpus { try Args.count(g, flag: "--gpus", range: 1...1024) }
        if let t = tp { try Args.count(t, flag: "--tp", range: 1...1024) }
        if let p = pp { try Args.count(p, flag: "--pp", range: 1...1024) }
        try Args.count(priority, flag: "--priority", range: Limits.priority)
        if let h = headroom, !(h >= 0 && h < 1) { throw ValidationError("invalid --headroom \(h); expected a fraction from 0 to 0.99") }
    }

    func input() throws -> JobInput {
        var j = JobInput(name: name)
        j.model = model
        if model != nil {
            j.workload = try workloadOptions.workload()
            j.modeGiven = workloadOptions.modeWasSet
            j.dtypeGiven = workloadOptions.dtypeOption != nil
        }
        j.serving = try speedOptions.servingRequest(mode: model != nil ? workloadOptions.mode : .train)
        j.offload = offload
        j.fp32Grads = workloadOptions.fp32Grads
        j.quantGroupSize = workloadOptions.quantGroupSize
        j.replicas = replicas
        j.priority = priority
        j.gpus = gpus
        j.gpuMemory = try gpuMemory.map { try Args.size($0, flag: "--gpu-memory") }
        j.sameServer = sameServer
        j.gpuTypes = (gpuTypes.map(JobInput.list) ?? []) + (gpu.map { [$0] } ?? [])
        j.headroom = headroom
        j.strategy = strategy.strategy
        j.tp = tp
        j.pp = pp
        j.minFabric = minFabric
        return j
    }

    func run(in ctx: Context) throws {
        let store = try ctx.store()
        let job = try input().validated(catalog: try store.catalog())
        do {
            try store.addJobs([job])
        } catch let e as RowError {
            throw PlanError("\(e); nothing was added")
        }
        let rec = try store.jobs().filter { $0.name == name }
        if output.format == .table {
            ctx.out.line("added job \(name) (pending; run `plan place` to place it)")
        } else {
            ctx.out.render(rec.map(JobItem.init), output.format)
        }
    }
}

/// `--strategy` for jobs: a fixed strategy, or `auto`.
enum StrategyChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, ddp, zero1, zero2, zero3, fsdp
    var strategy: Strategy? { Strategy(rawValue: rawValue) }
}

struct JobPin: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin", abstract: "Mark a placed job as running work: no plan (place --repack, gaps --repack) moves it.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job name.") var name: String

    func run(in ctx: Context) throws {
        try ctx.store().setPinned(name, true)
        ctx.out.line("pinned job \(name): plans keep it where it is")
    }
}

struct JobUnpin: PlanCommand {
    static let configuration = CommandConfiguration(commandName: "unpin", abstract: "Make a pinned job a plan again, free to move.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job name.") var name: String

    func run(in ctx: Context) throws {
        try ctx.store().setPinned(name, false)
        ctx.out.line("unpinned job \(name)")
    }
}

struct JobRemove: PlanCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a job; its GPUs become free.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Job name.") var name: String

    func run(in ctx: Context) throws {
        try ctx.store().removeJob(named: name)
        ctx.out.line("removed job \(name)")
    }
}

/// The JSON/CSV/table shape of a job (`plan jobs`).
struct JobItem: Listing {
    struct Allocation: Encodable {
        var server: String
        var gpus: [Int]
    }
    struct Placement: Encodable {
        var replica: Int
        var gpuType: String
        var strategy: PlacementStrategy
        var tp, pp, dp: Int
        var perGpuBytes: Int
        var hostBytes: Int
        var allocations: [Allocation]
    }
    var name: String
    var state: String
    var priority: Int
    var kind: NewJob.Kind
    var model: String?
    var mode: String?
    var replicas: Int
    var replicasPlaced: Int
    var gpus: Int?
    var gpuMemoryBytes: Int?
    var sameServer: Bool
    var gpuTypes: [String]
    var headroom: Double?
    var strategy: String?
    var tp: Int?
    var pp: Int?
    var spec: JobSpec?
    var placements: [Placement]

    init(_ r: JobRecord) {
        let j = r.job
        name = j.name
        state = r.job.pinned ? "pinned" : (r.isPlaced ? "placed" : "pending")
        priority = j.priority
        kind = j.kind
        model = j.modelID ?? (j.modelConfig != nil ? "config.json" : nil)
        mode = j.mode?.rawValue
        replicas = j.replicas
        replicasPlaced = r.placements.count
        gpus = j.gpus
        gpuMemoryBytes = j.gpuMemoryBytes
        sameServer = j.sameServer
        gpuTypes = j.gpuTypes
        headroom = j.headroom
        strategy = j.strategy?.rawValue
        tp = j.tp
        pp = j.pp
        spec = j.kind == .llm ? JobSpec.decode(j.spec) : nil
        placements = r.placements.map {
            Placement(
                replica: $0.replica, gpuType: $0.gpuType, strategy: $0.strategy, tp: $0.tp, pp: $0.pp, dp: $0.dp,
                perGpuBytes: $0.perGPUBytes, hostBytes: $0.hostBytes, allocations: $0.allocations.map { Allocation(server: $0.server, gpus: $0.gpus) })
        }
    }

    var sizing: String {
        if kind == .sized { return "\(gpus ?? 0) x >= \(Human.gib(gpuMemoryBytes ?? 0))\(sameServer ? " same server" : "")" }
        guard let w = spec?.workload else { return model ?? "" }
        var s = "\(model ?? "?") \(w.mode.rawValue)"
        if w.mode == .train { s += " \(w.method.rawValue)" }
        s += " b\(w.batch)x\(w.seq)"
        if replicas > 1 { s += " x\(replicas)" }
        return s
    }

    var where_: String {
        placements.map { p in
            "\(p.gpuType): " + p.allocations.map { "\($0.server)[\($0.gpus.map(String.init).joined(separator: ","))]" }.joined(separator: " ")
        }.joined(separator: "; ")
    }

    static let csvHeader = ["name", "state", "priority", "kind", "model", "mode", "replicas", "replicas_placed", "gpus", "gpu_memory_bytes"]
    var csvRow: [String] {
        [name, state, String(priority), kind.rawValue, model ?? "", mode ?? "", String(replicas), String(replicasPlaced),
         gpus.map(String.init) ?? "", gpuMemoryBytes.map(String.init) ?? ""]
    }
    static let tableHeader = ["NAME", "STATE", "PRIORITY", "SIZING", "PLACED", "WHERE"]
    static let rightAligned: Set<Int> = [2]
    var tableRow: [String] { [name, state, String(priority), sizing, "\(replicasPlaced)/\(replicas)", where_] }
}

struct Jobs: PlanCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs, whether they are placed, and where.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        ctx.out.render(try ctx.store(readOnly: true).jobs().map(JobItem.init), output.format)
    }
}

struct ImportJobs: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Import jobs from CSV or a JSON array, all or none.",
        discussion: """
            Columns / keys are the long flag names of `plan job add` with underscores: \
            \(JobInput.columns.joined(separator: ",")). One bad row rejects the whole file and names its line.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The CSV or JSON file.") var file: String
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let table = try InputTable.read(path: file, columns: JobInput.columns, required: ["name"])
        let store = try ctx.store()
        let catalog = try store.catalog()
        var jobs: [NewJob] = []
        jobs.reserveCapacity(table.rows.count)
        var validatedBySpec: [String: NewJob] = [:]
        for row in table.rows {
            let label = "\(file) \(row.label)"
            let input = try JobInput(row: row.values, where_: label)
            // Rows that differ only by name validate once.
            var key = row.values
            key["name"] = ""
            let k = key.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
            var job: NewJob
            if let hit = validatedBySpec[k] {
                job = hit
                job.name = input.name
            } else {
                do {
                    job = try input.validated(catalog: catalog)
                } catch {
                    let (message, code) = describe(error)
                    throw PlanError("\(label): \(message); nothing was imported", exitCode: code)
                }
                validatedBySpec[k] = job
            }
            jobs.append(job)
        }
        do {
            try store.addJobs(jobs)
        } catch let e as RowError {
            throw PlanError("\(file) \(table.rows[e.index].label): \(e); nothing was imported")
        }
        if output.format == .json {
            ctx.out.write(JSONOutput.encode(["jobs": jobs.count]))
        } else {
            ctx.out.line("imported \(jobs.count) jobs from \(file)")
        }
    }
}
