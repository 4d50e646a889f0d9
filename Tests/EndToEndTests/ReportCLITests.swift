import Foundation
import TestSupport
import Testing

/// Headless Chromium (Debian's `chromium`, which `.ci/run` installs): the page as a person's browser
/// renders it.
enum Chromium {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs chromium headless on `file` with `args`; returns its stdout and the console messages it
    /// logged (`:CONSOLE` lines: script errors, blocked loads, policy violations).
    static func run(_ file: String, _ args: [String], in dir: TempDir) throws -> (stdout: String, console: [String]) {
        let profile = dir.path("chromium-\(UUID().uuidString)")
        let r = runProcess(
            URL(fileURLWithPath: path!),
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                "--enable-logging=stderr",
                "--v=0", "--hide-scrollbars",
            ] + args + [URL(fileURLWithPath: file).absoluteString],
            environment: ["HOME": dir.path(""), "PATH": "/usr/bin:/bin"], cwd: dir.path(""))
        #expect(r.status == 0 && !r.signaled, "chromium exited \(r.status): \(r.stderr.suffix(2000))")
        return (r.stdout, r.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init))
    }

    /// The DOM after rendering.
    static func dom(_ file: String, in dir: TempDir) throws -> (dom: String, console: [String]) {
        let r = try run(file, ["--dump-dom"], in: dir)
        return (r.stdout, r.console)
    }
}

/// The start tags in `html` that carry `attribute`, each as its attributes (entities decoded).
func tags(_ html: String, with attribute: String) -> [[String: String]] {
    let tag = try! NSRegularExpression(pattern: "<[a-zA-Z][^>]*\\s\(attribute)=\"[^>]*>")
    let attr = try! NSRegularExpression(pattern: "([a-zA-Z-]+)=\"([^\"]*)\"")
    let ns = html as NSString
    return tag.matches(in: html, range: NSRange(location: 0, length: ns.length)).map { m in
        let t = ns.substring(with: m.range) as NSString
        var attrs: [String: String] = [:]
        for a in attr.matches(in: t as String, range: NSRange(location: 0, length: t.length)) {
            attrs[t.substring(with: a.range(at: 1))] = decodeEntities(t.substring(with: a.range(at: 2)))
        }
        return attrs
    }
}

/// The text of the element whose start tag has `attribute`="`value`" (no nested tags).
func text(_ html: String, _ attribute: String, _ value: String) -> String? {
    let re = try! NSRegularExpression(pattern: "\(attribute)=\"\(NSRegularExpression.escapedPattern(for: value))\"[^>]*>([^<]*)<")
    let ns = html as NSString
    return re.firstMatch(in: html, range: NSRange(location: 0, length: ns.length)).map {
        decodeEntities(ns.substring(with: $0.range(at: 1)))
    }
}

func decodeEntities(_ s: String) -> String {
    s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(
        of: "&quot;", with: "\""
    )
    .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
}

/// 1234567 -> "1,234,567", and bytes as GiB with two decimals: the test's own formatting.
func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}
func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) }

@Suite(.enabled(if: Chromium.path != nil, "chromium is not installed (apt-get install chromium; .ci/run installs it)"))
struct ReportInChromiumTests {
    /// The demo's page in a real browser: one cell per GPU, the totals of `plan capacity` and `plan
    /// gaps`, the jobs that do not fit, no console message, and a screenshot that is not blank.
    @Test func theDemoReportRendersWithEveryGPUAndTheTotalsOfCapacityAndGaps() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(runPlan(["demo", "--db", f.db]))
        let page = f.dir.path("report.html")
        let r = f.plan("report", "--output", page)
        ok(r)
        #expect(r.stdout.contains(page))
        let (dom, console) = try Chromium.dom(page, in: f.dir)
        #expect(console.isEmpty, "console: \(console)")
        #expect(dom.contains("Fleet report"))

        // One cell per GPU, each the GPU `plan servers` lists, held by the job `plan servers` names.
        let servers = try jsonArray(f.plan("servers", "--format", "json").stdout)
        var expected: [String: String] = [:]
        for s in servers {
            for a in s["allocations"] as! [[String: Any]] {
                expected["\(s["name"] as! String)/\(a["index"] as! Int)"] = a["job"] as? String ?? ""
            }
        }
        let cells = tags(dom, with: "data-gpu")
        var seen: [String: String] = [:]
        for c in cells { seen["\(c["data-server"]!)/\(c["data-gpu"]!)"] = c["data-job"] ?? "" }
        #expect(cells.count == seen.count, "a GPU drawn twice")
        #expect(seen == expected)
        let capacity = try jsonObject(f.plan("capacity", "--format", "json").stdout)
        #expect(cells.count == capacity["total_gpus"] as? Int)

        // The totals row equals `plan capacity --format json`, printed as a person reads it.
        for key in ["total_gpus", "free_gpus"] {
            let v = capacity[key] as! Int
            #expect(tags(dom, with: "data-total").first { $0["data-total"] == key }?["data-value"] == String(v))
            #expect(text(dom, "data-total", key) == grouped(v))
        }
        let used = (capacity["total_gpus"] as! Int) - (capacity["free_gpus"] as! Int)
        #expect(text(dom, "data-total", "used_gpus") == grouped(used))
        let freeMemory = capacity["free_memory_bytes"] as! Int
        #expect(text(dom, "data-total", "free_memory_bytes") == gib(freeMemory))

        // The purchase equals `plan gaps --format json`: the lines, the total and the saving of re-planning.
        let gaps = try jsonObject(f.plan("gaps", "--format", "json").stdout)
        let purchase = gaps["purchase"] as! [[String: Any]]
        #expect(!purchase.isEmpty)
        #expect(Set(tags(dom, with: "data-sku").map { $0["data-sku"]! }) == Set(purchase.map { $0["server_sku"] as! String }))
        #expect(text(dom, "data-total", "total_price") == "$" + grouped(gaps["total_price"] as! Int))
        #expect(text(dom, "data-total", "total_servers") == String(gaps["total_servers"] as! Int))
        let saving = try #require(gaps["repack_saving"] as? Int)
        #expect(text(dom, "data-total", "repack_saving") == "$" + grouped(saving))
        let arithmetic = gaps["per_type_arithmetic"] as! [String: Any]
        #expect(text(dom, "data-total", "per_type_total_price") == "$" + grouped(arithmetic["total_price"] as! Int))

        // The jobs that do not fit are those `plan place --dry-run` leaves, each with its reason.
        let dry = try jsonObject(f.plan("place", "--dry-run", "--format", "json").stdout)
        let unplaced = dry["unplaced"] as! [[String: Any]]
        #expect(Set(tags(dom, with: "data-unplaced").map { $0["data-unplaced"]! }) == Set(unplaced.map { $0["job"] as! String }))
        for u in unplaced { #expect(decodeEntities(dom).contains(u["reason"] as! String)) }

        // One memory bar per job, each an image with a text alternative.
        let jobs = try jsonArray(f.plan("jobs", "--format", "json").stdout)
        #expect(Set(tags(dom, with: "data-memory-job").map { $0["data-memory-job"]! }) == Set(jobs.map { $0["name"] as! String }))
        let images = tags(dom, with: "role").filter { $0["role"] == "img" }
        #expect(images.allSatisfy { !($0["aria-label"] ?? "").isEmpty })

        // The screenshot: a PNG with something drawn on it (a blank page compresses to a few KB).
        let png = f.dir.path("report.png")
        let shot = try Chromium.run(page, ["--screenshot=\(png)", "--window-size=1200,2000"], in: f.dir)
        #expect(shot.console.isEmpty, "console: \(shot.console)")
        let bytes = fileBytes(png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(bytes.count > 50_000, "\(bytes.count) bytes: the screenshot looks blank")
    }

    /// The probe can fail: a page that runs a script and loads from the network is reported.
    @Test func aPageThatRunsAScriptOrLoadsFromTheNetworkIsCaught() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let page = dir.write(
            "bad.html",
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head>"
                + "<body><img src=\"http://127.0.0.1:9/x.png\"><script>nonexistent()</script></body></html>")
        let (_, console) = try Chromium.dom(page, in: dir)
        #expect(console.count >= 2, "console: \(console)")
    }

    @Test func namesWithMarkupReachThePageAsText() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        let server = "<b>rack&\"a\"'s</b>"
        let job = "</span><script>x()</script>"
        ok(f.plan("add-server", server, "--gpu", "l4-24gb", "--gpus", "2", "--site", "<i>site", "--rack", "r&1"))
        ok(f.plan("job", "add", job, "--gpus", "1", "--gpu-memory", "10GB"))
        ok(f.plan("place"))
        ok(f.plan("job", "pin", job))
        let page = f.dir.path("r.html")
        ok(f.plan("report", "--output", page))
        let html = String(decoding: fileBytes(page), as: UTF8.self)
        #expect(!html.contains(server) && !html.contains(job) && !html.contains("<script"))
        let (dom, console) = try Chromium.dom(page, in: f.dir)
        #expect(console.isEmpty, "console: \(console)")
        let cells = tags(dom, with: "data-gpu")
        #expect(cells.count == 2)
        #expect(cells.allSatisfy { $0["data-server"] == server })
        #expect(cells.compactMap { $0["data-job"] } == [job])
        // Pinned (running) work is marked by a hatch and in words, not by colour alone.
        let held = try #require(cells.first { $0["data-job"] != nil })
        #expect(held["class"]?.split(separator: " ").contains("pin") == true)
        #expect(held["aria-label"]?.hasSuffix(", pinned") == true)
    }

    @Test func anEstimatePageShowsTheBarAndTheRecommendationsOfTheJSON() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let args = [
            "estimate", "--model", "llama-3-8b", "--mode", "train", "--gpu", "h100-sxm-80gb", "--db", dir.path("none.sqlite"),
        ]
        let r = runPlan(args + ["--format", "html"])
        ok(r)
        let page = dir.write("estimate.html", r.stdout)
        let json = try jsonObject(runPlan(args + ["--format", "json"]).stdout)
        let (dom, console) = try Chromium.dom(page, in: dir)
        #expect(console.isEmpty, "console: \(console)")
        let perGPU = json["per_gpu"] as! [String: Int]
        for (key, bytes) in perGPU { #expect(text(dom, "data-total", key) == grouped(bytes), "\(key)") }
        let recs = json["recommendations"] as! [[String: Any]]
        #expect(!recs.isEmpty)
        #expect(tags(dom, with: "data-gpu").map { $0["data-gpu"]! } == recs.map { $0["gpu"] as! String })
        #expect(tags(dom, with: "class").contains { $0["class"] == "mem" && !($0["aria-label"] ?? "").isEmpty })
        #expect(tags(dom, with: "data-fits").first?["data-fits"] == String(json["fits"] as! Bool))
        #expect(!FileManager.default.fileExists(atPath: dir.path("none.sqlite")))
    }
}

@Suite struct ReportCLITests {
    /// Same database, same command, same bytes; nothing written to the database.
    @Test func theReportIsDeterministicAndWritesNothing() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(runPlan(["demo", "--db", f.db]))
        let dump = try dumpDatabase(f.db)
        let bytes = fileBytes(f.db)
        ok(f.plan("report", "--output", f.dir.path("a.html")))
        ok(f.plan("report", "--output", f.dir.path("b.html")))
        #expect(fileBytes(f.dir.path("a.html")) == fileBytes(f.dir.path("b.html")))
        #expect(f.plan("report", "--output", "-").stdout.utf8.elementsEqual(fileBytes(f.dir.path("a.html"))))
        let html = String(decoding: fileBytes(f.dir.path("a.html")), as: UTF8.self)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for outside in ["http://", "https://", "<script", "@import", "url(", "<link"] {
            #expect(!html.contains(outside), "\(outside)")
        }
        #expect(html.contains("@media print"))
        #expect(try dumpDatabase(f.db) == dump)
        #expect(fileBytes(f.db) == bytes)
        // Without --output the page goes to report.html in the current folder.
        let r = runPlan(["--db", f.db, "report"], cwd: f.dir.path(""))
        ok(r)
        #expect(fileBytes(f.dir.path("report.html")) == fileBytes(f.dir.path("a.html")))
    }

    @Test func badFormatsAndOutputsAreRefused() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        ok(f.plan("add-server", "n", "--gpu", "l4-24gb", "--gpus", "2"))
        try f.expectRejected(["report", "--format", "pdf"], mentioning: "'pdf'")
        try f.expectRejected(["report", "--output", f.db], mentioning: f.db)
        try f.expectRejected(["report", "--output", "/proc/nope/r.html"], mentioning: "/proc/nope/r.html")
        let r = runPlan(["estimate", "--model", "llama-3-8b", "--format", "svg"])
        #expect(r.status == 64 && r.stderr.hasPrefix("error: ") && r.stderr.contains("html"), "\(r.stderr)")
    }

    /// Above 4,096 GPUs the map folds servers that look alike and says so; at 4,096 every GPU is a cell.
    @Test func largeFleetsFoldAndSayHow() throws {
        let f = Fleet()
        defer { f.dir.cleanup() }
        var csv = "name,gpu,gpus,host_memory,site,rack\n"
        for i in 1...512 { csv += "n-\(i),l4-24gb,8,,s,r\(i % 2)\n" }
        ok(f.plan("import", "servers", f.dir.write("servers.csv", csv)))
        ok(f.plan("report", "--output", f.dir.path("full.html")))
        let full = String(decoding: fileBytes(f.dir.path("full.html")), as: UTF8.self)
        #expect(tags(full, with: "data-gpu").count == 4096)
        #expect(!full.contains("id=\"fold\""))
        ok(f.plan("add-server", "extra", "--gpu", "h100-sxm-80gb", "--gpus", "8", "--site", "s", "--rack", "r1"))
        ok(f.plan("job", "add", "held", "--gpus", "3", "--gpu-memory", "60GB", "--same-server"))
        ok(f.plan("place"))
        ok(f.plan("report", "--output", f.dir.path("folded.html")))
        let folded = String(decoding: fileBytes(f.dir.path("folded.html")), as: UTF8.self)
        #expect(tags(folded, with: "data-gpu").isEmpty)
        #expect(folded.contains("id=\"fold\""))
        // Rack r0: 256 idle L4 servers; rack r1: 256 idle L4 servers and the H100 server with 3 GPUs held.
        let rows = tags(folded, with: "data-servers").map { Int($0["data-servers"]!)! }
        #expect(rows.sorted() == [1, 256, 256])
        #expect(folded.contains("3 of 8 GPUs held each"))
    }
}
