import Foundation
import PackagePlugin

/// Compiles `Migrations/*.sql` and `Seeds/*.json` into the Inventory module, so a copied `plan`
/// binary carries its schema and catalogs (`cp .build/release/plan /tmp/x/ && /tmp/x/plan gpus`).
/// The files in the checkout stay the one source; this runs again whenever one of them changes.
@main
struct EmbedResourcesPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        var inputs: [URL] = []
        for (folder, ending) in [("Migrations", ".sql"), ("Seeds", ".json")] {
            let dir = root.appending(path: folder)
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(ending) }.sorted()
            inputs += names.map { dir.appending(path: $0) }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedResources.swift")
        return [
            .buildCommand(
                displayName: "Embedding Migrations/ and Seeds/",
                executable: try context.tool(named: "embed-resources").url,
                arguments: [output.path, root.path] + inputs.map(\.path),
                inputFiles: inputs, outputFiles: [output])
        ]
    }
}
