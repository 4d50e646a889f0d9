import Foundation
import Reports
import TestSupport
import Testing

@testable import PlanCLI

/// Random argument lists and random, mostly malformed files through the CLI, in-process: never a
/// crash or a trap (either would kill this test process), only results or one clean error line.
@Suite(.tags(.slow)) struct FuzzTests {
    static let commands: [[String]] = [
        ["init"], ["gpus"], ["skus"], ["skus", "set-price"], ["skus", "add"], ["models"], ["models", "add"], ["add-server"],
        ["import", "servers"], ["import", "jobs"], ["servers"], ["remove-server"], ["estimate"], ["job", "add"], ["job", "remove"],
        ["jobs"], ["place"], ["unplace"], ["capacity"], ["gaps"], ["bogus"], [],
    ]
    static let flags = [
        "--gpu", "--gpus", "--count", "--host-memory", "--model", "--mode", "--method", "--dtype", "--kv-dtype", "--batch", "--seq",
        "--tp", "--pp", "--strategy", "--offload", "--format", "--replicas", "--priority", "--gpu-memory", "--same-server", "--job",
        "--all", "--dry-run", "--repack", "--what-if", "--headroom", "--lora-rank", "--lora-targets", "--attention", "--checkpointing",
        "--gpu-types", "--price", "--discount", "--config", "--id", "--gpu-memory-utilization", "--optimizer", "--precision",
        "--force", "--strict", "--micro-batches", "--quant-group-size", "--help", "--", "-x", "--db",
    ]
    static let values = [
        "0", "-1", "1", "2", "8", "3", "99999999999999999999", "1e400", "80XB", "80GB", "1.5GiB", "", "h100", "l4", "h100-sxm-80gb",
        "nope", "llama-3-8b", "mixtral-8x7b-v0.1", "gpt2", "meta-llama/Meta-Llama-3-8B-Instruct", "train", "infer", "full", "lora",
        "qlora", "json", "csv", "table", "nan", "inf", "-inf", "0.5", "2.0", "0.99", "zero3", "fsdp", "params", "optimizer", "nf4",
        "int4", "fp8", "eager", "q,v", "q_proj,zzz", "\u{0}", "名前", "a\"b;c\nd", "s", "j", "--", "-", "/", "/proc/x",
    ]

    /// Files: malformed CSV and JSON, wrong encodings, odd configs, and a few good ones.
    static func files(in dir: TempDir) -> [String] {
        [
            dir.write("good-servers.csv", "name,gpu,gpus\nf1,l4,2\nf2,h100,8\n"),
            dir.write("good-jobs.csv", "name,gpus,gpu_memory\nfj1,1,1GB\n"),
            dir.write("bom-crlf.csv", bytes: [0xEF, 0xBB, 0xBF] + Array("name,gpu,gpus\r\nb1,l4,1\r\n".utf8)),
            dir.write("bad-row.csv", "name,gpu,gpus\nx,l4,zero\n"),
            dir.write("unclosed.csv", "name,gpu,gpus\n\"x,l4,1\n"),
            dir.write("latin1.csv", bytes: Array("name,gpu,gpus\n".utf8) + [0xFF, 0xFE, 0x41] + Array(",l4,1\n".utf8)),
            dir.write("binary.bin", bytes: (0..<512).map { UInt8(($0 * 37) % 256) }),
            dir.write("empty.json", ""),
            dir.write("deep.json", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)),
            dir.write("numbers.json", #"[{"name": "n", "gpu": "l4", "gpus": 1e400}, {"name": 5, "gpus": -1}]"#),
            dir.write("obj.json", #"{"name": "not an array"}"#),
            dir.write("config-ok.json", #"{"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#),
            dir.write("config-huge.json", #"{"vocab_size": 99999999999, "hidden_size": 99999999999, "num_hidden_layers": 99999999999, "num_attention_heads": 1, "intermediate_size": 1}"#),
            dir.write("config-types.json", #"{"vocab_size": [1], "hidden_size": {"a": 1}, "num_hidden_layers": true, "num_attention_heads": null, "intermediate_size": 1.5}"#),
            dir.write("config-neg.json", #"{"vocab_size": -5, "hidden_size": -64, "num_hidden_layers": -2, "num_attention_heads": -4, "intermediate_size": -128, "head_dim": 0}"#),
            dir.path("missing-file.csv"),
            dir.url.path,
        ]
    }

    @Test func randomArgumentListsGiveResultsOrOneCleanErrorLine() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let db = dir.path("fuzz.sqlite")
        let env = ["PLAN_DB": db, "HOME": dir.url.path, "PLAN_RESOURCES": repositoryRoot.path]
        func run(_ args: [String]) -> (Int32, String, String) {
            let ctx = Context(out: .capture(), err: .capture(), environment: env)
            let code = Plan.run(args, context: ctx)
            return (code, ctx.out.captured, ctx.err.captured)
        }
        #expect(run(["add-server", "s", "--gpu", "h100", "--gpus", "8", "--count", "3"]).0 == 0)
        #expect(run(["job", "add", "j", "--model", "llama-3-8b", "--mode", "infer", "--replicas", "2"]).0 == 0)
        let files = Self.files(in: dir)
        var rng = SeededRandom(seed: 7)
        var tried = 0
        var failures = 0
        var checkedUnchanged = 0
        var successes = 0
        for i in 0..<1200 {
            var args = Self.commands.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 0...7, using: &rng) {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<4: args.append(Self.flags.randomElement(using: &rng)!)
                case 4..<8: args.append(Self.values.randomElement(using: &rng)!)
                default: args.append(files.randomElement(using: &rng)!)
                }
            }
            // Keep --db pointed at the fuzz database and away from real paths.
            if let at = args.firstIndex(of: "--db") { args.remove(at: at) }
            let check = i % 15 == 0
            let before = check ? try dumpDatabase(db) : ""
            let (code, out, err) = run(args)
            tried += 1
            #expect([0, 1, 3, 64].contains(code), "\(args): exit \(code)")
            if code != 0 {
                failures += 1
                let lines = err.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
                #expect(lines.count == 1 && err.hasPrefix("error: "), "\(args): \(err)")
                if check {
                    checkedUnchanged += 1
                    #expect(try dumpDatabase(db) == before, "\(args) failed but changed the database")
                }
            } else {
                successes += 1
                #expect(err.isEmpty || !err.contains("error:"), "\(args): succeeded but printed \(err)")
                // What a successful run prints is well formed in the format asked for.
                if let f = args.firstIndex(of: "--format"), f + 1 < args.count, !args.contains("--help"), !args.contains("-h") {
                    switch args[f + 1] {
                    case "json":
                        #expect((try? JSONSerialization.jsonObject(with: Data(out.utf8))) != nil, "\(args): not JSON: \(out.prefix(200))")
                    case "csv":
                        #expect(out.isEmpty || out.hasSuffix("\r\n"), "\(args): CSV without CRLF line ends")
                    default: break
                    }
                }
                // A successful read-only command leaves the database as it was.
                if check, ["servers", "jobs", "capacity", "gaps", "gpus", "estimate"].contains(args.first ?? "") {
                    checkedUnchanged += 1
                    #expect(try dumpDatabase(db) == before, "\(args) only reads but changed the database")
                }
            }
            if check {
                // Whatever ran, no row refers to a missing one.
                #expect(try foreignKeyViolations(db) == 0, "\(args) left dangling references")
            }
        }
        print("fuzz figures: \(tried) argument lists, \(failures) clean errors, \(successes) successes, \(checkedUnchanged) runs checked for an unchanged database")
        #expect(failures > 300)
        #expect(successes > 20, "the fuzz should also exercise successful runs")
    }
}

extension Tag {
    /// Suites that take a minute or more; the quick loop in the README skips them.
    @Tag static var slow: Self
}
