import ArgumentParser
import Foundation
import Inventory
import PlanCore
import PlanModel
import Reports

struct ExportCommand: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the plan for a scheduler: Kubernetes manifests or Slurm batch scripts.",
        discussion: "One file per placed job (per replica for serving). Export writes files, never the database; the same database gives the same files.",
        subcommands: [ExportKubernetes.self, ExportSlurm.self])
    @OptionGroup var global: GlobalOptions
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

/// What both exports take: which jobs and where the files go.
struct ExportOptions: ParsableArguments {
    @Option(name: .customLong("job"), help: "Export only this job (repeatable; default: every placed job).") var jobs: [String] = []
    @Option(help: "The folder to write into (created if missing).") var output: String?
    @Option(help: "The command the work runs (default: a placeholder to replace).") var command: String?

    /// The placed work of the selected jobs, read in one snapshot.
    func work(_ ctx: Context) throws -> [PlacedWork] {
        let snap = try ctx.store(readOnly: true).snapshot()
        do {
            return try Export.work(snap, jobs: jobs)
        } catch let e as CoreError {
            throw PlanError.usage(e.description)
        }
    }

    /// Writes each file into the folder, atomically, never over the database.
    func write(_ files: [(String, String)], defaultFolder: String, ctx: Context) throws -> String {
        let folder = output ?? defaultFolder
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) {
            guard isDir.boolValue else { throw PlanError.usage("--output '\(folder)' is a file; give a folder") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw PlanError("cannot create the folder '\(folder)': \(error.localizedDescription)")
            }
        }
        for (name, text) in files {
            try ReportFile.write(text, to: (folder as NSString).appendingPathComponent(name), databasePath: ctx.databasePath)
        }
        return folder
    }
}

struct ExportKubernetes: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubernetes", abstract: "Write a Kubernetes manifest per placed job, pinned to its nodes.",
        discussion: """
            Training and pre-sized jobs become a batch/v1 Job; work that spans nodes an Indexed Job (one pod per node, \
            a headless Service for the rendezvous); each serving replica a Deployment. Pods are pinned with node \
            affinity on kubernetes.io/hostname and ask the vendor's GPU resource (nvidia.com/gpu, amd.com/gpu, \
            habana.ai/gaudi). The image and command are placeholders (annotated plan/placeholders) unless --image and \
            --command are given; the command runs as /bin/sh -c COMMAND.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var export: ExportOptions
    @Option(help: "The container image (default: a placeholder to replace).") var image: String?
    @Option(help: "The namespace (default: default).") var namespace: String = "default"
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let work = try export.work(ctx)
        let options = KubernetesExport.Options(image: image, command: export.command, namespace: namespace)
        let manifests = KubernetesExport.manifests(work, options: options)
        let header = ["Written by `plan export kubernetes` from the placed plan; edit the placeholders (plan/placeholders) before applying."]
        let folder = try export.write(
            manifests.map { ($0.file, YAMLWriter.render($0.documents, header: header)) }, defaultFolder: "plan-kubernetes", ctx: ctx)
        ctx.out.render(
            ExportReport(
                kind: "Kubernetes manifest", folder: folder,
                files: zip(manifests, work).map { (name: $0.file, job: $1.job, replica: $1.replica, nodes: $1.nodes.map(\.server)) }),
            output.format)
    }
}

struct ExportSlurm: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm", abstract: "Write a Slurm batch script per placed job, pinned to its nodes.",
        discussion: """
            Each script names its nodes (--nodelist, --nodes), the GPUs on each (--gres=gpu:<type>:<n>, the GRES type \
            Slurm gave at import, else the GPU id's first word), one task per node, the node memory in proportion to the \
            GPUs it holds (--mem) and the partition (the nodes' common one, or --partition). Work that spans nodes gets a \
            torchrun launch over srun. Check a script with `sbatch --test-only FILE`.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var export: ExportOptions
    @Option(help: "The partition (default: the one the nodes share, from a Slurm import).") var partition: String?
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let work = try export.work(ctx)
        let bad = SlurmExport.badNodeNames(work)
        if !bad.isEmpty {
            throw PlanError.usage(
                "server name\(bad.count == 1 ? "" : "s") \(bad.map { "'\($0)'" }.joined(separator: ", ")) "
                    + (bad.count == 1 ? "cannot be a Slurm node name " : "cannot be Slurm node names ")
                    + "(letters, digits, '.', '-', '_'); rename the server\(bad.count == 1 ? "" : "s") or import the fleet from Slurm")
        }
        let scripts = SlurmExport.scripts(work, options: SlurmExport.Options(command: export.command, partition: partition))
        let folder = try export.write(scripts.map { ($0.file, $0.script.text) }, defaultFolder: "plan-slurm", ctx: ctx)
        ctx.out.render(
            ExportReport(
                kind: "Slurm batch script", folder: folder,
                files: zip(scripts, work).map { (name: $0.file, job: $1.job, replica: $1.replica, nodes: $1.nodes.map(\.server)) }),
            output.format)
    }
}
