import Foundation
import PlanModel

/// A model named by the user, resolved to its architecture.
public struct ResolvedModel: Sendable {
    /// Catalog id, or the config's path.
    public var id: String
    /// Catalog id when the model came from the catalog.
    public var catalogID: String?
    public var config: JSONValue
    public var architecture: ModelArchitecture
    /// The safetensors checkpoint next to the config, when the name was a folder holding one.
    public var checkpoint: Checkpoint? = nil
}

/// Resolves a model name: a path to a config.json or a folder holding one, else a catalog id or alias.
public enum ModelResolver {
    /// Reads a Hugging Face config.json, or the one in a folder: the parsed JSON and the file read.
    public static func readConfig(path: String) throws -> (JSONValue, String) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ELOOP { throw ModelSourceError.symlinkLoop(path: path) }
            if lstat(path, &st) == 0 { throw ModelSourceError.danglingSymlink(path: path) }
            throw ModelSourceError.noSuchPath(path: path)
        }
        let isDir = (st.st_mode & S_IFMT) == S_IFDIR
        let file = isDir ? (path as NSString).appendingPathComponent("config.json") : path
        if isDir {
            guard stat(file, &st) == 0 else { throw ModelSourceError.noConfigInFolder(folder: path) }
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ModelSourceError.configNotRegularFile(file: file, kind: FileKind.describe(st.st_mode))
        }
        guard Int(st.st_size) <= Limits.configBytes else {
            throw ModelSourceError.configTooLarge(file: file, bytes: Int(st.st_size))
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ModelSourceError.configUnreadable(file: file)
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw ModelSourceError.configNotUTF8(file: file)
        }
        do {
            return (try JSONValue.parse(data), file)
        } catch {
            throw ModelSourceError.configNotJSON(file: file, detail: error.message)
        }
    }

    /// Whether `s` names something on disk (even a broken or looping symbolic link, so the
    /// message is about the file and not about an unknown catalog id).
    static func looksLikePath(_ s: String) -> Bool {
        var st = stat()
        return lstat(s, &st) == 0
    }

    /// The model `name` means: a config.json (with the checkpoint beside it, for a folder), else
    /// the catalog's model of that id or alias.
    public static func resolve(_ name: String, catalog: CatalogSnapshot, assumeDense: Bool = false) throws -> ResolvedModel {
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
            throw ModelSourceError.unknownModel(name: name, known: catalog.models.map(\.id))
        }
        let arch = try ModelArchitecture(config: m.config, origin: "catalog model '\(m.id)'", assumeDense: assumeDense)
        return ResolvedModel(id: m.id, catalogID: m.id, config: m.config, architecture: arch)
    }
}
