import ArgumentParser
import Foundation
import Inventory
import PlanModel
import Reports

struct Init: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the database, apply pending migrations and load the catalogs (idempotent).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Re-load the catalog seeds even if unchanged (your prices and added rows are kept).") var reseed = false
    @OptionGroup var output: FormatOptions

    struct Summary: Encodable {
        var database: String
        var schemaVersion: Int
        var gpuTypes, serverSkus, models, servers: Int
    }

    func run(in ctx: Context) throws {
        let store = try ctx.store()
        if reseed { try store.reseed() }
        let cat = try store.catalog()
        let s = Summary(
            database: store.path, schemaVersion: try store.schemaVersion(), gpuTypes: cat.gpus.count,
            serverSkus: cat.skus.count, models: cat.models.count, servers: try store.servers().count)
        if output.format == .json {
            ctx.out.write(JSONOutput.encode(s))
        } else {
            ctx.out.line(
                "database \(s.database) (schema \(s.schemaVersion)): \(s.gpuTypes) GPU types, \(s.serverSkus) server SKUs, "
                    + "\(s.models) models, \(s.servers) servers")
        }
    }
}

/// The JSON shape of one server (`plan servers`, `plan add-server`).
struct ServerItem: Listing, JSONWriter.DirectJSON {
    struct Slot: Encodable {
        var index: Int
        var memoryBytes: Int
        var job: String?
        var replica: Int?
    }
    var name: String
    var gpu: String
    var gpus: Int
    var gpuMemoryBytes: Int
    var freeGpus: Int
    var hostMemoryBytes: Int
    var site: String
    var rack: String
    var fabric: String
    var fabricBytesPerS: Int
    var allocations: [Slot]
    var state: String
    var source: String
    var partitions: [String]

    init(_ s: ServerInfo) {
        state = s.origin.state.rawValue
        source = s.origin.source == .manual ? "manual" : s.origin.source.rawValue
        partitions = s.origin.partitions
        fabric = s.fabric
        fabricBytesPerS = Fabric.named(s.fabric)?.bytesPerSecond ?? 0
        name = s.name
        gpu = s.gpuType
        gpus = s.gpuCount
        gpuMemoryBytes = s.gpuMemoryBytes
        freeGpus = s.freeGPUs
        hostMemoryBytes = s.hostMemoryBytes
        site = s.site
        rack = s.rack
        allocations = s.gpus.map { Slot(index: $0.index, memoryBytes: $0.memoryBytes, job: $0.job, replica: $0.replica) }
    }

    /// Only the table shows it; JSON and CSV listings of a large fleet do not pay for it.
    var holds: String { Self.holds(allocations) }

    static let csvHeader = [
        "name", "gpu", "gpus", "gpu_memory_bytes", "free_gpus", "host_memory_bytes", "site", "rack", "fabric", "state", "source",
    ]
    var csvRow: [String] {
        [name, gpu, String(gpus), String(gpuMemoryBytes), String(freeGpus), String(hostMemoryBytes), site, rack, fabric, state, source]
    }
    static let tableHeader = ["NAME", "GPU", "GPUS", "FREE", "GPU MEMORY", "HOST MEMORY", "SITE", "RACK", "FABRIC", "STATE", "HOLDS"]
    static let rightAligned: Set<Int> = [2, 3, 4, 5]
    var tableRow: [String] {
        [name, gpu, String(gpus), String(freeGpus), Human.gib(gpuMemoryBytes), Human.gib(hostMemoryBytes), site, rack, fabric, state, holds]
    }

    enum CodingKeys: String, CodingKey {
        case name, gpu, gpus, gpuMemoryBytes, freeGpus, hostMemoryBytes, site, rack, fabric, fabricBytesPerS, allocations, state, source, partitions
    }

    /// What `Encodable` would give (absent optionals are left out), built directly: the listing of
    /// 100,000 servers spends its time here.
    var jsonValue: JSONWriter.Value {
        let slots = JSONWriter.Node(isArray: true)
        slots.items.reserveCapacity(allocations.count)
        for a in allocations {
            let n = JSONWriter.Node(isArray: false)
            n.append(.int(a.index), key: "index")
            if let j = a.job { n.append(.string(j), key: "job") }
            n.append(.int(a.memoryBytes), key: "memory_bytes")
            if let r = a.replica { n.append(.int(r), key: "replica") }
            slots.append(.node(n))
        }
        let parts = JSONWriter.Node(isArray: true)
        for p in partitions { parts.append(.string(p)) }
        return JSONWriter.object([
            "allocations": .node(slots), "fabric": .string(fabric), "fabric_bytes_per_s": .int(fabricBytesPerS),
            "free_gpus": .int(freeGpus), "gpu": .string(gpu), "gpu_memory_bytes": .int(gpuMemoryBytes),
            "gpus": .int(gpus), "host_memory_bytes": .int(hostMemoryBytes), "name": .string(name), "rack": .string(rack),
            "site": .string(site), "state": .string(state), "source": .string(source),
            "partitions": .node(parts),
        ])
    }

    /// "0-3:llama3-8b-ft 4:llama3-8b-infer#1" — which job holds which GPUs.
    static func holds(_ g: [Slot]) -> String {
        var parts: [String] = []
        var i = 0
        while i < g.count {
            guard let job = g[i].job else {
                i += 1
                continue
            }
            var j = i
            while j + 1 < g.count && g[j + 1].job == job && g[j + 1].replica == g[i].replica { j += 1 }
            let range = i == j ? "\(g[i].index)" : "\(g[i].index)-\(g[j].index)"
            let who = (g[i].replica ?? 0) > 0 ? "\(job)#\(g[i].replica!)" : job
            parts.append("\(range):\(who)")
            i = j + 1
        }
        return parts.joined(separator: " ")
    }
}

struct AddServer: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-server", abstract: "Add a server (or --count identical ones) to the fleet.",
        discussion: """
            Example: plan add-server gpu-node --gpu h100-sxm-80gb --gpus 8 --count 4  (adds gpu-node-1 ... gpu-node-4)

            Host memory defaults to the matching catalog SKU's, else twice the server's GPU memory. \
            The fabric (the network to other servers) defaults to the matching catalog SKU's, else none; \
            servers at the same --site on the same fabric can run one job together.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Server name (with --count: the prefix of NAME-1 ... NAME-K).") var name: String
    @Option(help: "GPU type id or alias (see `plan gpus`).") var gpu: String
    @Option(parsing: .unconditional, help: "GPUs in the server (1 to 1024).") var gpus: Int
    @Option(name: .customLong("host-memory"), parsing: .unconditional, help: "Host (CPU) memory, e.g. 2TiB or 512GB.") var hostMemory: String?
    @Option(help: "Site or data-center label.") var site: String = ""
    @Option(help: "Rack label.") var rack: String = ""
    @Option(parsing: .unconditional, help: "Add K identical servers named NAME-1 ... NAME-K (1 to 100000).") var count: Int?
    @Option(help: "Inter-server fabric: \(Fabric.all.map(\.id).joined(separator: ", ")).") var fabric: String?
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if let f = fabric, Fabric.named(f) == nil {
            throw ValidationError("unknown --fabric '\(f)'; valid: \(Fabric.all.map(\.id).joined(separator: ", "))")
        }
        try Args.count(gpus, flag: "--gpus", range: 1...1024)
        if let c = count { try Args.count(c, flag: "--count", range: 1...100_000) }
        if (count ?? 1) * gpus > 2_000_000 {
            throw ValidationError("--count \(count ?? 1) x --gpus \(gpus) adds more than 2,000,000 GPUs at once; use several commands")
        }
        if name.isEmpty { throw PlanError.usage("the server name is empty; give a name such as 'gpu-node-1'") }
    }

    func run(in ctx: Context) throws {
        let host = try hostMemory.map { try Args.size($0, flag: "--host-memory") }
        let names = count.map { k in (1...k).map { "\(name)-\($0)" } } ?? [name]
        let specs = names.map { NewServer(name: $0, gpu: gpu, gpus: gpus, hostMemoryBytes: host, site: site, rack: rack, fabric: fabric) }
        let store = try ctx.store()
        do {
            try store.addServers(specs)
        } catch let e as RowError {
            throw PlanError("\(e); nothing was added")
        }
        let added = Set(names)
        let servers = try store.servers().filter { added.contains($0.name) }
        if output.format == .table {
            for s in servers {
                ctx.out.line(
                    "added \(s.name): \(s.gpuCount) x \(s.gpuType) (\(Human.gib(s.gpuMemoryBytes)) each), host memory \(Human.gib(s.hostMemoryBytes)), fabric \(s.fabric)")
            }
        } else {
            ctx.out.render(servers.map(ServerItem.init), output.format)
        }
    }
}

struct Import: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import servers or jobs from CSV or JSON, or sync servers with a cluster (Kubernetes, Slurm, nvidia-smi); all or none.",
        subcommands: [ImportServers.self, ImportJobs.self, ImportKubernetes.self, ImportSlurm.self, ImportNvidiaSMI.self])
    @OptionGroup var global: GlobalOptions
    /// A group: on its own it prints its help (and the subcommands) rather than nothing.
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

struct ImportServers: PlanCommand {
    static let columns = ["name", "gpu", "gpus", "host_memory", "site", "rack", "fabric"]
    static let configuration = CommandConfiguration(
        commandName: "servers", abstract: "Import servers from CSV or a JSON array.",
        discussion: """
            CSV header: name,gpu,gpus,host_memory,site,rack[,fabric] (empty cells take the defaults). JSON: an array of \
            objects with the same keys. One bad row rejects the whole file and names its line.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The CSV or JSON file.") var file: String
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let table = try InputTable.read(path: file, columns: Self.columns, required: ["name", "gpu", "gpus"])
        var specs: [NewServer] = []
        specs.reserveCapacity(table.rows.count)
        for row in table.rows {
            let v = row.values
            guard let name = v["name"], !name.isEmpty else {
                throw PlanError("\(file) \(row.label): the name is empty; every server needs a name; nothing was imported")
            }
            guard let gpu = v["gpu"] else {
                throw PlanError("\(file) \(row.label): the gpu is empty; give a GPU id from `plan gpus`; nothing was imported")
            }
            guard let gpusText = v["gpus"] else {
                throw PlanError("\(file) \(row.label): gpus is empty; give the number of GPUs (1 to 1024); nothing was imported")
            }
            let gpus = try Args.int(gpusText, column: "gpus", label: row.label, path: file, range: 1...1024)
            var host: Int?
            if let h = v["host_memory"] {
                guard let b = ByteSize.parse(h) else {
                    throw PlanError("\(file) \(row.label): invalid host_memory '\(h)'; expected \(ByteSize.validForms); nothing was imported")
                }
                host = b.value
            }
            specs.append(
                NewServer(name: name, gpu: gpu, gpus: gpus, hostMemoryBytes: host, site: v["site"] ?? "", rack: v["rack"] ?? "", fabric: v["fabric"]))
        }
        let store = try ctx.store()
        do {
            try store.addServers(specs)
        } catch let e as RowError {
            throw PlanError("\(file) \(table.rows[e.index].label): \(e); nothing was imported")
        }
        let gpuCount = specs.reduce(0) { $0 + $1.gpus }
        if output.format == .json {
            ctx.out.write(JSONOutput.encode(["servers": specs.count, "gpus": gpuCount]))
        } else {
            ctx.out.line("imported \(specs.count) servers with \(gpuCount) GPUs from \(file)")
        }
    }
}

struct Servers: PlanCommand {
    static let configuration = CommandConfiguration(
        abstract: "List servers, their GPUs, and which job holds each GPU.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        ctx.out.render(try ctx.store(readOnly: true).servers().map(ServerItem.init), output.format)
    }
}

struct RemoveServer: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-server",
        abstract: "Remove a server and its GPUs.",
        discussion: "Refuses while jobs are placed on it unless --force, which unplaces them (they become pending again).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The server's name.") var name: String
    @Flag(help: "Unplace the jobs placed on it first.") var force = false
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let r = try ctx.store().removeServer(named: name, force: force)
        if output.format == .json {
            ctx.out.write(JSONOutput.encode(["removed": [r.server], "unplaced_jobs": r.unplacedJobs]))
        } else {
            ctx.out.line("removed \(r.server)")
            if !r.unplacedJobs.isEmpty { ctx.out.line("unplaced (now pending): \(r.unplacedJobs.joined(separator: ", "))") }
        }
    }
}

/// `plan server add|remove|list`: the same commands as add-server, remove-server and servers, named
/// like `plan job add|remove` (the older names stay; scripts that use them keep working).
struct ServerCommand: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Add, remove or list servers (also: add-server, remove-server, servers).",
        subcommands: [ServerAdd.self, ServerRemove.self, ServerList.self])
    @OptionGroup var global: GlobalOptions
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

/// A command under another name: parses the same options and runs the same code.
protocol RenamedCommand: PlanCommand {
    associatedtype Base: PlanCommand
    var base: Base { get set }
}

extension RenamedCommand {
    var global: GlobalOptions { base.global }
    mutating func validate() throws { try base.validate() }
    func run(in ctx: Context) throws { try base.run(in: ctx) }
}

struct ServerAdd: RenamedCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: AddServer.configuration.abstract, discussion: AddServer.configuration.discussion)
    @OptionGroup var base: AddServer
}

struct ServerRemove: RenamedCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: RemoveServer.configuration.abstract, discussion: RemoveServer.configuration.discussion)
    @OptionGroup var base: RemoveServer
}

struct ServerList: RenamedCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: Servers.configuration.abstract)
    @OptionGroup var base: Servers
}
