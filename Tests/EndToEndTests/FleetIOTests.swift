import Foundation
import Testing
import TestSupport

/// Real fleets in, real schedulers out (issue 14), through the built binary: node lists from
/// Kubernetes, Slurm and nvidia-smi imported and synced; placements exported as Kubernetes manifests
/// checked by kubernetes-validate and as Slurm batch scripts accepted by a real slurmctld
/// (`sbatch --test-only`; bin/test starts the emulated cluster with .ci/slurm-up).
@Suite(.serialized) struct FleetIOTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/import")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    struct Fleet {
        let dir = TempDir()
        var db: String { dir.path("p.sqlite") }
        var env: [String: String] { ["PLAN_DB": db] }
        func plan(_ args: String...) -> RunResult { runPlan(args, env: env, cwd: dir.url.path) }
        func plan(_ args: [String], stdin: String? = nil) -> RunResult { runPlan(args, env: env, cwd: dir.url.path, stdin: stdin) }
        func servers() throws -> [String: [String: Any]] {
            let list = try jsonArray(plan("servers", "--format", "json").stdout)
            return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as! String, $0) })
        }
    }

    /// Runs a program from PATH (the tools the tests check against).
    static func tool(_ name: String, _ args: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [name] + args
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "") + ":/usr/local/bin:/usr/bin:/bin:/root/.pyenv/shims"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (127, "\(name): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func aDryRunOnAMissingDatabaseLeavesNothingBehind() throws {
        // The would-be changes are shown against a fresh, seeded database, and no database file appears where the
        // command looked (it used to create and seed one there).
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(!FileManager.default.fileExists(atPath: f.db))
        let mig = "ip-10-0-15-23.ec2.internal"  // offers MIG slices, which plan refuses unless excluded
        let dry = f.plan("import", "kubernetes", Self.fixture("k8s-nodes.json"), "--exclude", mig, "--dry-run", "--format", "json")
        #expect(dry.status == 0, "\(dry.stderr)")
        let added = try #require(try jsonObject(dry.stdout)["added"] as? [Any])
        #expect(!added.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: f.db))
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.dir.url.path).allSatisfy { !$0.hasSuffix(".sqlite") })
        // Without --dry-run the same import creates it.
        #expect(f.plan("import", "kubernetes", Self.fixture("k8s-nodes.json"), "--exclude", mig).status == 0)
        #expect(FileManager.default.fileExists(atPath: f.db))
    }

    @Test func kubernetesNodesAreImportedMarkedAndCounted() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        // The MIG node is refused by name; leaving it out imports the rest.
        let mig = f.plan("import", "kubernetes", Self.fixture("k8s-nodes.json"))
        #expect(mig.status != 0 && mig.stderr.contains("offers MIG slices") && mig.stderr.contains("--exclude"))
        let none = try !FileManager.default.fileExists(atPath: f.db) || f.servers().isEmpty
        #expect(none)
        let r = f.plan(
            ["import", "kubernetes", Self.fixture("k8s-nodes.json"), "--rack-label", "example.com/rack", "--exclude", "ip-10-0-15-23.ec2.internal", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try jsonObject(r.stdout)
        #expect((report["added"] as? [String])?.count == 4)
        #expect(report["skipped_without_gpus"] as? Int == 1)
        let s = try f.servers()
        let h100 = try #require(s["ip-10-0-12-41.ec2.internal"])
        #expect(h100["gpu"] as? String == "h100-sxm-80gb" && h100["gpus"] as? Int == 8)
        #expect(h100["site"] as? String == "us-east-1a" && h100["rack"] as? String == "r07")
        #expect(h100["host_memory_bytes"] as? Int == 2_113_634_112 * 1024)
        #expect(h100["state"] as? String == "ready" && h100["source"] as? String == "kubernetes")
        #expect(s["ip-10-0-13-17.ec2.internal"]?["state"] as? String == "unschedulable")
        #expect(s["ip-10-0-14-9.ec2.internal"]?["state"] as? String == "not-ready")
        // Marked nodes take no new work: capacity counts only the two H100 nodes.
        let cap = try jsonObject(f.plan("capacity", "--format", "json").stdout)
        #expect(cap["free_gpus"] as? Int == 16)
    }

    @Test func reimportIsASync() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let file = f.dir.path("nodes.json")
        try FileManager.default.copyItem(atPath: Self.fixture("k8s-nodes.json"), toPath: file)
        let args = ["import", "kubernetes", file, "--exclude", "ip-10-0-15-23.ec2.internal", "--format", "json"]
        #expect(f.plan(args).status == 0)
        let again = try jsonObject(f.plan(args).stdout)
        #expect(again["unchanged"] as? Int == 4 && (again["added"] as? [String])?.isEmpty == true)
        // Place a job on the H100s, then drop one H100 node from the list and shrink the other.
        #expect(f.plan("job", "add", "big", "--gpus", "16", "--gpu-memory", "70GB").status == 0)
        #expect(f.plan("place").status == 0)
        #expect(f.plan("job", "pin", "big").status == 0)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        var items = json["items"] as! [[String: Any]]
        items.removeAll { ($0["metadata"] as! [String: Any])["name"] as? String == "ip-10-0-12-42.ec2.internal" }
        json["items"] = items
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
        let before = try dumpDatabase(f.db)
        let dry = try jsonObject(f.plan(args + ["--dry-run", "--prune"]).stdout)
        #expect(dry["dry_run"] as? Bool == true && dry["missing"] as? [String] == ["ip-10-0-12-42.ec2.internal"])
        #expect(dry["needs_force"] as? Bool == true && dry["unplaced_jobs"] as? [String] == ["big"])
        #expect(try dumpDatabase(f.db) == before)
        // Pruning a server that runs work is refused without --force, and changes nothing.
        let refused = f.plan(args + ["--prune"])
        #expect(refused.status != 0 && refused.stderr.contains("runs 1 placed job(s) (big)") && refused.stderr.contains("--force"))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(try dumpDatabase(f.db) == before)
        // Without --prune the missing server is kept and reported.
        let kept = try jsonObject(f.plan(args).stdout)
        #expect(kept["missing"] as? [String] == ["ip-10-0-12-42.ec2.internal"] && (kept["removed"] as? [String])?.isEmpty == true)
        let forced = try jsonObject(f.plan(args + ["--prune", "--force"]).stdout)
        #expect(forced["removed"] as? [String] == ["ip-10-0-12-42.ec2.internal"] && forced["unplaced_jobs"] as? [String] == ["big"])
        #expect(try f.servers()["ip-10-0-12-42.ec2.internal"] == nil)
        // Unplaced work is no longer running work: the pin goes with the placement.
        #expect(try jsonArray(f.plan("jobs", "--format", "json").stdout).first?["state"] as? String == "pending")
    }

    @Test func slurmAndNvidiaSMIFormats() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        // A GRES type names a family: refused, listing the candidates, until --gpu-map settles it.
        let ambiguous = f.plan("import", "slurm", Self.fixture("slurm-scontrol.txt"))
        #expect(ambiguous.status != 0)
        #expect(ambiguous.stderr.contains("GPU type 'h100'") && ambiguous.stderr.contains("h100-pcie-80gb, h100-sxm-80gb"))
        let map = "h100=h100-sxm-80gb,a100=a100-sxm-80gb"
        let r = f.plan("import", "slurm", Self.fixture("slurm-scontrol.txt"), "--gpu-map", map, "--format", "json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try jsonObject(r.stdout)["skipped_without_gpus"] as? Int == 1)
        let s = try f.servers()
        #expect(s["gpu-h100-01"]?["gpu"] as? String == "h100-sxm-80gb" && s["gpu-h100-01"]?["gpus"] as? Int == 8)
        #expect(s["gpu-a100-01"]?["state"] as? String == "drain")
        #expect(s["gpu-a100-02"]?["state"] as? String == "down")
        #expect((s["gpu-h100-01"]?["partitions"] as? [String])?.contains("gpu") == true)
        // A node left out on purpose is not missing, so --prune keeps it.
        let excluded = try jsonObject(
            f.plan("import", "slurm", Self.fixture("slurm-scontrol.txt"), "--gpu-map", map, "--exclude", "gpu-h100-01", "--prune", "--dry-run", "--format", "json").stdout)
        #expect((excluded["missing"] as? [String])?.isEmpty == true && (excluded["removed"] as? [String])?.isEmpty == true)
        // A name that already means another GPU type cannot become an alias of this one.
        let shadow = f.plan("gpus", "alias", "a100-sxm-40gb", "h100-sxm-80gb")
        #expect(shadow.status != 0 && shadow.stderr.contains("already names GPU type 'a100-sxm-40gb'"))
        #expect(f.plan("gpus", "alias", "NVIDIA-H100-Custom", "h100-sxm-80gb").status == 0)
        // sinfo's view of the same nodes changes nothing.
        let sinfo = try jsonObject(f.plan("import", "slurm", Self.fixture("slurm-sinfo.txt"), "--gpu-map", map, "--format", "json").stdout)
        #expect(sinfo["unchanged"] as? Int == 4, "\(sinfo)")
        // nvidia-smi: CSV and XML, hosts named by their files.
        let n = f.plan("import", "nvidia-smi", Self.fixture("nvidia-smi-host1.csv"), Self.fixture("nvidia-smi-host2.xml"), "--format", "json")
        #expect(n.status == 0, "\(n.stderr)")
        let s2 = try f.servers()
        #expect(s2["nvidia-smi-host1"]?["gpu"] as? String == "h100-sxm-80gb" && s2["nvidia-smi-host1"]?["gpus"] as? Int == 8)
        #expect(s2["nvidia-smi-host2"]?["gpu"] as? String == "a100-sxm-80gb" && s2["nvidia-smi-host2"]?["gpus"] as? Int == 2)
        #expect(s2["nvidia-smi-host1"]?["source"] as? String == "nvidia-smi")
        // Standard input with --host.
        let csv = try String(contentsOfFile: Self.fixture("nvidia-smi-host1.csv"), encoding: .utf8)
        let piped = f.plan(["import", "nvidia-smi", "-", "--host", "gpu-9", "--format", "json"], stdin: csv)
        #expect(piped.status == 0)
        #expect(try jsonObject(piped.stdout)["added"] as? [String] == ["gpu-9"])
    }

    @Test(arguments: [
        ("malformed-k8s.json", "not a kubectl get nodes -o json output"),
        ("k8s-nodes-unknown-product.json", "unknown GPU product 'NVIDIA-GH200-480GB' on node 'gh200-n01'"),
        ("k8s-duplicate-names.json", "appears twice"),
    ])
    func badNodeListsChangeNothing(_ file: String, _ message: String) throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(f.plan("server", "add", "keep", "--gpu", "l4", "--gpus", "2").status == 0)
        let before = try dumpDatabase(f.db)
        let r = f.plan("import", "kubernetes", Self.fixture(file))
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1)
        #expect(try dumpDatabase(f.db) == before)
    }

    @Test func kubernetesExportIsSchemaValidAndDeterministic() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        #expect(f.plan("import", "kubernetes", Self.fixture("k8s-nodes.json"), "--exclude", "ip-10-0-15-23.ec2.internal").status == 0)
        #expect(f.plan("demo", "--jobs-only", "--db", f.db).status == 0)
        // A job that spans both H100 nodes.
        #expect(f.plan("job", "add", "wide", "--model", "llama-3-8b", "--mode", "train", "--gpus", "16", "--strategy", "zero3", "--batch", "4", "--priority", "20").status == 0)
        let placed = try jsonObject(f.plan("place", "--format", "json").stdout)
        let items = try #require(placed["placed"] as? [[String: Any]])
        #expect(!items.isEmpty)
        let before = try dumpDatabase(f.db)
        let out = f.dir.path("k8s")
        let e = f.plan("export", "kubernetes", "--output", out, "--format", "json")
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try dumpDatabase(f.db) == before)
        let files = try #require(try jsonObject(e.stdout)["files"] as? [[String: Any]]).map { $0["path"] as! String }
        #expect(files.count == items.count)
        let validate = Self.tool("kubernetes-validate", ["-k", "1.30.0", "--strict"] + files)
        #expect(validate.status == 0, "\(validate.output)")
        #expect(!validate.output.contains("ERROR"))
        let wide = try String(contentsOfFile: out + "/wide.yaml", encoding: .utf8)
        #expect(wide.contains("completionMode: \"Indexed\"") && wide.contains("kind: \"Service\""))
        #expect(wide.contains("\"nvidia.com/gpu\": 8") || wide.contains("nvidia.com/gpu: 8"))
        // The same database gives the same files, byte for byte.
        let again = f.dir.path("k8s2")
        #expect(f.plan("export", "kubernetes", "--output", again).status == 0)
        for path in files {
            let name = (path as NSString).lastPathComponent
            #expect(fileBytes(path) == fileBytes(again + "/" + name), "\(name)")
        }
    }

    @Test func slurmExportIsAcceptedByARealSlurmctld() throws {
        let ping = Self.tool("scontrol", ["show", "node", "--oneliner"])
        try #require(ping.status == 0, "no Slurm controller answers: run bin/test (as root it starts one with .ci/slurm-up): \(ping.output)")
        let f = Fleet()
        defer { f.dir.cleanup() }
        // The emulated cluster's own node table, as scontrol prints it.
        let r = f.plan(["import", "slurm", "-", "--gpu-map", "h100=h100-sxm-80gb,a100=a100-sxm-80gb", "--format", "json"], stdin: ping.output)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try f.servers().count == 4)
        #expect(f.plan("demo", "--jobs-only", "--db", f.db).status == 0)
        #expect(f.plan("job", "add", "wide", "--model", "llama-3-8b", "--mode", "train", "--gpus", "16", "--strategy", "zero3", "--batch", "4", "--priority", "20").status == 0)
        #expect(f.plan("place").status == 0)
        let out = f.dir.path("slurm")
        let e = f.plan("export", "slurm", "--output", out, "--format", "json")
        #expect(e.status == 0, "\(e.stderr)")
        let files = try #require(try jsonObject(e.stdout)["files"] as? [[String: Any]]).map { $0["path"] as! String }
        #expect(files.count >= 5)
        for path in files {
            let t = Self.tool("sbatch", ["--test-only", path])
            #expect(t.status == 0 && t.output.contains("to start at"), "\(path): \(t.output)")
        }
        let wide = try String(contentsOfFile: out + "/wide.sbatch", encoding: .utf8)
        #expect(wide.contains("#SBATCH --nodes=2") && wide.contains("#SBATCH --gres=gpu:h100:8") && wide.contains("torchrun"))
        // A server name Slurm cannot take is refused in one line, naming it.
        #expect(f.plan("server", "add", "srv y", "--gpu", "l4", "--gpus", "4").status == 0)
        #expect(f.plan("job", "add", "on-y", "--gpus", "4", "--gpu-memory", "20GB", "--gpu-types", "l4-24gb", "--priority", "30").status == 0)
        #expect(f.plan("place").status == 0)
        let badName = f.plan("export", "slurm", "--output", f.dir.path("slurm2"))
        #expect(badName.status != 0 && badName.stderr.contains("server name 'srv y' cannot be a Slurm node name"), "\(badName.stderr)")
        // The check is real: asking more GPUs than a node has is refused.
        let bad = out + "/too-many.sbatch"
        try wide.replacingOccurrences(of: "gpu:h100:8", with: "gpu:h100:16").write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(Self.tool("sbatch", ["--test-only", bad]).status != 0)
    }
}
