import ArgumentParser
import Foundation
import Inventory
import PlanCore
import PlanModel
import Reports

/// What every cluster import takes: how products map to GPU types, the network, and how a re-import
/// syncs (dry run, prune, force).
struct SyncOptions: ParsableArguments {
    @Option(
        name: .customLong("gpu-map"),
        help: "Products or Slurm GRES types to GPU types, comma-separated: h100=h100-sxm-80gb,NVIDIA-L40S=l40s-48gb.")
    var gpuMap: String?
    @Option(help: "The servers' network to each other (ib-ndr-400, roce-200, ethernet-25, none, ...); default: the matching SKU's.")
    var fabric: String?
    @Option(help: "Leave these nodes out, comma-separated (for example nodes with MIG slices).") var exclude: String?
    @Flag(name: .customLong("dry-run"), help: "Show what would be added, changed and missing; write nothing.") var dryRun = false
    @Flag(help: "Remove servers this source imported before that the list no longer has.") var prune = false
    @Flag(help: "Unplace jobs on servers whose GPUs change or that are pruned (refused otherwise).") var force = false

    func validate() throws {
        if let f = fabric, Fabric.named(f) == nil {
            throw ValidationError("unknown --fabric '\(f)'; valid: \(Fabric.all.map(\.id).joined(separator: ", "))")
        }
    }

    var excluded: Set<String> { Set((exclude ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
}

/// Reads a file, or standard input for `-`.
func readInput(_ path: String, _ ctx: Context) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: path) else {
        let exists = FileManager.default.fileExists(atPath: path)
        throw PlanError(exists ? "cannot read '\(path)': permission denied or a folder" : "no such file '\(path)'")
    }
    return data
}

extension SyncOptions {
    /// Reads a node list (its errors name the file), then syncs the fleet with it.
    func importing(
        _ file: String, source: FleetSource, site: String?, ctx: Context, format: OutputFormat,
        read: () throws -> (nodes: [DiscoveredNode], skipped: Int)
    ) throws {
        let list: (nodes: [DiscoveredNode], skipped: Int)
        do {
            list = try read()
        } catch let e as ImportError {
            throw PlanError("\(file): \(e); nothing was imported")
        }
        try sync(list.nodes, skipped: list.skipped, source: source, site: site, file: file, ctx: ctx, format: format)
    }

    /// Matches the nodes to GPU types and syncs the fleet; prints the report.
    func sync(_ nodes: [DiscoveredNode], skipped: Int, source: FleetSource, site: String?, file: String, ctx: Context, format: OutputFormat) throws {
        let store = try dryRun ? ctx.storeForDryRun() : ctx.store()
        let catalog = try store.gpuTypes()
        let result: FleetImport.Result
        do {
            result = try FleetImport.servers(
                nodes, source: source, catalog: catalog, gpuMap: try GPUProducts.map(gpuMap, catalog: catalog), fabric: fabric, site: site,
                exclude: excluded)
        } catch let e as ImportError {
            throw PlanError("\(file): \(e); nothing was imported")
        }
        if result.servers.isEmpty { throw PlanError("\(file): \(ImportError.noNodes(format: "node list", skipped: skipped)); nothing was imported") }
        let report: SyncReport
        do {
            report = try store.syncServers(result.servers, source: source, prune: prune, force: force, dryRun: dryRun, keep: excluded)
        } catch let e as RowError {
            throw PlanError("\(file): node '\(result.servers[e.index].name)': \(e); nothing was imported")
        }
        ctx.out.render(ImportReport(report: report, dryRun: dryRun, skipped: skipped, notes: result.notes, file: file), format)
    }
}

struct ImportKubernetes: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubernetes", abstract: "Sync servers with a Kubernetes node list (kubectl get nodes -o json).",
        discussion: """
            GPUs from status.capacity (nvidia.com/gpu, amd.com/gpu, gpu.intel.com/*), the product from GPU Feature \
            Discovery's nvidia.com/gpu.product label, site from topology.kubernetes.io/zone (else region), rack from \
            --rack-label, host memory from status.capacity.memory. Cordoned and NotReady nodes are kept and marked; \
            they take no new work. Nodes without GPUs are skipped and counted. Servers are matched by name.

            Example: kubectl get nodes -o json | plan import kubernetes - --rack-label example.com/rack
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file, or - for standard input.") var file: String
    @Option(name: .customLong("rack-label"), help: "The node label that names a node's rack.") var rackLabel: String?
    @OptionGroup var sync: SyncOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let data = try readInput(file, ctx)
        try sync.importing(file, source: .kubernetes, site: nil, ctx: ctx, format: output.format) {
            try NodeListReader.kubernetes(data, rackLabel: rackLabel)
        }
    }
}

struct ImportSlurm: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm", abstract: "Sync servers with Slurm's node table (scontrol show node --oneliner, or sinfo).",
        discussion: """
            Reads `scontrol show node --oneliner`, or `sinfo -N -h -o "%N|%G|%m|%T|%P"` (the format is told apart by \
            its content). GPUs from Gres=gpu:<type>:<n> (a socket suffix is ignored), host memory from RealMemory, \
            partitions and state kept; DRAIN and DOWN nodes are marked and take no new work. A GRES type names a family \
            (h100 can be SXM, PCIe or NVL): an ambiguous one is refused, listing the candidates; settle it with \
            --gpu-map h100=h100-sxm-80gb.

            Example: scontrol show node --oneliner | plan import slurm - --gpu-map h100=h100-sxm-80gb --site dc1
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file, or - for standard input.") var file: String
    @Option(help: "The site (data centre) of these nodes.") var site: String?
    @OptionGroup var sync: SyncOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let text = String(decoding: try readInput(file, ctx), as: UTF8.self)
        try sync.importing(file, source: .slurm, site: site, ctx: ctx, format: output.format) {
            text.contains("NodeName=") ? try NodeListReader.scontrol(text) : try NodeListReader.sinfo(text)
        }
    }
}

struct ImportNvidiaSMI: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "nvidia-smi", abstract: "Sync servers with nvidia-smi's output, one file per host.",
        discussion: """
            Each file is `nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id --format=csv` or `nvidia-smi -q -x` \
            of one host, named by --host (one file) or by the file name without its extension. The driver's memory \
            figure is checked against the catalog.

            Example: plan import nvidia-smi gpu-node-1.csv gpu-node-2.xml --site dc1
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "One file per host (- for standard input, with --host).") var files: [String]
    @Option(help: "The host's name when one file is given (default: the file name without extension).") var host: String?
    @Option(help: "The site (data centre) of these hosts.") var site: String?
    @OptionGroup var sync: SyncOptions
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one nvidia-smi output file") }
        if host != nil && files.count > 1 { throw ValidationError("--host names one host; give one file with it, or name the files after the hosts") }
        if files.contains("-") && host == nil { throw ValidationError("standard input has no file name; give --host NAME") }
    }

    func run(in ctx: Context) throws {
        var nodes: [DiscoveredNode] = []
        for f in files {
            let data = try readInput(f, ctx)
            let name = host ?? ((f as NSString).lastPathComponent as NSString).deletingPathExtension
            let first = data.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 })
            do {
                nodes.append(
                    first == UInt8(ascii: "<")
                        ? try NodeListReader.nvidiaSMIXML(data, host: name)
                        : try NodeListReader.nvidiaSMICSV(String(decoding: data, as: UTF8.self), host: name))
            } catch let e as ImportError {
                throw PlanError("\(f): \(e); nothing was imported")
            }
        }
        try sync.sync(
            nodes, skipped: 0, source: .nvidiaSMI, site: site, file: files.joined(separator: ", "), ctx: ctx, format: output.format)
    }
}

struct GPUAlias: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias", abstract: "Name a GPU type by another product name (what a cluster calls it), for imports.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The product name, e.g. NVIDIA-H100-80GB-HBM3 or a Slurm GRES type.") var name: String
    @Argument(help: "The GPU type id (see `plan gpus`).") var gpu: String
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let g = try ctx.store().addGPUAlias(name, gpu: gpu)
        ctx.out.render([GPUItem(g)], output.format)
    }
}
