import Foundation
import Inventory
import PlanModel

/// A model named on the command line, resolved to its architecture.
struct ResolvedModel {
    /// Catalog id, or the config's path.
    var id: String
    /// Catalog id when the model came from the catalog.
    var catalogID: String?
    var config: JSONValue
    var architecture: ModelArchitecture
    /// The safetensors checkpoint next to the config, when `--model` named a folder holding one.
    var checkpoint: Checkpoint? = nil
}

/// Resolves `--model`: a path to a config.json or a folder holding one, else a catalog id or alias.
enum ModelResolver {
    static func readConfig(path: String) throws -> (JSONValue, String) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ELOOP { throw PlanError("'\(path)' is a loop of symbolic links; give a config.json or a folder that contains one") }
            if lstat(path, &st) == 0 { throw PlanError("'\(path)' is a symbolic link to a file that does not exist") }
            throw PlanError("no such file or folder '\(path)'; give a config.json or a folder that contains one")
        }
        let isDir = (st.st_mode & S_IFMT) == S_IFDIR
        let file = isDir ? (path as NSString).appendingPathComponent("config.json") : path
        if isDir {
            guard stat(file, &st) == 0 else { throw PlanError("the folder '\(path)' has no config.json") }
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PlanError("'\(file)' is \(FileKind.describe(st.st_mode)), not a regular file; expected a Hugging Face config.json")
        }
        guard Int(st.st_size) <= Limits.configBytes else {
            throw PlanError(
                "'\(file)' is \(st.st_size) bytes; a config.json is a few kilobytes and plan reads up to \(Limits.configBytes) bytes")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PlanError("cannot read '\(file)': permission denied")
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw PlanError("'\(file)' is not UTF-8 text; expected a Hugging Face config.json")
        }
        do {
            return (try JSONValue.parse(data), file)
        } catch {
            throw PlanError("'\(file)' is not valid JSON (\(error.message)); expected a Hugging Face config.json")
        }
    }

    /// Whether `s` names something on disk (even a broken or looping symbolic link, so the
    /// message is about the file and not about an unknown catalog id).
    static func looksLikePath(_ s: String) -> Bool {
        var st = stat()
        return lstat(s, &st) == 0
    }

    static func resolve(_ name: String, catalog: CatalogSnapshot, assumeDense: Bool = false) throws -> ResolvedModel {
        if looksLikePath(name) {
            let (json, file) = try readConfig(path: name)
            let arch = try ModelArchitecture(config: json, origin: file, assumeDense: assumeDense)
            var isDir: ObjCBool = false
            let checkpoint =
                FileManager.default.fileExists(atPath: name, isDirectory: &isDir) && isDir.boolValue
                ? try Checkpoint.read(directory: name) : nil
            return ResolvedModel(id: name, catalogID: nil, config: json, architecture: arch, checkpoint: checkpoint)
        }
        guard let m = catalog.model(named: name) else {
            let ids = catalog.models.map(\.id).joined(separator: ", ")
            throw PlanError(
                "unknown model '\(name)'; give a catalog id (\(ids)), an alias such as "
                    + "meta-llama/Meta-Llama-3-8B-Instruct, or a path to a config.json")
        }
        let arch = try ModelArchitecture(config: m.config, origin: "catalog model '\(m.id)'", assumeDense: assumeDense)
        return ResolvedModel(id: m.id, catalogID: m.id, config: m.config, architecture: arch)
    }
}
