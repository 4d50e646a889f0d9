import Foundation
import Testing
import TestSupport

@testable import Inventory

/// The binary carries Migrations/ and Seeds/ (the EmbedResources build plugin), byte for byte.
@Suite struct EmbeddedResourcesTests {
    @Test func theEmbeddedCopyIsExactlyTheCheckoutsFiles() throws {
        var onDisk: [String: Data] = [:]
        for (folder, ending) in [("Migrations", ".sql"), ("Seeds", ".json")] {
            let dir = repositoryRoot.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(ending) {
                onDisk["\(folder)/\(name)"] = try Data(contentsOf: dir.appendingPathComponent(name))
            }
        }
        #expect(!onDisk.isEmpty)
        #expect(Set(Resources.embedded.files.keys) == Set(onDisk.keys))
        for (path, data) in onDisk { #expect(Resources.embedded.files[path] == data, "\(path) differs") }
    }

    @Test func withoutPLAN_RESOURCESTheEmbeddedCopyIsUsed() throws {
        let r = try Resources.locate(environment: [:])
        #expect(r.origin == Resources.embedded.origin)
        #expect(throws: StoreError.resourcesWithoutMigrations(root: "/no/such/checkout")) {
            try Resources.locate(environment: ["PLAN_RESOURCES": "/no/such/checkout"])
        }
    }
}
