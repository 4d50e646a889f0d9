import Foundation
import Inventory
import PlanCore
import PlanModel
import Testing
import TestSupport

/// The use cases in-process, through PlanCore, on a real SQLite store in a temporary folder: what
/// `plan place`, `plan gaps` and `plan capacity` compute, without the CLI.
@Suite struct UseCaseTests {
    static let resources = Resources(root: repositoryRoot)

    static func fleet(_ dir: TempDir) throws -> PlanStore {
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try s.addServers([
            NewServer(name: "h", gpu: "h100-sxm-80gb", gpus: 8), NewServer(name: "l", gpu: "l4-24gb", gpus: 2),
        ])
        return s
    }

    @Test func placeWritesThePlanAndADryRunWritesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.fleet(dir)
        // 4 x 70 GB fits only the H100s; 2 x 20 GB fits an L4 (smallest GPU that fits first).
        try s.addJobs([
            NewJob(name: "big", kind: .sized, gpus: 4, gpuMemoryBytes: 70_000_000_000, sameServer: true),
            NewJob(name: "small", kind: .sized, gpus: 2, gpuMemoryBytes: 20_000_000_000),
        ])
        let dry = try Planning.run(s, dryRun: true) { try PlaceRun.compute($0, only: [], repack: false) }
        #expect(dry.placed.count == 2 && dry.unplaced.isEmpty && dry.provedOptimal)
        #expect(try s.jobs().allSatisfy { $0.placements.isEmpty })
        let run = try Planning.run(s, dryRun: false) { try PlaceRun.compute($0, only: [], repack: false) }
        let byJob = Dictionary(uniqueKeysWithValues: run.placed.map { ($0.job, $0) })
        #expect(byJob["big"]?.gpuType == "h100-sxm-80gb" && byJob["big"]?.allocations.map(\.server) == ["h"])
        #expect(byJob["small"]?.gpuType == "l4-24gb")
        #expect(try s.jobs().allSatisfy(\.isPlaced))
        // Capacity after the plan: 4 of 8 H100s and none of the 2 L4s are free.
        let cap = CapacityReport.compute(try s.servers())
        #expect(cap.json.freeGpus == 4)
        #expect(cap.json.gpuTypes.first { $0.gpu == "h100-sxm-80gb" }?.largestBlockGpus == 4)
    }

    @Test func anUnknownJobIsACoreErrorNamingIt() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.fleet(dir)
        #expect(throws: CoreError.unknownJob("nope", known: 0)) {
            try Planning.run(s, dryRun: true) { try PlaceRun.compute($0, only: ["nope"], repack: false) }
        }
    }

    @Test func gapsBuyForWhatDoesNotFitAndSayWhy() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.fleet(dir)
        // 16 GPUs of 100 GB on one server: no 8-GPU server holds it, a 72-GPU NVL72 rack does; 100
        // GPUs on one server fit no SKU at all.
        try s.addJobs([
            NewJob(name: "wide", kind: .sized, gpus: 16, gpuMemoryBytes: 100_000_000_000, sameServer: true),
            NewJob(name: "huge", kind: .sized, gpus: 100, gpuMemoryBytes: 10_000_000_000, sameServer: true),
        ])
        let gap = try GapReport.compute(try s.versionedSnapshot().snapshot, whatIf: false)
        #expect(gap.json.purchase.map(\.gpusPerServer) == [72])
        #expect(gap.json.purchase.first?.jobs == ["wide"])
        #expect(gap.json.unbuyable.map(\.job) == ["huge"])
        #expect(gap.json.unbuyable.first?.reason.contains("needs 100 GPUs") == true)
    }
}
