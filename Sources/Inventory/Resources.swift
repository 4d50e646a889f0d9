import Foundation

/// Where the SQL migrations and catalog seeds live: the repository the binary was built from.
///
/// Looked up once per process, in order: `PLAN_RESOURCES`, the folders above the running
/// executable (`.build/release/plan` sits inside the checkout), then the checkout this file was
/// compiled from. The current directory never matters.
public struct Resources: Sendable {
    public var migrationsDirectory: URL
    public var seedsDirectory: URL

    public init(root: URL) {
        migrationsDirectory = root.appendingPathComponent("Migrations")
        seedsDirectory = root.appendingPathComponent("Seeds")
    }

    /// The resources of this build of `plan`.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> Resources
    {
        var candidates: [URL] = []
        if let env = environment["PLAN_RESOURCES"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        // Sources/Inventory/Resources.swift -> the package root.
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent())
        for root in candidates {
            let marker = root.appendingPathComponent("Migrations/0001_init.sql").path
            if FileManager.default.fileExists(atPath: marker) { return Resources(root: root) }
        }
        throw StoreError(
            "cannot find plan's Migrations/ and Seeds/ folders next to the binary or in the checkout it was "
                + "built from; set PLAN_RESOURCES to the repository root")
    }
}
