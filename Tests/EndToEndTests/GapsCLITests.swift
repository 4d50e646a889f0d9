import Foundation
import Testing
import TestSupport

@Suite struct GapsCLITests {
    /// The example of docs/placement.md: a calculator buys per GPU type; plan gaps shares a server.
    @Test func perTypeArithmeticBuysMoreThanGaps() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("skus", "set-price", "rtx-a6000-2x-workstation", "--price", "9000"))
        ok(f.plan("skus", "set-price", "rtx-a6000-4x", "--price", "18000"))
        ok(f.plan("skus", "set-price", "a100-pcie-80gb-4x", "--price", "66000"))
        ok(f.plan("job", "add", "embed-40g", "--gpus", "2", "--gpu-memory", "40GB", "--gpu-types", "rtx-a6000-48gb,a100-pcie-80gb"))
        ok(f.plan("job", "add", "serve-70g", "--gpus", "2", "--gpu-memory", "70GB", "--gpu-types", "a100-pcie-80gb"))
        let j = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        let buy = try #require(j["purchase"] as? [[String: Any]])
        #expect(buy.count == 1)
        #expect(buy.first?["server_sku"] as? String == "a100-pcie-80gb-4x")
        #expect(buy.first?["quantity"] as? Int == 1)
        #expect(Set(buy.first?["jobs"] as? [String] ?? []) == ["embed-40g", "serve-70g"])
        #expect(j["total_price"] as? Int == 66_000)
        #expect(j["proved_optimal"] as? Bool == true)
        let arithmetic = try #require(j["per_type_arithmetic"] as? [String: Any])
        // 2 x RTX A6000 (1 two-GPU workstation, $9,000) + 2 x A100 PCIe (1 four-GPU server, $66,000).
        #expect(arithmetic["total_price"] as? Int == 75_000)
    }

    @Test func csvHasTheContractColumnsAndATotalThatAddsUp() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "l40s", "--gpus", "4"))
        ok(f.plan("job", "add", "big, \"quoted\" job", "--gpus", "8", "--gpu-memory", "70GB", "--same-server"))
        ok(f.plan("job", "add", "llama3-70b-ft", "--model", "llama-3-70b", "--mode", "train", "--checkpointing", "--gpu-types", "h100-sxm-80gb,h200-141gb"))
        ok(f.plan("job", "add", "serve", "--model", "llama-3-8b", "--mode", "infer", "--replicas", "5"))
        let out = f.dir.path("gaps.csv")
        let r = f.plan("gaps", "--format", "csv", "--output", out)
        ok(r)
        let text = String(decoding: fileBytes(out), as: UTF8.self)
        #expect(text == f.plan("gaps", "--format", "csv").stdout)
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.first == "server_sku,gpu,gpus_per_server,quantity,unit_price,total_price,jobs")
        #expect(lines.last?.hasPrefix("TOTAL,") == true)
        #expect(text.contains("\"big, \"\"quoted\"\" job\""), "a job name with a comma and quotes must be quoted: \(text)")
        // Parse as RFC 4180 and add the rows up.
        var rows: [[String]] = []
        var field = ""
        var row: [String] = []
        var quoted = false
        var chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\r\n" || c == "\n" {
                row.append(field); field = ""; rows.append(row); row = []
            } else {
                field.append(c)
            }
            i += 1
        }
        chars = []
        #expect(rows.allSatisfy { $0.count == 7 })
        let body = rows.dropFirst().dropLast()
        #expect(!body.isEmpty)
        for r in body { #expect(Int(r[3])! * Int(r[4])! == Int(r[5])!, "row \(r)") }
        #expect(Int(rows.last![5]) == body.reduce(0) { $0 + Int($1[5])! })
        #expect(Int(rows.last![3]) == body.reduce(0) { $0 + Int($1[3])! })
    }

    @Test func gapsAndWhatIfWriteNothing() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "h100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("job", "add", "a", "--gpus", "6", "--gpu-memory", "60GB", "--same-server"))
        ok(f.plan("job", "add", "b", "--gpus", "6", "--gpu-memory", "60GB", "--same-server"))
        ok(f.plan("place"))
        let dump = try dumpDatabase(f.db)
        let bytes = fileBytes(f.db)
        let r = f.plan("gaps", "--what-if", "--format", "json")
        ok(r)
        let j = try jsonObject(r.stdout)
        let whatIf = try #require(j["what_if"] as? [[String: Any]])
        #expect(whatIf.map { $0["job"] as! String } == ["b"])
        let servers = (whatIf.first?["allocations"] as? [[String: Any]])?.map { $0["server"] as! String } ?? []
        #expect(servers.count == 1 && servers[0].hasPrefix("new-"))
        #expect(try dumpDatabase(f.db) == dump)
        #expect(fileBytes(f.db) == bytes)
    }

    @Test func aJobNoServerCanHoldIsReportedNotBoughtFor() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        // More GPUs than the largest SKU (a 72-GPU NVL72 rack) has, all on one server.
        ok(f.plan("job", "add", "wide", "--gpus", "100", "--gpu-memory", "10GB", "--same-server"))
        let j = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        #expect((j["purchase"] as? [Any])?.isEmpty == true)
        let unbuyable = try #require(j["unbuyable"] as? [[String: Any]])
        #expect(unbuyable.first?["job"] as? String == "wide")
        #expect((unbuyable.first?["reason"] as? String)?.isEmpty == false)
        try f.expectRejected(["gaps", "--output", "/proc/nope/gaps.csv", "--format", "csv"], mentioning: "/proc/nope/gaps.csv")
    }

    @Test func nothingToBuyWhenEverythingFits() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "h100-sxm-80gb", "--gpus", "8"))
        ok(f.plan("job", "add", "a", "--gpus", "2", "--gpu-memory", "10GB"))
        let j = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        #expect(j["total_price"] as? Int == 0)
        #expect((j["jobs"] as? [[String: Any]])?.first?["runs_on"] as? String == "existing")
    }
}
