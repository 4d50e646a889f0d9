import Foundation
import PlanModel

/// One placed unit (a training gang, a pre-sized gang, or one serving replica) as a scheduler sees
/// it: which nodes, how many GPUs on each, and the memory share of each node.
public struct PlacedWork: Sendable, Equatable {
    public enum Kind: String, Sendable { case training, serving, sized }
    public var job: String
    public var replica: Int
    /// Replicas the job has (names carry the replica only when there are several).
    public var replicas: Int
    public var kind: Kind
    public var gpuType: String
    /// (server, GPUs on it), servers in natural order.
    public var nodes: [(server: String, gpus: Int)]
    /// Slurm's GRES type of each node's GPUs (the imported one, else the GPU id's first word).
    public var gresType: String
    /// Host memory the unit may use on each node: the node's memory in proportion to its GPUs held,
    /// and at least the offload it needs there; MiB.
    public var memMiBPerNode: Int
    /// The Slurm partition every node is in (the first common one), if known.
    public var partition: String?
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var strategy: String
    public var perGPUBytes: Int
    /// The GPU type's vendor (`nvidia`, `amd`, `intel`), for the device plugin's resource name.
    public var vendor: String = "nvidia"

    public init(
        job: String, replica: Int, replicas: Int, kind: Kind, gpuType: String, nodes: [(server: String, gpus: Int)], gresType: String,
        memMiBPerNode: Int, partition: String?, tp: Int, pp: Int, dp: Int, strategy: String, perGPUBytes: Int, vendor: String
    ) {
        self.job = job
        self.replica = replica
        self.replicas = replicas
        self.kind = kind
        self.gpuType = gpuType
        self.nodes = nodes
        self.gresType = gresType
        self.memMiBPerNode = memMiBPerNode
        self.partition = partition
        self.tp = tp
        self.pp = pp
        self.dp = dp
        self.strategy = strategy
        self.perGPUBytes = perGPUBytes
        self.vendor = vendor
    }

    public static func == (a: PlacedWork, b: PlacedWork) -> Bool {
        a.job == b.job && a.replica == b.replica && a.nodes.map(\.server) == b.nodes.map(\.server)
            && a.nodes.map(\.gpus) == b.nodes.map(\.gpus) && a.kind == b.kind && a.gpuType == b.gpuType
    }

    /// GPUs on its busiest node (a scheduler asks the same count on every node).
    public var gpusPerNode: Int { nodes.map(\.gpus).max() ?? 0 }
    public var evenNodes: Bool { Set(nodes.map(\.gpus)).count <= 1 }
    public var gpus: Int { nodes.reduce(0) { $0 + $1.gpus } }
}

/// What `plan export` writes: the placed work of the plan, job by job, for a scheduler to run.
public enum Export {
    /// The placed units of `jobs` (all placed jobs when empty), jobs by name and replicas in order.
    public static func work(_ snap: PlanningSnapshot, jobs only: [String]) throws -> [PlacedWork] {
        let known = Set(snap.jobs.map(\.name))
        for n in only where !known.contains(n) { throw CoreError.unknownJob(n, known: known.count) }
        let servers = Dictionary(uniqueKeysWithValues: snap.servers.map { ($0.name, $0) })
        let vendors = Dictionary(uniqueKeysWithValues: snap.catalog.gpus.map { ($0.id, $0.vendor) })
        var out: [PlacedWork] = []
        for j in snap.jobs.sorted(by: { naturalLess($0.name, $1.name) }) where only.isEmpty || only.contains(j.name) {
            for p in j.placements.sorted(by: { $0.replica < $1.replica }) {
                let nodes = p.allocations.map { (server: $0.server, gpus: $0.gpus.count) }
                let infos = nodes.compactMap { servers[$0.server] }
                let kind: PlacedWork.Kind =
                    switch p.strategy {
                    case .replica: .serving
                    case .sized: .sized
                    case .training: .training
                    }
                // One --mem for every node: the smallest node's share of its memory for the GPUs held there (and at
                // least the offload the unit needs per node), never more than the smallest node has.
                var mem = Int.max
                var need = 0
                var smallest = Int.max
                for (n, s) in zip(nodes, infos) {
                    mem = min(mem, s.hostMemoryBytes / max(s.gpuCount, 1) * n.gpus)
                    need = max(need, p.hostBytes / max(p.gpuIDs.count, 1) * n.gpus)
                    smallest = min(smallest, s.hostMemoryBytes)
                }
                mem = infos.isEmpty ? 0 : min(max(mem, need), smallest)
                let partitions = infos.map(\.origin.partitions)
                let common = partitions.first?.first { part in partitions.allSatisfy { $0.contains(part) } }
                let gres = infos.first.map { $0.origin.gresType.isEmpty ? defaultGRESType(p.gpuType) : $0.origin.gresType }
                    ?? defaultGRESType(p.gpuType)
                out.append(
                    PlacedWork(
                        job: j.name, replica: p.replica, replicas: j.job.replicas, kind: kind, gpuType: p.gpuType, nodes: nodes,
                        gresType: gres, memMiBPerNode: mem / 1_048_576, partition: common, tp: p.tp, pp: p.pp, dp: p.dp,
                        strategy: p.strategy.rawValue, perGPUBytes: p.perGPUBytes, vendor: vendors[p.gpuType] ?? "nvidia"))
            }
        }
        return out
    }

    /// A GRES type for a GPU id when no Slurm import said one: its first word (`h100-sxm-80gb` → `h100`).
    public static func defaultGRESType(_ gpuID: String) -> String {
        String(gpuID.split(separator: "-").first ?? Substring(gpuID))
    }

    /// A name Kubernetes and file systems accept: lower-case letters, digits and dashes, at most 63
    /// characters, starting and ending with an alphanumeric; the replica is appended when a job has
    /// several; collisions get -2, -3, ... in order.
    public static func names(_ work: [PlacedWork]) -> [String] {
        var used = Set<String>()
        var out: [String] = []
        for w in work {
            var base = ""
            for c in w.job.lowercased().unicodeScalars {
                if ("a"..."z").contains(c) || ("0"..."9").contains(c) { base.unicodeScalars.append(c) } else if !base.hasSuffix("-") { base += "-" }
            }
            base = base.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
            if base.isEmpty { base = "job" }
            // A Service name (DNS-1035) starts with a letter.
            if let f = base.unicodeScalars.first, ("0"..."9").contains(f) { base = "job-" + base }
            let suffix = w.replicas > 1 ? "-r\(w.replica)" : ""
            base = String(base.prefix(63 - suffix.count - 4)).trimmingCharacters(in: CharacterSet(charactersIn: "-")) + suffix
            var name = base
            var k = 2
            while used.contains(name) {
                name = "\(base)-\(k)"
                k += 1
            }
            used.insert(name)
            out.append(name)
        }
        return out
    }
}

/// Kubernetes manifests for placed work, as JSON values (rendered as YAML by Reports).
public enum KubernetesExport {
    public struct Options: Sendable {
        public var image: String
        public var command: [String]
        public var namespace: String
        /// `command` is a shell command line, run as `/bin/sh -c COMMAND` so its words and quotes mean
        /// what they mean in a shell.
        public init(image: String? = nil, command: String? = nil, namespace: String = "default") {
            self.image = image ?? placeholderImage
            self.command = command.map { ["/bin/sh", "-c", $0] } ?? [placeholderCommand]
            self.namespace = namespace
        }
    }
    /// The device plugin's resource for a vendor's GPUs (NVIDIA, AMD, Intel Gaudi).
    public static func resource(vendor: String) -> String {
        switch vendor.lowercased() {
        case "amd": "amd.com/gpu"
        case "intel": "habana.ai/gaudi"
        default: "nvidia.com/gpu"
        }
    }

    /// Placeholders the user must replace (`--image`, `--command`); marked in every manifest.
    public static let placeholderImage = "REPLACE-ME.example.com/your-image:tag"
    public static let placeholderCommand = "REPLACE-ME-with-your-command"

    /// One file per unit: a Job (training, pre-sized) or a Deployment (serving) pinned to its node; an
    /// Indexed Job with a headless Service for work that spans nodes, one pod per node.
    public static func manifests(_ work: [PlacedWork], options o: Options) -> [(file: String, documents: [JSONValue])] {
        zip(Export.names(work), work).map { name, w in (name + ".yaml", documents(w, name: name, o)) }
    }

    static func documents(_ w: PlacedWork, name: String, _ o: Options) -> [JSONValue] {
        let labels: JSONValue = .object([
            "app.kubernetes.io/managed-by": .string("plan"), "app.kubernetes.io/name": .string(name),
        ])
        let placeholders = (o.image == placeholderImage ? ["image"] : []) + (o.command == [placeholderCommand] ? ["command"] : [])
        var annotations: [String: JSONValue] = [
            "plan/job": .string(w.job), "plan/replica": .string(String(w.replica)), "plan/gpu-type": .string(w.gpuType),
            "plan/split": .string("\(w.strategy) tp=\(w.tp) pp=\(w.pp) dp=\(w.dp)"),
            "plan/per-gpu-bytes": .string(String(w.perGPUBytes)),
            "plan/nodes": .string(w.nodes.map { "\($0.server):\($0.gpus)" }.joined(separator: ",")),
        ]
        if !placeholders.isEmpty { annotations["plan/placeholders"] = .string(placeholders.joined(separator: ",") + ": replace before applying") }
        let metadata: JSONValue = .object([
            "name": .string(name), "namespace": .string(o.namespace), "labels": labels, "annotations": .object(annotations),
        ])
        let spans = w.nodes.count > 1
        // One pod per node when every node holds as many GPUs; else pods of the common divisor, any node of the set.
        let perPod = w.evenNodes ? w.gpusPerNode : w.nodes.map(\.gpus).reduce(0) { gcd($0, $1) }
        let pods = spans ? w.gpus / perPod : 1
        var env: [JSONValue] = [
            .object(["name": .string("PLAN_GPUS_PER_POD"), "value": .string(String(perPod))]),
            .object(["name": .string("PLAN_PODS"), "value": .string(String(pods))]),
        ]
        if spans {
            env.append(.object(["name": .string("PLAN_RENDEZVOUS"), "value": .string("\(name)-0.\(name):29500")]))
        }
        let container: JSONValue = .object([
            "name": .string("main"), "image": .string(o.image), "command": .array(o.command.map { .string($0) }), "env": .array(env),
            "resources": .object(["limits": .object([resource(vendor: w.vendor): .int(perPod)])]),
        ])
        // Pinned to its nodes; one pod per node when they hold as many GPUs each.
        var affinity: [String: JSONValue] = ["nodeAffinity": nodeAffinity(w.nodes.map(\.server))]
        if spans && w.evenNodes {
            affinity["podAntiAffinity"] = .object([
                "requiredDuringSchedulingIgnoredDuringExecution": .array([
                    .object([
                        "labelSelector": .object(["matchLabels": .object(["app.kubernetes.io/name": .string(name)])]),
                        "topologyKey": .string("kubernetes.io/hostname"),
                    ])
                ])
            ])
        }
        var podSpec: [String: JSONValue] = ["containers": .array([container]), "affinity": .object(affinity)]
        // Indexed pods reach pod 0 through the headless Service of the same name.
        if spans { podSpec["subdomain"] = .string(name) }
        if w.kind == .serving && !spans {
            podSpec["restartPolicy"] = .string("Always")
            return [
                .object([
                    "apiVersion": .string("apps/v1"), "kind": .string("Deployment"), "metadata": metadata,
                    "spec": .object([
                        "replicas": .int(1), "selector": .object(["matchLabels": .object(["app.kubernetes.io/name": .string(name)])]),
                        "template": .object(["metadata": .object(["labels": labels]), "spec": .object(podSpec)]),
                    ]),
                ])
            ]
        }
        podSpec["restartPolicy"] = .string("Never")
        var jobSpec: [String: JSONValue] = [
            "backoffLimit": .int(0), "completions": .int(pods), "parallelism": .int(pods),
            "template": .object(["metadata": .object(["labels": labels]), "spec": .object(podSpec)]),
        ]
        var docs: [JSONValue] = []
        if spans {
            // Indexed: pod i is rank i (JOB_COMPLETION_INDEX); the headless Service gives pod 0 a stable name.
            jobSpec["completionMode"] = .string("Indexed")
            docs.append(
                .object([
                    "apiVersion": .string("v1"), "kind": .string("Service"),
                    "metadata": .object(["name": .string(name), "namespace": .string(o.namespace), "labels": labels]),
                    "spec": .object([
                        "clusterIP": .string("None"), "selector": .object(["app.kubernetes.io/name": .string(name)]),
                        "ports": .array([.object(["name": .string("rendezvous"), "port": .int(29500)])]),
                    ]),
                ]))
        }
        docs.append(.object(["apiVersion": .string("batch/v1"), "kind": .string("Job"), "metadata": metadata, "spec": .object(jobSpec)]))
        return docs
    }

    static func nodeAffinity(_ nodes: [String]) -> JSONValue {
        .object([
            "requiredDuringSchedulingIgnoredDuringExecution": .object([
                "nodeSelectorTerms": .array([
                    .object([
                        "matchExpressions": .array([
                            .object([
                                "key": .string("kubernetes.io/hostname"), "operator": .string("In"), "values": .array(nodes.map { .string($0) }),
                            ])
                        ])
                    ])
                ])
            ])
        ])
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}

/// Slurm batch scripts for placed work.
public enum SlurmExport {
    public struct Script: Sendable, Equatable {
        /// `#SBATCH` directives in order.
        public var directives: [(String, String)]
        public var comments: [String]
        public var body: [String]
        public static func == (a: Script, b: Script) -> Bool {
            a.directives.map { "\($0.0)=\($0.1)" } == b.directives.map { "\($0.0)=\($0.1)" } && a.comments == b.comments && a.body == b.body
        }
    }

    public struct Options: Sendable {
        public var command: String
        public var partition: String?
        public init(command: String? = nil, partition: String? = nil) {
            self.command = command ?? KubernetesExport.placeholderCommand
            self.partition = partition
        }
    }

    /// Slurm node names: letters, digits, dots, dashes and underscores. Other server names cannot be
    /// `--nodelist` entries.
    public static func badNodeNames(_ work: [PlacedWork]) -> [String] {
        let ok = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return Array(Set(work.flatMap { $0.nodes.map(\.server) }.filter { $0.isEmpty || !$0.unicodeScalars.allSatisfy(ok.contains) }))
            .sorted(by: naturalLess)
    }

    /// One script per unit: its nodes, the GPUs on each, one task per node and the node's memory share;
    /// work that spans nodes gets a torchrun rendezvous over srun.
    public static func scripts(_ work: [PlacedWork], options o: Options) -> [(file: String, script: Script)] {
        zip(Export.names(work), work).map { name, w in (name + ".sbatch", script(w, name: name, o)) }
    }

    static func script(_ w: PlacedWork, name: String, _ o: Options) -> Script {
        // --gres asks the same count on every node; nodes holding different counts ask the job's total instead.
        let gpus = w.evenNodes ? ("gres", "gpu:\(w.gresType):\(w.gpusPerNode)") : ("gpus", "\(w.gresType):\(w.gpus)")
        var d: [(String, String)] = [
            ("job-name", name), ("nodes", String(w.nodes.count)), ("nodelist", w.nodes.map(\.server).joined(separator: ",")),
            gpus, ("ntasks-per-node", "1"), ("mem", "\(max(w.memMiBPerNode, 1))M"),
        ]
        if let p = o.partition ?? w.partition { d.append(("partition", p)) }
        d.append(("output", "\(name)-%j.out"))
        var comments = [
            "plan: job '\(w.job)'\(w.replicas > 1 ? " replica \(w.replica)" : ""), \(w.kind.rawValue), \(w.gpus) x \(w.gpuType)",
            "split: \(w.strategy) tp=\(w.tp) pp=\(w.pp) dp=\(w.dp); \(w.perGPUBytes) bytes per GPU",
            "GPUs per node: " + w.nodes.map { "\($0.server)=\($0.gpus)" }.joined(separator: " "),
        ]
        if !w.evenNodes { comments.append("nodes hold different GPU counts: --gpus asks the total, torchrun starts one process per GPU it sees") }
        if o.command == KubernetesExport.placeholderCommand { comments.append("placeholder: replace the command (--command) before submitting") }
        var body = ["set -euo pipefail"]
        if w.nodes.count > 1 {
            body += [
                "MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)",
                "srun --ntasks-per-node=1 torchrun --nnodes=\"$SLURM_NNODES\" --nproc-per-node=\(w.evenNodes ? String(w.gpusPerNode) : "gpu") \\",
                "    --rdzv-id=\"$SLURM_JOB_ID\" --rdzv-backend=c10d --rdzv-endpoint=\"$MASTER_ADDR:29500\" \\",
                "    \(o.command)",
            ]
        } else if w.kind == .training {
            body.append("srun torchrun --standalone --nproc-per-node=\(w.gpusPerNode) \(o.command)")
        } else {
            body.append("srun \(o.command)")
        }
        return Script(directives: d, comments: comments, body: body)
    }
}
