import Foundation
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
}
