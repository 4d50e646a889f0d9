import Foundation
import GRDB
import PlanModel
import Testing
import TestSupport

@testable import Inventory

/// The store refuses bad input with error cases that carry the bad values, and adds nothing.
@Suite struct StoreErrorTests {
    @Test func aBadRowIsACaseNamingItsPosition() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        let batch = [NewServer(name: "a", gpu: "l4", gpus: 1), NewServer(name: "a", gpu: "l4", gpus: 1)]
        #expect(throws: RowError(index: 1, .duplicateServer(name: "a"))) { try store.addServers(batch) }
        #expect(throws: RowError(index: 0, .gpuCountOutOfRange(server: "b", gpus: 0))) {
            try store.addServers([NewServer(name: "b", gpu: "l4", gpus: 0)])
        }
        #expect(try store.servers().isEmpty)
        #expect(
            RowError(index: 0, .gpuCountOutOfRange(server: "b", gpus: 0)).description
                == "invalid GPU count 0 for server 'b'; expected 1 ... 1024")
    }

    @Test func unknownNamesAreCasesWithWhatIsKnown() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try store.addServers([NewServer(name: "a", gpu: "l4", gpus: 1)])
        #expect(throws: StoreError.unknownServer(name: "z", known: 1)) { try store.removeServer(named: "z", force: false) }
        #expect(throws: StoreError.unknownJob(name: "j", known: 0)) { try store.removeJob(named: "j") }
        #expect(throws: StoreError.unknownJob(name: "j", known: nil)) { try store.unplace(names: ["j"]) }
    }

    /// Labels are enums once read: a value plan never writes (the file edited by hand, or by a
    /// newer plan) is an error naming the column, not a silent default.
    @Test(arguments: [
        ("INSERT INTO placements (job_id, replica, strategy, tp, pp, dp, gpu_type_id, per_gpu_bytes) "
            + "SELECT id, 0, 'zero4', 1, 1, 1, 'l4-24gb', 1 FROM jobs", "placements", "strategy", "zero4"),
        ("UPDATE jobs SET strategy = 'auto'", "jobs", "strategy", "auto"),
        ("UPDATE jobs SET kind = 'batch'", "jobs", "kind", "batch"),
        ("UPDATE jobs SET mode = 'serve'", "jobs", "mode", "serve"),
    ])
    func anUnknownStoredLabelIsAnErrorNamingIt(sql: String, table: String, column: String, value: String) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = dir.path("p.sqlite")
        let store = try PlanStore.open(path: path, resources: resources)
        try store.addJobs([NewJob(name: "j", kind: .llm, mode: .train, modelID: "llama-3-8b")])
        let outside = try DatabaseQueue(path: path)
        try outside.write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: sql)
        }
        try outside.close()
        let expected = StoreError.unknownStoredValue(path: path, table: table, column: column, value: value)
        #expect(throws: expected) { try store.jobs() }
        #expect(throws: expected) { try store.snapshot() }
        #expect(
            expected.description
                == "database '\(path)' has \(table).\(column) '\(value)', which this plan does not know; "
                + "the file was changed outside plan: restore it from a backup")
    }
}
