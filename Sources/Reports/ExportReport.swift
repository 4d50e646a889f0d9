import Foundation
import PlanCore
import PlanModel

/// YAML for Kubernetes manifests: block style, keys sorted, every string double-quoted with JSON's
/// escapes (valid YAML 1.2, so no value is read as another type), documents separated by `---`.
public enum YAMLWriter {
    public static func render(_ documents: [JSONValue], header: [String] = []) -> String {
        var out = header.map { "# \($0)\n" }.joined()
        for (i, d) in documents.enumerated() {
            if i > 0 || !header.isEmpty { out += "---\n" }
            emit(d, indent: 0, into: &out)
        }
        return out
    }

    static func scalar(_ v: JSONValue) -> String? {
        switch v {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): quoted(s)
        case .array(let a) where a.isEmpty: "[]"
        case .object(let o) where o.isEmpty: "{}"
        default: nil
        }
    }

    /// A double-quoted scalar: JSON's string escapes (`JSONWriter.string`) are YAML's too.
    static func quoted(_ s: String) -> String {
        var bytes: [UInt8] = []
        JSONWriter.string(s, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A key written plain when YAML cannot read it as anything but that string.
    static func key(_ k: String) -> String {
        let reserved: Set<String> = ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"]
        guard let first = k.unicodeScalars.first, CharacterSet.letters.contains(first), first.isASCII,
            k.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._/-".unicodeScalars.contains($0)) }),
            !reserved.contains(k.lowercased())
        else { return quoted(k) }
        return k
    }

    static func emit(_ v: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .object(let o) where !o.isEmpty:
            for k in o.keys.sorted() {
                let child = o[k]!
                if let s = scalar(child) {
                    out += "\(pad)\(key(k)): \(s)\n"
                } else {
                    out += "\(pad)\(key(k)):\n"
                    emit(child, indent: indent + 2, into: &out)
                }
            }
        case .array(let a) where !a.isEmpty:
            for item in a {
                if let s = scalar(item) {
                    out += "\(pad)- \(s)\n"
                } else {
                    // The item's first line follows the dash; the rest keep its indentation.
                    var inner = ""
                    emit(item, indent: indent + 2, into: &inner)
                    out += pad + "- " + inner.dropFirst(indent + 2)
                }
            }
        default:
            out += pad + (scalar(v) ?? "null") + "\n"
        }
    }
}

/// `plan export kubernetes|slurm`: the files written, one per placed unit.
public struct ExportReport: Report {
    public var kind: String
    public var folder: String
    public var files: [(name: String, job: String, replica: Int, nodes: [String])]

    public init(kind: String, folder: String, files: [(name: String, job: String, replica: Int, nodes: [String])]) {
        self.kind = kind
        self.folder = folder
        self.files = files
    }

    public struct JSON: Encodable {
        struct File: Encodable {
            var path: String
            var job: String
            var replica: Int
            var nodes: [String]
        }
        var kind: String
        var folder: String
        var files: [File]
    }

    public var document: JSON {
        JSON(
            kind: kind, folder: folder,
            files: files.map { .init(path: (folder as NSString).appendingPathComponent($0.name), job: $0.job, replica: $0.replica, nodes: $0.nodes) })
    }

    public var csv: String {
        CSVWriter.render(
            header: ["path", "job", "replica", "nodes"],
            rows: files.map { [(folder as NSString).appendingPathComponent($0.name), $0.job, String($0.replica), $0.nodes.joined(separator: " ")] })
    }

    public var table: String {
        if files.isEmpty { return "No placed jobs to export; run `plan place` first.\n" }
        var t = TextTable(["FILE", "JOB", "REPLICA", "NODES"], rightAligned: [2])
        for f in files { t.add([(folder as NSString).appendingPathComponent(f.name), f.job, String(f.replica), f.nodes.joined(separator: ",")]) }
        return "Wrote \(files.count) \(kind) file\(files.count == 1 ? "" : "s"):\n" + t.render()
    }
}

extension SlurmExport.Script {
    /// The batch script's text.
    public var text: String {
        var out = "#!/bin/bash\n"
        for (k, v) in directives { out += "#SBATCH --\(k)=\(v)\n" }
        out += "\n" + comments.map { "# \($0)\n" }.joined() + "\n"
        out += body.joined(separator: "\n") + "\n"
        return out
    }
}
