import Foundation
import Testing
import TestSupport

/// Issue 12: a network fabric for work that spans servers; purchase that may re-plan placed jobs; pinned work.
@Suite struct FabricAndRepackTests {
    /// Fabric ids and rates as the seed file states them, read here rather than through plan.
    static func skuFabrics() throws -> [String: String] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/skus.json"))
        let all = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: all.map { ($0["id"] as! String, $0["fabric"] as! String) })
    }

    @Test func aSeventyBFullFineTuneBuysClusterNodesNotWorkstations() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("job", "add", "ft-70b", "--model", "llama-3-70b", "--mode", "train", "--batch", "1", "--seq", "2048"))
        let g = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        let lines = try #require(g["purchase"] as? [[String: Any]])
        #expect(!lines.isEmpty, "\(g)")
        let fabrics = try Self.skuFabrics()
        let rdma100 = ["ib-xdr-800", "ib-ndr-400", "roce-400", "ib-hdr-200", "roce-200", "ib-edr-100", "roce-100"]
        for l in lines {
            let sku = l["server_sku"] as! String
            let servers = l["quantity"] as! Int
            // One server needs no fabric; more than one must be on an RDMA fabric of 100 Gb/s or more.
            #expect(servers == 1 || rdma100.contains(fabrics[sku]!), "\(sku) x \(servers) on \(fabrics[sku]!)")
        }
        // The servers listing shows the fabric and its rate.
        ok(f.plan("add-server", "n", "--gpu", "h100", "--gpus", "8"))
        let s = try jsonArray(f.plan("servers", "--format", "json").stdout)
        #expect(s.first?["fabric"] as? String == "ib-ndr-400")
        #expect(s.first?["fabric_bytes_per_s"] as? Int == 50_000_000_000)
        try f.expectRejected(["add-server", "m", "--gpu", "h100", "--gpus", "8", "--fabric", "token-ring"], mentioning: "token-ring")
        try f.expectRejected(["job", "add", "x", "--gpus", "2", "--gpu-memory", "10GB", "--min-fabric", "carrier-pigeon"], mentioning: "carrier-pigeon")
    }

    @Test func repackBuysLessAndPinnedWorkStays() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        // Job a (4 GPUs) goes to the only server, an 8-GPU one; a 4-GPU server arrives later.
        ok(f.plan("add-server", "big", "--gpu", "h100", "--gpus", "8"))
        ok(f.plan("job", "add", "a", "--gpus", "4", "--gpu-memory", "40GB"))
        ok(f.plan("place"))
        ok(f.plan("add-server", "small", "--gpu", "h100", "--gpus", "4"))
        // c needs all 8 GPUs of one server: it fits only if a moves to the small server.
        ok(f.plan("job", "add", "c", "--gpus", "8", "--gpu-memory", "40GB", "--same-server"))
        let keep = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        #expect(keep["mode"] as? String == "keep")
        let keepCost = try #require(keep["total_price"] as? Int)
        #expect(keepCost > 0)
        #expect(keep["repack_saving"] as? Int == keepCost, "\(keep)")
        #expect(f.plan("gaps").stdout.contains("Re-planning placed jobs that are not pinned would buy"))
        let repack = try jsonObject(f.plan("gaps", "--repack", "--what-if", "--format", "json").stdout)
        #expect(repack["mode"] as? String == "repack")
        #expect(repack["total_price"] as? Int == 0, "\(repack)")
        let moves = try #require(repack["moves"] as? [[String: Any]])
        #expect(moves.count == 1 && moves[0]["job"] as? String == "a" && (moves[0]["to"] as? String ?? "").hasPrefix("small"), "\(moves)")
        // Pinned, a stays: re-planning then saves nothing, and place --repack leaves it too.
        ok(f.plan("job", "pin", "a"))
        let pinned = try jsonObject(f.plan("gaps", "--repack", "--format", "json").stdout)
        #expect(pinned["total_price"] as? Int == keepCost)
        #expect(try jsonObject(f.plan("gaps", "--format", "json").stdout)["repack_saving"] == nil)
        ok(f.plan("place", "--repack"))
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        let a = try #require(jobs.first { $0["name"] as? String == "a" })
        #expect(a["state"] as? String == "pinned")
        #expect(f.plan("servers").stdout.contains("a"))
        try f.expectRejected(["unplace", "--job", "a"], mentioning: "pinned")
        try f.expectRejected(["job", "pin", "c"], mentioning: "place it first")
        ok(f.plan("job", "unpin", "a"))
        ok(f.plan("place", "--repack"))
        let after = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(after.allSatisfy { $0["state"] as? String == "placed" }, "\(after)")
    }
}
