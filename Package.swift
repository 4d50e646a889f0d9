// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "plan",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "plan", targets: ["plan"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // The executable: only calls the root command.
        .executableTarget(name: "plan", dependencies: ["PlanCLI"]),
        // In-process timings for bin/bench (estimator and recommendation search).
        .executableTarget(name: "plan-bench", dependencies: ["MemoryEstimation", "PlanModel", "Inventory", "Placement", "PlanCore"]),
        // ArgumentParser commands, the run context and output rendering (table, JSON, CSV).
        .target(
            name: "PlanCLI",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "PlanModel", "MemoryEstimation", "Placement", "PlanCore", "Reports", "Inventory",
            ]),
        // One report value per command, rendered as a text table, JSON (JSONWriter) or CSV (CSVWriter).
        .target(name: "Reports", dependencies: ["PlanModel", "MemoryEstimation", "PlanCore"]),
        // The use cases (job sizing, place and repack, purchase gaps, resolving a model name) on plain
        // values and the `InventoryStore` protocol; no GRDB, no ArgumentParser.
        .target(name: "PlanCore", dependencies: ["PlanModel", "MemoryEstimation", "Placement"]),
        // Value types and units (Bytes, GPU types, model architectures, workloads); no dependencies.
        .target(name: "PlanModel"),
        // Pure functions: architecture + workload + parallel split -> bytes per GPU, and recommendations.
        .target(name: "MemoryEstimation", dependencies: ["PlanModel"]),
        // The COIN-OR CBC mixed-integer solver's C API (system library, pkg-config `cbc`).
        .systemLibrary(name: "CCbc", pkgConfig: "cbc", providers: [.apt(["coinor-libcbc-dev"])]),
        // Pure bin-packing and purchase search over plain numbers; does not import the estimator.
        .target(name: "Placement", dependencies: ["PlanModel", "CCbc"]),
        // The only module that imports GRDB: store, records, migrations, seeds.
        .target(
            name: "Inventory",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift"), "PlanModel"],
            plugins: ["EmbedResourcesPlugin"]),
        // Build-time: compiles Migrations/ and Seeds/ into Inventory, so a copied binary is whole.
        .executableTarget(name: "embed-resources", path: "Sources/embed-resources"),
        .plugin(
            name: "EmbedResourcesPlugin", capability: .buildTool(), dependencies: ["embed-resources"],
            path: "Sources/EmbedResourcesPlugin"),
        // Helpers shared by the test targets: temp folders, running the built binary, database dumps.
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/TestSupport"),
        .testTarget(name: "PlanModelTests", dependencies: ["PlanModel"]),
        // The use cases in-process on a real SQLite store.
        .testTarget(name: "PlanCoreTests", dependencies: ["PlanCore", "PlanModel", "Inventory", "TestSupport"]),
        .testTarget(name: "MemoryEstimationTests", dependencies: ["MemoryEstimation", "PlanModel", "TestSupport"]),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "PlanCore", "PlanModel", "TestSupport"]),
        .testTarget(
            name: "InventoryTests",
            dependencies: ["Inventory", "PlanCore", "PlanModel", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "PlanCLITests", dependencies: ["PlanCLI", "Reports", "TestSupport"]),
        // Runs the built `plan` binary as a user would.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["plan", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")], exclude: ["Fixtures"]),
    ]
)
