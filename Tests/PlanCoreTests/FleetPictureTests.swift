import Foundation
import Inventory
import PlanCore
import PlanModel
import TestSupport
import Testing

/// `plan report`'s values, in-process on a real store.
@Suite struct FleetPictureTests {
    static func store(_ dir: TempDir) throws -> PlanStore {
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: UseCaseTests.resources)
        try s.addServers([
            NewServer(name: "h-1", gpu: "h100-sxm-80gb", gpus: 8, site: "a", rack: "r1"),
            NewServer(name: "h-2", gpu: "h100-sxm-80gb", gpus: 8, site: "a", rack: "r1"),
            NewServer(name: "l-1", gpu: "l4-24gb", gpus: 2, site: "b", rack: "r9"),
        ])
        return s
    }

    @Test func capacityCountsUsedMemoryAndFragmentation() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.store(dir)
        try s.addJobs([NewJob(name: "three", kind: .sized, gpus: 3, gpuMemoryBytes: 60_000_000_000, sameServer: true)])
        _ = try Planning.run(s, dryRun: false) { try PlaceRun.compute($0, only: [], repack: false) }
        let cap = CapacityReport.compute(try s.servers())
        let h100 = try #require(cap.json.gpuTypes.first { $0.gpu == "h100-sxm-80gb" })
        // 16 H100s, 3 held; of the 13 free, 5 sit on the partly used server: 5 / 13.
        #expect(h100.usedGpus == 3 && h100.freeGpus == 13)
        #expect(h100.fragmentation == 5.0 / 13.0)
        #expect(h100.usedFraction == 3.0 / 16.0)
        let perGPU = try #require(s.servers().first { $0.name == "h-1" }?.gpuMemoryBytes)
        #expect(h100.memoryBytes == 16 * perGPU && h100.usedMemoryBytes == 3 * perGPU)
        #expect(cap.json.gpuTypes.first { $0.gpu == "l4-24gb" }?.fragmentation == 0)
        #expect(cap.json.usedGpus == 3 && cap.json.totalGpus == 18)
    }

    /// Each placed job's bar adds up to the bytes per GPU the placement stored; the map has a cell
    /// per GPU, grouped by site and rack, until the fleet passes the cell limit.
    @Test func barsMatchThePlacementsAndTheMapFoldsPastItsLimit() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.store(dir)
        try s.addJobs([
            NewJob(
                name: "ft", kind: .llm, mode: .train, modelID: "llama-3-8b",
                spec: JobSpec(workload: Workload(mode: .train, batch: 1, seq: 2048, checkpointing: true)).json),
            NewJob(name: "pre", kind: .sized, gpus: 1, gpuMemoryBytes: 10_000_000_000),
        ])
        _ = try Planning.run(s, dryRun: false) { try PlaceRun.compute($0, only: [], repack: false) }
        let snap = try s.versionedSnapshot().snapshot
        let stored = Dictionary(uniqueKeysWithValues: snap.jobs.map { ($0.name, $0.placements[0].perGPUBytes) })
        let picture = try FleetPicture.compute(snap)
        for bar in picture.memory.bars {
            #expect(bar.placed)
            #expect(bar.totalBytes == stored[bar.jobs[0]], "\(bar.jobs[0])")
            #expect(bar.components.reduce(0) { $0 + $1.bytes } == bar.totalBytes)
        }
        #expect(picture.memory.bars.first { $0.jobs == ["pre"] }?.components.map(\.name) == ["requested"])
        #expect(picture.map.fold == .none)
        #expect(picture.map.sites.map(\.name) == ["a", "b"])
        #expect(picture.map.sites[0].racks.flatMap { $0.rows.map(\.name) } == ["h-1", "h-2"])
        let cells = picture.map.sites.flatMap { $0.racks.flatMap { $0.rows.flatMap(\.cells) } }
        #expect(cells.count == 18)
        let held = try s.servers().flatMap(\.gpus).filter { $0.job != nil }.count
        #expect(cells.filter { $0.job != nil }.count == held)
        #expect(picture.legend.map(\.job) == ["ft", "pre"])

        let folded = try FleetPicture.compute(snap, cellLimit: 17)
        #expect(folded.map.fold == .rack)
        #expect(folded.map.sites.allSatisfy { $0.racks.allSatisfy(\.rows.isEmpty) })
        #expect(folded.map.sites.flatMap { $0.racks.flatMap(\.folded) }.reduce(0) { $0 + $1.servers } == 3)
        let bySite = try FleetPicture.compute(snap, cellLimit: 17, foldLimit: 1)
        #expect(bySite.map.fold == .site)
        #expect(bySite.map.sites.allSatisfy { $0.racks.map(\.name) == ["(all racks)"] })
    }
}
