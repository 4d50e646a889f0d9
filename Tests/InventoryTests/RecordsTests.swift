import Foundation
import GRDB
import PlanModel
import Testing
import TestSupport

@testable import Inventory

/// Each table's record names the table's columns, in order, and its requests select them by name.
@Suite struct RecordsTests {
    static func selectAll<R: TableRow>(_ record: R.Type, _ db: Database) throws -> String {
        try R.all().makePreparedRequest(db).statement.sql
    }

    @Test func everyRecordListsItsTablesColumnsAsMigrated() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try PlanStore.open(path: dir.path("p.sqlite"), resources: resources)
        try store.queue.read { db in
            for record in tableRows {
                let table = record.databaseTableName
                let schema = try db.columns(in: table).map(\.name)
                #expect(record.columnNames == schema, "record of \(table)")
                let sql = try Self.selectAll(record, db)
                #expect(!sql.contains("*"), "\(table): \(sql)")
            }
            // Every table but the bookkeeping ones has a record.
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            let covered = Set(tableRows.map { $0.databaseTableName })
            #expect(tables.filter { !covered.contains($0) } == ["grdb_migrations", "meta", "schema_migrations"])
        }
    }
}
