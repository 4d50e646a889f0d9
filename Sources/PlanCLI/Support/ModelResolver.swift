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
}

/// Resolves `--model`: a path to a config.json or a folder holding one, else a catalog id or alias.
enum ModelResolver {
    static func readConfig(path: String) throws -> (JSONValue, String) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PlanError("no such file or folder '\(path)'; give a config.json or a folder that contains one")
        }
        let file = isDir.boolValue ? (path as NSString).appendingPathComponent("config.json") : path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PlanError(
                isDir.boolValue ? "the folder '\(path)' has no config.json" : "cannot read '\(file)': permission denied")
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw PlanError("'\(file)' is not UTF-8 text; expected a Hugging Face config.json")
        }
        do {
            return (try JSONValue.parse(data), file)
        } catch {
            throw PlanError("'\(file)' is not valid JSON; expected a Hugging Face config.json")
        }
    }

    static func looksLikePath(_ s: String) -> Bool {
        FileManager.default.fileExists(atPath: s)
    }

    static func resolve(_ name: String, catalog: CatalogSnapshot) throws -> ResolvedModel {
        if looksLikePath(name) {
            let (json, file) = try readConfig(path: name)
            let arch = try ModelArchitecture(config: json, origin: file)
            return ResolvedModel(id: name, catalogID: nil, config: json, architecture: arch)
        }
        guard let m = catalog.model(named: name) else {
            let ids = catalog.models.map(\.id).joined(separator: ", ")
            throw PlanError(
                "unknown model '\(name)'; give a catalog id (\(ids)), an alias such as "
                    + "meta-llama/Meta-Llama-3-8B-Instruct, or a path to a config.json")
        }
        let arch = try ModelArchitecture(config: m.config, origin: "catalog model '\(m.id)'")
        return ResolvedModel(id: m.id, catalogID: m.id, config: m.config, architecture: arch)
    }
}
