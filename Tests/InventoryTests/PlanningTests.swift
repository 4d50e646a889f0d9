import Foundation
import GRDB
import PlanCore
import PlanModel
import Testing
import TestSupport

@testable import Inventory

/// `PlanStore.plan`: planning runs on a snapshot, outside the write lock, and its result is
/// applied only if nothing changed since the snapshot.
@Suite struct PlanningTests {
    static func store(_ dir: TempDir) throws -> PlanStore {
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try s.addServers([NewServer(name: "a", gpu: "l4-24gb", gpus: 2)])
        try s.addJobs([NewJob(name: "j", kind: .sized, gpus: 1, gpuMemoryBytes: 1 << 30)])
        return s
    }

    static func placement(_ snap: PlanningSnapshot) -> PlanChanges {
        let gpu = snap.servers.flatMap(\.gpus).first { $0.job == nil }!
        return PlanChanges(add: [
            NewPlacement(
                job: "j", replica: 0, strategy: .sized, tp: 1, pp: 1, dp: 1, gpuType: "l4-24gb", perGPUBytes: 1 << 30, hostBytes: 0,
                gpuIDs: [gpu.id])
        ])
    }

    @Test func anotherWriterIsNotBlockedWhilePlanningAndThePlanIsRedoneOnItsChange() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.store(dir)
        var config = Configuration()
        config.busyMode = .timeout(1)
        let other = try DatabaseQueue(path: dir.path("p.sqlite"), configuration: config)
        var runs = 0
        var serversSeen: [Int] = []
        try Planning.run(s, dryRun: false) { snap -> (PlanChanges, Void) in
            runs += 1
            serversSeen.append(snap.servers.count)
            if runs == 1 {
                // Another process writes while this one plans: with planning inside the write
                // transaction it would wait for the lock and fail after its 1 s timeout.
                try other.write { db in
                    try db.execute(sql: "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes, site, rack) VALUES ('b', 'l4-24gb', 1, 1, '', '')")
                    try db.execute(sql: "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) VALUES (last_insert_rowid(), 0, 'l4-24gb', 24152899584)")
                }
            }
            return (Self.placement(snap), ())
        }
        try other.close()
        // The first plan was made on a snapshot that had gone stale; it was made again on the new one.
        #expect(runs == 2)
        #expect(serversSeen == [1, 2])
        let placed = try s.jobs().first { $0.name == "j" }!
        #expect(placed.placements.count == 1)
        #expect(try s.servers().count == 2)
    }

    @Test func anUnchangedSnapshotIsAppliedOnce() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try Self.store(dir)
        var runs = 0
        try Planning.run(s, dryRun: false) { snap -> (PlanChanges, Void) in
            runs += 1
            return (Self.placement(snap), ())
        }
        #expect(runs == 1)
        #expect(try s.jobs().first!.placements.count == 1)
    }
}
