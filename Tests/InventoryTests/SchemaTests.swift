import Foundation
import GRDB
import PlanModel
import Testing
import TestSupport

@testable import Inventory

let resources = Resources(root: repositoryRoot)

/// Counts the objects of a seed file without going through the code under test.
func seedCount(_ file: String) throws -> Int {
    let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/\(file)"))
    return (try JSONSerialization.jsonObject(with: data) as! [Any]).count
}

func migrationCount() throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Migrations").path)
        .filter { $0.hasSuffix(".sql") }.count
}

@Suite struct SchemaTests {
    @Test func migratingAnEmptyDatabaseCreatesTheSchemaAndSeeds() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        let tables = try store.queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for t in ["gpu_aliases", "gpu_types", "gpus", "grdb_migrations", "jobs", "meta", "model_aliases", "models", "placement_gpus",
                  "placements", "schema_migrations", "server_skus", "servers"] {
            #expect(tables.contains(t), "missing table \(t)")
        }
        let gpuColumns = try store.queue.read { db in try db.columns(in: "gpus").map(\.name) }
        #expect(gpuColumns == ["id", "server_id", "idx", "gpu_type_id", "memory_bytes"])
        #expect(try store.schemaVersion() == migrationCount())
        let recorded = try store.queue.read { db in try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations ORDER BY version") }
        #expect(recorded == Array(1...(try migrationCount())))
        #expect(try store.gpuTypes().count == seedCount("gpus.json"))
        #expect(try store.skus().count == seedCount("skus.json"))
        #expect(try store.models().count == seedCount("models.json"))
        let mode = try store.queue.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func openingAgainChangesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = dir.path("p.sqlite")
        do {
            let s = try PlanStore.open(path: path, resources: resources)
            try s.addServers([NewServer(name: "a", gpu: "h100-sxm-80gb", gpus: 2)])
            try s.queue.close()
        }
        let before = try dumpDatabase(path)
        let bytes = fileBytes(path)
        do {
            let s = try PlanStore.open(path: path, resources: resources)
            try s.queue.close()
        }
        #expect(try dumpDatabase(path) == before)
        #expect(fileBytes(path) == bytes, "the database file changed")
    }

    @Test func refusesADatabaseFromANewerVersion() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = dir.path("p.sqlite")
        let s = try PlanStore.open(path: path, resources: resources)
        try s.queue.write { db in try db.execute(sql: "PRAGMA user_version = 999") }
        try s.queue.close()
        #expect {
            try PlanStore.open(path: path, resources: resources)
        } throws: { error in
            guard case .schemaNewer(path, 999, let known)? = error as? StoreError else { return false }
            return known > 0
        }
    }

    @Test func deletingAServerRemovesItsGPUsAndLeavesNoOrphans() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try s.addServers([
            NewServer(name: "a", gpu: "h100-sxm-80gb", gpus: 8), NewServer(name: "b", gpu: "l4", gpus: 4),
        ])
        #expect(try s.queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM gpus") } == 12)
        _ = try s.removeServer(named: "a", force: false)
        #expect(try s.queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM gpus") } == 4)
        let orphans = try s.queue.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(orphans.isEmpty)
        // The raw delete cascades too.
        try s.queue.write { db in try db.execute(sql: "DELETE FROM servers WHERE name = 'b'") }
        #expect(try s.queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM gpus") } == 0)
    }

    @Test func reseedingKeepsUserPricesAndAddsNoDuplicates() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        _ = try s.setSKUPrice(id: "hgx-h100-8x", priceUSD: 123_456, discountBasisPoints: 1000, clear: false)
        _ = try s.addSKU(ServerSKU(id: "mine", name: "mine", gpu: "l4", gpusPerServer: 2, hostMemoryBytes: 1 << 37, listPriceUSD: 9000, origin: .user))
        let counts = (try s.gpuTypes().count, try s.skus().count, try s.models().count)
        try s.reseed()
        try s.reseed()
        #expect((try s.gpuTypes().count, try s.skus().count, try s.models().count) == counts)
        let sku = try #require(try s.skus().first { $0.id == "hgx-h100-8x" })
        #expect(sku.userPriceUSD == 123_456)
        #expect(sku.priceUSD == 111_110)  // 123,456 less 10%, rounded to the dollar
        #expect(try s.skus().contains { $0.id == "mine" && $0.origin == .user })
    }
}

/// Each integrity rule in the schema rejects its bad row.
@Suite struct ConstraintTests {
    static let bad: [(String, String)] = [
        ("server with 0 GPUs", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('x', 'l4-24gb', 0, 1)"),
        ("server with negative GPUs", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('x', 'l4-24gb', -1, 1)"),
        ("server with 0 host memory", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('x', 'l4-24gb', 1, 0)"),
        ("server with unknown GPU type", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('x', 'nope', 1, 1)"),
        ("duplicate server name", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('s', 'l4-24gb', 1, 1)"),
        ("empty server name", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('', 'l4-24gb', 1, 1)"),
        ("server name NULL", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES (NULL, 'l4-24gb', 1, 1)"),
        ("GPU of a missing server", "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) VALUES (999, 0, 'l4-24gb', 1)"),
        ("GPU index twice", "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) SELECT id, 0, 'l4-24gb', 1 FROM servers WHERE name = 's'"),
        ("GPU with 0 memory", "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) SELECT id, 7, 'l4-24gb', 0 FROM servers WHERE name = 's'"),
        ("GPU with negative index", "INSERT INTO gpus (server_id, idx, gpu_type_id, memory_bytes) SELECT id, -1, 'l4-24gb', 5 FROM servers WHERE name = 's'"),
        ("GPU type with 0 memory", "INSERT INTO gpu_types (id, name, vendor, memory_bytes, bf16, fp8, bandwidth_bytes_per_s, interconnect, interconnect_bytes_per_s, price_usd) VALUES ('z', 'z', 'v', 0, 1, 1, 1, 'p', 1, 1)"),
        ("GPU type with bf16 = 2", "INSERT INTO gpu_types (id, name, vendor, memory_bytes, bf16, fp8, bandwidth_bytes_per_s, interconnect, interconnect_bytes_per_s, price_usd) VALUES ('z', 'z', 'v', 1, 2, 1, 1, 'p', 1, 1)"),
        ("GPU type with negative price", "INSERT INTO gpu_types (id, name, vendor, memory_bytes, bf16, fp8, bandwidth_bytes_per_s, interconnect, interconnect_bytes_per_s, price_usd) VALUES ('z', 'z', 'v', 1, 1, 1, 1, 'p', 1, -5)"),
        ("SKU with 0 GPUs", "INSERT INTO server_skus (id, name, gpu_id, gpus_per_server, host_memory_bytes, price_usd) VALUES ('k', 'k', 'l4-24gb', 0, 1, 1)"),
        ("SKU with unknown GPU", "INSERT INTO server_skus (id, name, gpu_id, gpus_per_server, host_memory_bytes, price_usd) VALUES ('k', 'k', 'nope', 1, 1, 1)"),
        ("SKU discount of 100%", "UPDATE server_skus SET discount_basis_points = 10000"),
        ("model with invalid JSON", "INSERT INTO models (id, config_json) VALUES ('m', '{not json')"),
        ("alias of a missing model", "INSERT INTO model_aliases (alias, model_id) VALUES ('a', 'missing')"),
        ("alias used twice (case-insensitive)", "INSERT INTO gpu_aliases (alias, gpu_id) SELECT upper(alias), gpu_id FROM gpu_aliases LIMIT 1"),
        ("job with 0 replicas", "INSERT INTO jobs (name, kind, gpus, gpu_memory_bytes, replicas) VALUES ('j', 'sized', 1, 1, 0)"),
        ("sized job without GPUs", "INSERT INTO jobs (name, kind) VALUES ('j', 'sized')"),
        ("llm job without a model", "INSERT INTO jobs (name, kind, mode) VALUES ('j', 'llm', 'train')"),
        ("job of unknown kind", "INSERT INTO jobs (name, kind, gpus, gpu_memory_bytes) VALUES ('j', 'other', 1, 1)"),
        ("placement of a missing job", "INSERT INTO placements (job_id, replica, strategy, tp, pp, dp, gpu_type_id, per_gpu_bytes) VALUES (999, 0, 'ddp', 1, 1, 1, 'l4-24gb', 1)"),
        ("deleting a GPU type in use", "DELETE FROM gpu_types WHERE id = 'l4-24gb'"),
        ("a string where a count belongs", "INSERT INTO servers (name, gpu_type_id, gpu_count, host_memory_bytes) VALUES ('x', 'l4-24gb', 'eight', 1)"),
    ]

    @Test(arguments: bad.map(\.0))
    func rejects(_ name: String) throws {
        let sql = Self.bad.first { $0.0 == name }!.1
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try s.addServers([NewServer(name: "s", gpu: "l4-24gb", gpus: 4)])
        let before = try dumpDatabase(s.path)
        // The statement must be refused by an integrity rule of the schema, not by anything else
        // (a typo in the test's SQL would be a "no such column" error and prove nothing).
        do {
            try s.queue.write { db in try db.execute(sql: sql) }
            Issue.record("\(name): the schema accepted \(sql)")
        } catch let e as DatabaseError {
            #expect(e.resultCode == .SQLITE_CONSTRAINT, "\(name): refused for another reason: \(e)")
        }
        #expect(try dumpDatabase(s.path) == before, "\(name): the refused statement changed the database")
        #expect(try s.queue.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }.isEmpty)
    }

    @Test func aGPUCannotBeHeldByTwoPlacements() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let s = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try s.addServers([NewServer(name: "s", gpu: "l4-24gb", gpus: 1)])
        try s.queue.write { db in
            try db.execute(sql: "INSERT INTO jobs (name, kind, gpus, gpu_memory_bytes) VALUES ('a', 'sized', 1, 1), ('b', 'sized', 1, 1)")
            try db.execute(sql: "INSERT INTO placements (job_id, replica, strategy, tp, pp, dp, gpu_type_id, per_gpu_bytes) SELECT id, 0, 'ddp', 1, 1, 1, 'l4-24gb', 1 FROM jobs")
            try db.execute(sql: "INSERT INTO placement_gpus (placement_id, gpu_id) SELECT min(id), (SELECT id FROM gpus) FROM placements")
        }
        let twice = #expect(throws: DatabaseError.self) {
            try s.queue.write { db in
                try db.execute(sql: "INSERT INTO placement_gpus (placement_id, gpu_id) SELECT max(id), (SELECT id FROM gpus) FROM placements")
            }
        }
        #expect(twice?.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE, "\(String(describing: twice))")
        // A server whose GPU is held cannot be deleted behind the planner's back.
        let held = #expect(throws: DatabaseError.self) {
            try s.queue.write { db in try db.execute(sql: "DELETE FROM servers") }
        }
        // ON DELETE RESTRICT: SQLite raises it from the foreign key's action (an internal trigger).
        #expect(held?.resultCode == .SQLITE_CONSTRAINT && held?.message == "FOREIGN KEY constraint failed", "\(String(describing: held))")
    }
}
