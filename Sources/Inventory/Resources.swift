import Foundation

/// The SQL migrations and catalog seeds: `Migrations/*.sql` and `Seeds/*.json`, by path.
///
/// They are compiled into the binary (the EmbedResources build plugin), so a copied `plan` works
/// anywhere. `PLAN_RESOURCES=DIR` reads them from a checkout instead (to try edited seeds without
/// rebuilding). The current directory never matters.
public struct Resources: Sendable {
    /// File contents by path relative to the repository root ("Migrations/0001_init.sql").
    public let files: [String: Data]
    /// Where they came from, for messages.
    public let origin: String

    public init(files: [String: Data], origin: String) {
        self.files = files
        self.origin = origin
    }

    /// Reads `Migrations/*.sql` and `Seeds/*.json` under `root`.
    public init(root: URL) {
        var files: [String: Data] = [:]
        for (folder, ending) in [("Migrations", ".sql"), ("Seeds", ".json")] {
            let dir = root.appendingPathComponent(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasSuffix(ending) {
                if let d = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) {
                    files["\(folder)/\(name)"] = d
                }
            }
        }
        self.init(files: files, origin: root.path)
    }

    /// The copy compiled into this binary.
    public static let embedded = Resources(
        files: EmbeddedResources.files.mapValues { Data($0.utf8) }, origin: "the copy built into plan")

    /// The resources of this run: `PLAN_RESOURCES` when set, else the embedded copy.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Resources {
        guard let env = environment["PLAN_RESOURCES"], !env.isEmpty else { return embedded }
        let r = Resources(root: URL(fileURLWithPath: env))
        guard r.files["Migrations/0001_init.sql"] != nil else {
            throw StoreError.resourcesWithoutMigrations(root: env)
        }
        return r
    }

    /// The files under `folder` ("Migrations"), by file name, sorted.
    func names(in folder: String) -> [String] {
        files.keys.filter { $0.hasPrefix(folder + "/") }.map { String($0.dropFirst(folder.count + 1)) }.sorted()
    }
}
