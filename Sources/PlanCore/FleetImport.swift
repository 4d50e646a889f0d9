import Foundation
import PlanModel

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A node as a cluster describes it, before its GPU product is matched to the catalog.
public struct DiscoveredNode: Sendable, Equatable {
    public var name: String
    /// The product as the source names it: a GFD label (`NVIDIA-H100-80GB-HBM3`), an nvidia-smi name
    /// (`NVIDIA H100 80GB HBM3`) or a Slurm GRES type (`h100`).
    public var product: String
    public var gpus: Int
    /// Memory per GPU the driver reports, in MiB, when the source says (GFD, nvidia-smi).
    public var memoryMiB: Int?
    public var hostMemoryBytes: Int?
    public var site: String = ""
    public var rack: String = ""
    public var state: NodeState = .ready
    public var partitions: [String] = []
    /// The product is a Slurm GRES type, which names a family rather than one model.
    public var productIsGRESType = false
    /// A MIG slice (GFD `nvidia.com/mig.*`), which plan does not plan on.
    public var mig = false

    public init(name: String, product: String, gpus: Int) {
        self.name = name
        self.product = product
        self.gpus = gpus
    }
}

/// Why a cluster's description cannot be imported; each case names the node or line and the value.
public enum ImportError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(format: String, detail: String)
    case unknownProduct(node: String, product: String)
    case ambiguousProduct(node: String, product: String, candidates: [String])
    case mig(node: String, product: String)
    case mixedProducts(host: String, products: [String])
    case duplicateNode(String)
    case noNodes(format: String, skipped: Int)
    case badMap(String)
    case unknownMapTarget(product: String, gpu: String)

    public var description: String {
        switch self {
        case .malformed(let format, let detail): "not a \(format): \(detail)"
        case .unknownProduct(let node, let product):
            "unknown GPU product '\(product)' on node '\(node)'; map it to a GPU type with --gpu-map '\(product)=GPU' "
                + "or add the name for good with `plan gpus alias '\(product)' GPU` (GPU ids: `plan gpus`)"
        case .ambiguousProduct(let node, let product, let candidates):
            "GPU type '\(product)' on node '\(node)' names no exact model; it could be \(candidates.joined(separator: ", ")): "
                + "say which with --gpu-map '\(product)=\(candidates.first ?? "GPU")'"
        case .mig(let node, let product):
            "node '\(node)' offers MIG slices ('\(product)'), which plan does not plan on (it places whole GPUs); "
                + "import it with MIG disabled, or leave it out with --exclude \(node)"
        case .mixedProducts(let host, let products):
            "host '\(host)' has GPUs of different models (\(products.joined(separator: ", "))); a plan server has one GPU type"
        case .duplicateNode(let name): "node '\(name)' appears twice"
        case .noNodes(let format, let skipped):
            "the \(format) lists no node with GPUs\(skipped > 0 ? " (\(skipped) without GPUs skipped)" : "")"
        case .badMap(let text): "invalid --gpu-map entry '\(text)'; expected PRODUCT=GPU, comma-separated"
        case .unknownMapTarget(let product, let gpu): "--gpu-map '\(product)=\(gpu)': unknown GPU '\(gpu)'; see `plan gpus`"
        }
    }
}

/// One alias table for every importer: a product name as GFD, nvidia-smi or Slurm writes it, matched
/// to a catalog GPU type by its id, name or aliases, ignoring case, spaces, dashes and underscores.
public enum GPUProducts {
    /// Lower case, spaces and underscores as dashes, runs of dashes as one.
    static func normalized(_ s: String) -> String {
        var out = ""
        for c in s.lowercased() {
            let d: Character = (c == " " || c == "_") ? "-" : c
            if d == "-" && out.hasSuffix("-") { continue }
            out.append(d)
        }
        return out.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// Parses `--gpu-map h100=h100-sxm-80gb,NVIDIA-L40S=l40s-48gb`.
    public static func map(_ text: String?, catalog: [GPUType]) throws -> [String: GPUType] {
        var out: [String: GPUType] = [:]
        for entry in (text ?? "").split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ImportError.badMap(String(entry)) }
            guard let g = GPUType.named(parts[1], in: catalog) else { throw ImportError.unknownMapTarget(product: parts[0], gpu: parts[1]) }
            out[normalized(parts[0])] = g
        }
        return out
    }

    /// The catalog GPU a node's product is. A GRES type matches every type whose id starts with it
    /// (`h100` is the SXM, the PCIe and the NVL part) and is refused when that is more than one.
    public static func resolve(_ n: DiscoveredNode, catalog: [GPUType], map: [String: GPUType]) throws -> GPUType {
        let key = normalized(n.product)
        if let g = map[key] { return g }
        if n.mig { throw ImportError.mig(node: n.name, product: n.product) }
        let exact = catalog.filter { g in
            normalized(g.id) == key || normalized(g.name) == key || g.aliases.contains { normalized($0) == key }
        }
        if n.productIsGRESType {
            let family = catalog.filter { normalized($0.id).hasPrefix(key + "-") }
            let all = Set((exact + family).map(\.id)).sorted()
            if all.count == 1 { return catalog.first { $0.id == all[0] }! }
            if all.count > 1 { throw ImportError.ambiguousProduct(node: n.name, product: n.product, candidates: all) }
            throw ImportError.unknownProduct(node: n.name, product: n.product)
        }
        if exact.count == 1 { return exact[0] }
        // GFD labels write the product with dashes (NVIDIA-H100-80GB-HBM3); Tesla-era names keep "Tesla".
        for prefix in ["nvidia-", "tesla-", "amd-"] where key.hasPrefix(prefix) {
            let short = String(key.dropFirst(prefix.count))
            let matches = catalog.filter { g in g.aliases.contains { normalized($0) == short } || normalized(g.id) == short }
            if matches.count == 1 { return matches[0] }
        }
        if exact.count > 1 {
            throw ImportError.ambiguousProduct(node: n.name, product: n.product, candidates: exact.map(\.id).sorted())
        }
        throw ImportError.unknownProduct(node: n.name, product: n.product)
    }
}

/// Readers of what clusters print about their nodes. Each returns nodes in the file's order and
/// the count of nodes skipped for having no GPUs.
public enum NodeListReader {
    /// `kubectl get nodes -o json`: GPUs from `status.capacity` (`nvidia.com/gpu`, `amd.com/gpu`,
    /// `gpu.intel.com/*`), the product from GPU Feature Discovery's labels, site from
    /// `topology.kubernetes.io/zone` (else region), rack from `rackLabel`, host memory from
    /// `status.capacity.memory`; cordoned nodes are unschedulable, nodes whose Ready condition is not
    /// True are not-ready.
    public static func kubernetes(_ data: Data, rackLabel: String?) throws -> (nodes: [DiscoveredNode], skipped: Int) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ImportError.malformed(format: "kubectl get nodes -o json output", detail: "\(error)")
        }
        let items: [JSONValue]
        if case .array(let a)? = root["items"] {
            items = a
        } else if root["kind"] == .string("Node") {
            items = [root]
        } else {
            throw ImportError.malformed(format: "kubectl get nodes -o json output", detail: "no 'items' list of nodes")
        }
        var nodes: [DiscoveredNode] = []
        var skipped = 0
        for (i, item) in items.enumerated() {
            guard case .string(let name)? = item["metadata"]?["name"] else {
                throw ImportError.malformed(format: "kubectl get nodes -o json output", detail: "item \(i + 1) has no metadata.name")
            }
            var labels: [String: String] = [:]
            if case .object(let l)? = item["metadata"]?["labels"] {
                for (k, v) in l { if case .string(let s) = v { labels[k] = s } }
            }
            var capacity: [String: String] = [:]
            if case .object(let c)? = item["status"]?["capacity"] {
                for (k, v) in c {
                    switch v {
                    case .string(let s): capacity[k] = s
                    case .int(let n): capacity[k] = String(n)
                    default: break
                    }
                }
            }
            // The first GPU resource with a positive count (a node may list another vendor's at "0").
            let count = capacity.keys.sorted()
                .filter { $0 == "nvidia.com/gpu" || $0 == "amd.com/gpu" || $0 == "habana.ai/gaudi" || $0.hasPrefix("gpu.intel.com/") }
                .compactMap { capacity[$0].flatMap { Int($0) } }.first { $0 > 0 } ?? 0
            guard count > 0 else {
                skipped += 1
                continue
            }
            let product =
                labels["nvidia.com/gpu.product"] ?? labels["amd.com/gpu.product-name"] ?? labels["gpu.intel.com/product"]
                ?? labels["cloud.google.com/gke-accelerator"] ?? labels["node.kubernetes.io/instance-type"] ?? ""
            guard !product.isEmpty else {
                throw ImportError.malformed(
                    format: "kubectl get nodes -o json output",
                    detail: "node '\(name)' has \(count) GPUs but no product label (nvidia.com/gpu.product from GPU Feature Discovery)")
            }
            var n = DiscoveredNode(name: name, product: product, gpus: count)
            n.memoryMiB = labels["nvidia.com/gpu.memory"].flatMap { Int($0) }
            // GFD's single MIG strategy names the slice as the product (NVIDIA-A100-SXM4-40GB-MIG-1g.5gb) and counts
            // slices as nvidia.com/gpu; the mixed strategy counts whole GPUs there and slices elsewhere.
            n.mig = product.uppercased().contains("-MIG-")
            n.hostMemoryBytes = capacity["memory"].flatMap(quantity)
            n.site = labels["topology.kubernetes.io/zone"] ?? labels["topology.kubernetes.io/region"] ?? ""
            if let r = rackLabel { n.rack = labels[r] ?? "" }
            if case .bool(true)? = item["spec"]?["unschedulable"] { n.state = .unschedulable }
            if case .array(let conditions)? = item["status"]?["conditions"] {
                let ready = conditions.first { $0["type"] == .string("Ready") }
                if let r = ready, r["status"] != .string("True") { n.state = .notReady }
            }
            nodes.append(n)
        }
        return (nodes, skipped)
    }

    /// A Kubernetes quantity in bytes: `2113634112Ki`, `512Gi`, `64G`, `1073741824`.
    static func quantity(_ text: String) -> Int? {
        let units: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { Int($0 * scale) }
        }
        return Int(text)
    }

    /// `scontrol show node --oneliner`: one node per line of `Key=Value` pairs. GPUs from
    /// `Gres=gpu:<type>:<n>` (a socket suffix such as `(S:0-1)` is dropped), memory from
    /// `RealMemory` (MiB), partitions and state kept; DRAIN and DOWN nodes are marked.
    public static func scontrol(_ text: String) throws -> (nodes: [DiscoveredNode], skipped: Int) {
        var nodes: [DiscoveredNode] = []
        var skipped = 0
        for (i, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            // Reason= is free text and comes last: the rest of the line is its value.
            var fields: [String: String] = [:]
            var head = Substring(line)
            if let r = line.range(of: " Reason=") {
                fields["Reason"] = String(line[r.upperBound...])
                head = line[..<r.lowerBound]
            }
            for token in head.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else { continue }
                fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
            }
            guard let name = fields["NodeName"] else {
                throw ImportError.malformed(format: "scontrol show node --oneliner output", detail: "line \(i + 1) has no NodeName=")
            }
            guard let (type, count) = try gres(fields["Gres"] ?? "", node: name), count > 0 else {
                skipped += 1
                continue
            }
            var n = DiscoveredNode(name: name, product: type, gpus: count)
            n.productIsGRESType = true
            n.hostMemoryBytes = fields["RealMemory"].flatMap { Int($0) }.map { $0 * 1_048_576 }
            n.partitions = (fields["Partitions"] ?? "").split(separator: ",").map(String.init)
            n.state = state(fields["State"] ?? "")
            nodes.append(n)
        }
        return (nodes, skipped)
    }

    /// `sinfo -N -h -o "%N|%G|%m|%T|%P"`: node, GRES, memory (MiB), state, partition; a node in
    /// several partitions is one line per partition.
    public static func sinfo(_ text: String) throws -> (nodes: [DiscoveredNode], skipped: Int) {
        var byName: [String: Int] = [:]
        var nodes: [DiscoveredNode] = []
        var skipped = Set<String>()
        for (i, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 5 else {
                throw ImportError.malformed(
                    format: "sinfo -N -h -o \"%N|%G|%m|%T|%P\" output", detail: "line \(i + 1) has \(f.count) fields, expected 5")
            }
            let partition = f[4].hasSuffix("*") ? String(f[4].dropLast()) : f[4]
            if let k = byName[f[0]] {
                if !partition.isEmpty && !nodes[k].partitions.contains(partition) { nodes[k].partitions.append(partition) }
                continue
            }
            guard let (type, count) = try gres(f[1] == "(null)" ? "" : f[1], node: f[0]), count > 0 else {
                skipped.insert(f[0])
                continue
            }
            var n = DiscoveredNode(name: f[0], product: type, gpus: count)
            n.productIsGRESType = true
            n.hostMemoryBytes = Int(f[2]).map { $0 * 1_048_576 }
            n.state = state(f[3])
            n.partitions = partition.isEmpty ? [] : [partition]
            byName[f[0]] = nodes.count
            nodes.append(n)
        }
        return (nodes, skipped.count)
    }

    /// The GPU entry of a Slurm GRES list: `gpu:h100:8`, `gpu:a100:8(S:0-1)`, `gpu:4` (no type: "gpu",
    /// which --gpu-map gpu=GPU settles); nil without GPUs. Several GPU types on one node are refused:
    /// a plan server has one GPU type.
    static func gres(_ text: String, node: String) throws -> (String, Int)? {
        var found: [(String, Int)] = []
        for entry in text.split(separator: ",") {
            var e = String(entry)
            if let paren = e.firstIndex(of: "(") { e = String(e[..<paren]) }
            let parts = e.split(separator: ":").map(String.init)
            guard parts.first == "gpu" else { continue }
            if parts.count == 3, let n = Int(parts[2]) {
                found.append((parts[1], n))
            } else if parts.count == 2, let n = Int(parts[1]) {
                found.append(("gpu", n))
            } else {
                throw ImportError.malformed(
                    format: "Slurm node list", detail: "node '\(node)' has GRES '\(entry)'; expected gpu:<type>:<count>")
            }
        }
        let types = Array(Set(found.map(\.0))).sorted()
        if types.count > 1 { throw ImportError.mixedProducts(host: node, products: types) }
        guard let t = types.first else { return nil }
        return (t, found.reduce(0) { $0 + $1.1 })
    }

    /// Slurm node states: DOWN (or NOT_RESPONDING) and DRAIN take no new work.
    static func state(_ text: String) -> NodeState {
        let s = text.uppercased()
        if s.contains("DOWN") || s.contains("NOT_RESPONDING") || s.contains("FAIL") { return .down }
        if s.contains("DRAIN") { return .drain }
        return .ready
    }

    /// `nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id --format=csv` for one host.
    public static func nvidiaSMICSV(_ text: String, host: String) throws -> DiscoveredNode {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let format = "nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id --format=csv output"
        guard let header = lines.first else { throw ImportError.malformed(format: format, detail: "the file is empty") }
        let columns = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let nameAt = columns.firstIndex(of: "name"), let memAt = columns.firstIndex(where: { $0.hasPrefix("memory.total") }) else {
            throw ImportError.malformed(format: format, detail: "the header '\(header)' has no name and memory.total columns")
        }
        var gpus: [(String, Int)] = []
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == columns.count, let mib = Int(f[memAt].replacingOccurrences(of: " MiB", with: "")) else {
                throw ImportError.malformed(format: format, detail: "line \(i + 2) '\(line)' does not match the header")
            }
            gpus.append((f[nameAt], mib))
        }
        return try host1(gpus, host: host, format: format)
    }

    /// `nvidia-smi -q -x` for one host: each `<gpu>`'s `<product_name>` and `<fb_memory_usage><total>`.
    public static func nvidiaSMIXML(_ data: Data, host: String) throws -> DiscoveredNode {
        let format = "nvidia-smi -q -x output"
        let reader = NvidiaSMIXML()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse(), reader.sawRoot else {
            let detail = parser.parserError.map { "\($0.localizedDescription)" } ?? "no <nvidia_smi_log> element"
            throw ImportError.malformed(format: format, detail: detail)
        }
        var gpus: [(String, Int)] = []
        for (i, g) in reader.gpus.enumerated() {
            guard let mib = Int(g.memory.replacingOccurrences(of: "MiB", with: "").trimmingCharacters(in: .whitespaces)), !g.product.isEmpty
            else {
                throw ImportError.malformed(format: format, detail: "GPU \(i + 1) has no product_name or fb_memory_usage total in MiB")
            }
            gpus.append((g.product, mib))
        }
        return try host1(gpus, host: host, format: format)
    }

    static func host1(_ gpus: [(String, Int)], host: String, format: String) throws -> DiscoveredNode {
        guard let first = gpus.first else { throw ImportError.noNodes(format: format, skipped: 0) }
        let products = Array(Set(gpus.map(\.0))).sorted()
        if products.count > 1 { throw ImportError.mixedProducts(host: host, products: products) }
        var n = DiscoveredNode(name: host, product: first.0, gpus: gpus.count)
        n.memoryMiB = gpus.map(\.1).min()
        n.mig = first.0.uppercased().contains("MIG")
        return n
    }
}

/// Collects `<gpu>` elements' product name and memory total from nvidia-smi's XML.
final class NvidiaSMIXML: NSObject, XMLParserDelegate {
    var gpus: [(product: String, memory: String)] = []
    var sawRoot = false
    private var path: [String] = []
    private var text = ""

    func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
        if e == "nvidia_smi_log" { sawRoot = true }
        if e == "gpu" && path.last == "nvidia_smi_log" { gpus.append(("", "")) }
        path.append(e)
        text = ""
    }

    func parser(_ p: XMLParser, foundCharacters s: String) { text += s }

    func parser(_ p: XMLParser, didEndElement e: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // At the end of an element, path ends with it: [..., parent, e].
        if !gpus.isEmpty && path.count >= 3 {
            let parent = path[path.count - 2]
            if e == "product_name" && parent == "gpu" { gpus[gpus.count - 1].product = value }
            if e == "total" && parent == "fb_memory_usage" && path[path.count - 3] == "gpu" { gpus[gpus.count - 1].memory = value }
        }
        path.removeLast()
        text = ""
    }
}

/// From discovered nodes to the servers plan stores.
public enum FleetImport {
    /// What an import would store, and what it noticed (driver memory against the catalog).
    public struct Result: Sendable {
        public var servers: [NewServer]
        public var notes: [String]
    }

    public static func servers(
        _ nodes: [DiscoveredNode], source: FleetSource, catalog: [GPUType], gpuMap: [String: GPUType], fabric: String?, site: String?,
        exclude: Set<String>
    ) throws -> Result {
        var seen = Set<String>()
        var out: [NewServer] = []
        var notes: [String] = []
        for n in nodes where !exclude.contains(n.name) {
            guard seen.insert(n.name).inserted else { throw ImportError.duplicateNode(n.name) }
            let g = try GPUProducts.resolve(n, catalog: catalog, map: gpuMap)
            if let mib = n.memoryMiB {
                let catalogMiB = g.memoryBytes / 1_048_576
                if abs(mib - catalogMiB) * 100 > catalogMiB * 2 {
                    notes.append("node '\(n.name)': the driver reports \(mib) MiB per GPU, the catalog's \(g.id) has \(catalogMiB) MiB")
                }
            }
            out.append(
                NewServer(
                    name: n.name, gpu: g.id, gpus: n.gpus, hostMemoryBytes: n.hostMemoryBytes, site: site ?? n.site, rack: n.rack,
                    fabric: fabric,
                    origin: ServerOrigin(
                        source: source, state: n.state, partitions: n.partitions, gresType: n.productIsGRESType ? n.product : "")))
        }
        return Result(servers: out, notes: notes)
    }
}
