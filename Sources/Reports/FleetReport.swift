import PlanCore
import PlanModel

/// `plan report`: the fleet map, capacity per GPU type, each job's memory, the purchase gap and the
/// jobs that do not fit; a page (HTML) by default, or the same values as JSON, CSV or a table.
extension FleetPicture: HTMLReport {
    public struct Document: Encodable {
        var map: Map
        var legend: [LegendEntry]
        var capacity: CapacityReport.JSON
        var memory: Memory
        var gaps: GapReport.JSON
        var unplaced: [Unplaced]
        var omittedUnplaced: Int
        var fitsNow: [String]
    }

    public var document: Document {
        var capacity = capacity.json
        capacity.servers = []
        return Document(
            map: map, legend: legend, capacity: capacity, memory: memory, gaps: gaps.json, unplaced: unplaced,
            omittedUnplaced: omittedUnplaced, fitsNow: fitsNow)
    }

    static let componentNames = [
        "weights", "gradients", "optimizer_states", "master_weights", "activations", "kv_cache", "overhead",
    ]

    /// Each job's bytes per GPU, one row per bar.
    public var csv: String {
        let header =
            ["jobs", "job_count", "placed", "gpu_type", "split"] + Self.componentNames.map { $0 + "_bytes" }
            + ["other_bytes", "total_bytes", "gpu_memory_bytes", "usable_bytes", "fits"]
        let rows = memory.bars.map { b -> [String] in
            let byName = Dictionary(b.components.map { ($0.name, $0.bytes) }, uniquingKeysWith: +)
            let other = b.components.filter { !Self.componentNames.contains($0.name) }.reduce(0) { $0 + $1.bytes }
            return [b.jobs.joined(separator: " "), String(b.jobCount), String(b.placed), b.gpuType, b.split]
                + Self.componentNames.map { String(byName[$0] ?? 0) }
                + [String(other), String(b.totalBytes), String(b.gpuMemoryBytes), String(b.usableBytes), String(b.fits)]
        }
        return CSVWriter.render(header: header, rows: rows)
    }

    public var table: String {
        var out =
            "Fleet: \(Human.grouped(map.servers)) servers, \(Human.grouped(map.gpus)) GPUs, \(Human.grouped(map.freeGpus)) free\n\n"
        out += capacity.table
        out += "\nMemory per GPU of each job:\n"
        var t = TextTable(["JOB", "GPU", "SPLIT", "PER GPU", "USABLE", "LARGEST PART"], rightAligned: [3, 4])
        for b in memory.bars {
            let name = b.jobCount > 1 ? "\(b.jobs[0]) and \(b.jobCount - 1) more" : b.jobs[0]
            t.add([name, b.gpuType, b.split, Human.gib(b.totalBytes), Human.gib(b.usableBytes), b.dominant])
        }
        out += t.render()
        out += "\n" + gaps.table
        if !unplaced.isEmpty {
            out += "\nNot placed:\n"
            for u in unplaced { out += "- \(u.job)\(u.units > 1 ? " (\(u.units) units)" : ""): \(u.reason)\n" }
        }
        return out
    }

    public var html: String {
        var b = ""
        b.reserveCapacity(1 << 20)
        b += "<header><h1>Fleet report</h1>"
        b += "<p class=\"note\">\(Human.grouped(map.servers)) servers, \(Human.grouped(map.gpus)) GPUs, "
        b += "\(Human.grouped(map.gpus - map.freeGpus)) held and \(Human.grouped(map.freeGpus)) free; "
        b +=
            "\(Human.grouped(legend.count)) jobs placed, \(Human.grouped(unplaced.count + omittedUnplaced)) with work that does not fit. "
        b += "Written by <code>plan report</code>.</p>"
        b +=
            "<nav aria-label=\"sections\"><a href=\"#map\">Fleet map</a><a href=\"#capacity\">Capacity</a><a href=\"#memory\">Memory per job</a>"
        b += "<a href=\"#gaps\">What to buy</a><a href=\"#unplaced\">Not placed</a></nav></header>\n<main>\n"
        mapSection(&b)
        capacitySection(&b)
        memorySection(&b)
        gapsSection(&b)
        unplacedSection(&b)
        b += "</main>"
        return HTML.page(title: "plan report: fleet, capacity, memory, purchase gap", body: b)
    }

    // MARK: Sections

    func mapSection(_ b: inout String) {
        b += "<section id=\"map\" aria-labelledby=\"map-h\"><h2 id=\"map-h\">1. Fleet map</h2>\n"
        switch map.fold {
        case .none:
            b +=
                "<p class=\"note\">One square per GPU, one row per server, grouped by site and rack. A square's colour and number "
            b += "name the job that holds it (see the legend); grey is free; hatching marks pinned (running) work. Hover over or "
            b += "focus (Tab) a square for the job, its bytes per GPU and its split.</p>\n"
        case .rack, .site:
            b +=
                "<p class=\"note\" id=\"fold\">This fleet has \(Human.grouped(map.gpus)) GPUs, more than the \(Human.grouped(map.cellLimit)) "
            b += "drawn one square each, so servers are folded: each row stands for the servers of one "
            b += map.fold == .rack ? "rack" : "site (all its racks together)"
            b += " with the same GPU type and count and as many GPUs held (×N says how many; the names are the first and last). "
            b += "The bar shows one such server's GPUs: dark grey held by pinned work, blue held by other work, light grey free. "
            b += "\(Human.grouped(map.rows)) rows. <code>plan servers --format json</code> lists every GPU.</p>\n"
        }
        b += "<ul class=\"legend\" aria-label=\"legend\">"
        if map.fold == .none {
            for e in legend {
                b += "<li><span class=\"sw k\((e.key - 1) % HTML.jobColours.count)\(e.pinned ? " pin" : "")\"></span>"
                b +=
                    "\(e.key) \(HTML.escape(e.job))\(e.pinned ? " (pinned)" : "") <small>\(e.gpus) GPU\(e.gpus == 1 ? "" : "s")</small></li>"
            }
        } else {
            b += "<li><span class=\"sw\" style=\"background:#555\"></span>held by pinned work</li>"
            b += "<li><span class=\"sw\" style=\"background:#0072B2\"></span>held</li>"
        }
        b += "<li><span class=\"sw\" style=\"background:var(--free)\"></span>free</li></ul>\n"
        b += "<div class=\"map\">\n"
        for site in map.sites {
            b +=
                "<h3>Site \(site.name.isEmpty ? "(none)" : HTML.escape(site.name)) <small>\(Human.grouped(site.servers)) servers, "
            b += "\(Human.grouped(site.gpus)) GPUs, \(Human.grouped(site.freeGpus)) free</small></h3>\n"
            for rack in site.racks {
                b +=
                    "<div class=\"rack\"><h4>Rack \(rack.name.isEmpty ? "(none)" : HTML.escape(rack.name)) <small>\(Human.grouped(rack.servers)) "
                b += "servers, \(Human.grouped(rack.gpus)) GPUs, \(Human.grouped(rack.freeGpus)) free</small></h4>\n"
                for row in rack.rows { serverRow(row, &b) }
                for f in rack.folded { foldedRow(f, &b) }
                b += "</div>\n"
            }
        }
        b += "</div></section>\n"
    }

    func serverRow(_ row: ServerRow, _ b: inout String) {
        let name = HTML.escape(row.name)
        b +=
            "<div class=\"srv\" data-row=\"\(name)\"><span class=\"sn\" title=\"\(name)\">\(name)\(row.pinned ? " &#9679;" : "") "
        b +=
            "<small>\(HTML.escape(row.gpuType)), \(row.freeGpus) of \(row.gpus) free\(row.pinned ? ", pinned work" : "")</small></span><span class=\"cells\">"
        for c in row.cells {
            if let job = c.job {
                let j = HTML.escape(job)
                var label = "\(name) GPU \(c.gpu): \(j)"
                if let r = c.replica { label += " replica \(r)" }
                if let bytes = c.perGpuBytes { label += ", \(Human.gib(bytes)) per GPU" }
                if let s = c.split { label += ", \(HTML.escape(s))" }
                if c.pinned { label += ", pinned" }
                let k = ((c.key ?? 1) - 1) % HTML.jobColours.count
                b +=
                    "<span class=\"g k\(k)\(c.pinned ? " pin" : "")\" role=\"img\" tabindex=\"0\" data-server=\"\(name)\" data-gpu=\"\(c.gpu)\" "
                b += "data-job=\"\(j)\" aria-label=\"\(label)\">\(c.key.map(String.init) ?? "")</span>"
            } else {
                b +=
                    "<span class=\"g\" role=\"img\" tabindex=\"0\" data-server=\"\(name)\" data-gpu=\"\(c.gpu)\" aria-label=\"\(name) GPU \(c.gpu): free\"></span>"
            }
        }
        b += "</span></div>\n"
    }

    func foldedRow(_ f: FoldedRow, _ b: inout String) {
        let names = f.servers == 1 ? HTML.escape(f.first) : "\(HTML.escape(f.first)) … \(HTML.escape(f.last))"
        let label =
            "\(f.servers) server\(f.servers == 1 ? "" : "s") (\(names)), \(HTML.escape(f.gpuType)) x \(f.gpusPerServer): "
            + "\(f.heldGpus) of \(f.gpusPerServer) GPUs held each\(f.pinnedGpus > 0 ? ", \(f.pinnedGpus) by pinned work" : "")"
        b += "<div class=\"srv fold\" role=\"img\" aria-label=\"\(label)\" title=\"\(label)\" data-servers=\"\(f.servers)\">"
        b += "<span class=\"sn\">\(names) <b>×\(Human.grouped(f.servers))</b> <small>\(HTML.escape(f.gpuType))</small></span>"
        b += "<span class=\"bar\"><i class=\"p\" style=\"width:\(HTML.px(f.pinnedFraction * 100))%\"></i>"
        b += "<i class=\"h\" style=\"width:\(HTML.px(f.heldFraction * 100))%\"></i></span>"
        b += "<small>\(f.heldGpus)/\(f.gpusPerServer) held</small></div>\n"
    }

    func capacitySection(_ b: inout String) {
        let c = capacity.json
        b += "<section id=\"capacity\" aria-labelledby=\"cap-h\"><h2 id=\"cap-h\">2. Capacity per GPU type</h2>\n"
        b +=
            "<p class=\"note\">Used against free, in GPUs and in memory; the largest free block is the most free GPUs on one server; "
        b += "fragmentation is the share of the free GPUs that sit on partly used servers.</p>\n"
        let width = 300.0
        let rowHeight = 22.0
        let height = Double(c.gpuTypes.count) * rowHeight * 2 + 24
        var alt = "Used and free GPUs and memory per GPU type: "
        alt += c.gpuTypes.map {
            "\($0.gpu) \($0.usedGpus) of \($0.gpus) GPUs used, \(Human.gib($0.usedMemoryBytes)) of \(Human.gib($0.memoryBytes))"
        }
        .joined(separator: "; ")
        b += "<svg role=\"img\" aria-label=\"\(HTML.escape(alt))\" viewBox=\"0 0 \(HTML.px(width + 420)) \(HTML.px(height))\" "
        b += "width=\"\(HTML.px(width + 420))\" height=\"\(HTML.px(height))\"><title>\(HTML.escape(alt))</title>"
        b += "<text x=\"160\" y=\"12\">used (dark) and free (light): GPUs, then memory</text>"
        for (i, t) in c.gpuTypes.enumerated() {
            let y = 20 + Double(i) * rowHeight * 2
            b += "<text x=\"0\" y=\"\(HTML.px(y + 13))\">\(HTML.escape(t.gpu))</text>"
            for (k, (used, total, text)) in [
                (t.usedGpus, t.gpus, "\(t.usedGpus) of \(t.gpus) GPUs used"),
                (t.usedMemoryBytes, t.memoryBytes, "\(Human.gib(t.usedMemoryBytes)) of \(Human.gib(t.memoryBytes))"),
            ].enumerated() {
                let yy = y + Double(k) * rowHeight
                let w = total > 0 ? Double(used) / Double(total) * width : 0
                b += "<rect x=\"160\" y=\"\(HTML.px(yy))\" width=\"\(HTML.px(width))\" height=\"16\" fill=\"#d4d4d4\"/>"
                b +=
                    "<rect x=\"160\" y=\"\(HTML.px(yy))\" width=\"\(HTML.px(w))\" height=\"16\" fill=\"\(k == 0 ? "#0072B2" : "#56B4E9")\"/>"
                b += "<text x=\"\(HTML.px(width + 168))\" y=\"\(HTML.px(yy + 12))\">\(text)</text>"
            }
        }
        b +=
            "</svg>\n<table><thead><tr><th>GPU type</th><th class=\"n\">Servers</th><th class=\"n\">GPUs</th><th class=\"n\">Used</th>"
        b += "<th class=\"n\">Free</th><th class=\"n\">Memory</th><th class=\"n\">Free memory</th><th>Largest free block</th>"
        b += "<th class=\"n\">Wholly free servers</th><th class=\"n\">Fragmentation</th></tr></thead><tbody>\n"
        for t in c.gpuTypes {
            b += "<tr data-gpu-type=\"\(HTML.escape(t.gpu))\"><td>\(HTML.escape(t.gpu))</td>\(HTML.cell(String(t.servers)))"
            b += HTML.cell(String(t.gpus), value: String(t.gpus)) + HTML.cell(String(t.usedGpus), value: String(t.usedGpus))
            b += HTML.cell(String(t.freeGpus), value: String(t.freeGpus))
            b += HTML.cell(Human.gib(t.memoryBytes), value: String(t.memoryBytes))
            b += HTML.cell(Human.gib(t.freeMemoryBytes), value: String(t.freeMemoryBytes))
            b +=
                "<td>\(t.largestBlockGpus > 0 ? "\(t.largestBlockGpus) on \(HTML.escape(t.largestBlockServer ?? ""))" : "none")</td>"
            b += HTML.cell(String(t.wholeFreeServers)) + HTML.cell(HTML.percent(t.fragmentation)) + "</tr>\n"
        }
        b += "<tr class=\"total\"><td>total</td><td></td>"
        b += HTML.cell(Human.grouped(c.totalGpus), value: String(c.totalGpus), total: "total_gpus")
        b += HTML.cell(Human.grouped(c.usedGpus), value: String(c.usedGpus), total: "used_gpus")
        b += HTML.cell(Human.grouped(c.freeGpus), value: String(c.freeGpus), total: "free_gpus")
        b += HTML.cell(Human.gib(c.memoryBytes), value: String(c.memoryBytes), total: "memory_bytes")
        b += HTML.cell(Human.gib(c.freeMemoryBytes), value: String(c.freeMemoryBytes), total: "free_memory_bytes")
        b += "<td></td><td></td><td></td></tr>\n</tbody></table></section>\n"
    }

    func memorySection(_ b: inout String) {
        let m = memory
        b += "<section id=\"memory\" aria-labelledby=\"mem-h\"><h2 id=\"mem-h\">3. Memory per GPU of each job</h2>\n"
        b +=
            "<p class=\"note\">Bytes on the most loaded GPU of each job, part by part, on the GPU type it is placed on (or, when "
        b +=
            "pending, the one it fits best), against that GPU's memory (solid line) and what the job may fill after its headroom "
        b += "(dashed line). All bars share one scale."
        if m.grouped {
            b += " The fleet has more jobs than bars drawn: jobs whose bars are identical share one (the count says how many)."
        }
        if m.omittedBars > 0 {
            b += " \(Human.grouped(m.omittedBars)) more bars (\(Human.grouped(m.omittedJobs)) jobs) are left out."
        }
        b += "</p>\n"
        let used = Set(m.bars.flatMap { $0.components.filter { $0.bytes > 0 }.map(\.name) })
        b += HTML.componentLegend((Self.componentNames + ["reserved", "requested"]).filter(used.contains))
        for bar in m.bars {
            let who =
                bar.jobCount > 1
                ? "\(bar.jobs.map(HTML.escape).joined(separator: ", "))\(bar.jobCount > bar.jobs.count ? " and \(bar.jobCount - bar.jobs.count) more" : "")"
                : HTML.escape(bar.jobs[0])
            b +=
                "<figure class=\"job\" data-memory-job=\"\(HTML.escape(bar.jobs[0]))\" style=\"margin:10px 0\"><figcaption><b>\(who)</b>"
            if bar.jobCount > 1 { b += " <small>(\(bar.jobCount) jobs)</small>" }
            b +=
                " <small>\(bar.placed ? "placed on" : "pending; fits best on") \(HTML.escape(bar.gpuType)), \(HTML.escape(bar.split)); "
            b += "\(Human.gib(bar.totalBytes)) per GPU, \(bar.dominant.replacingOccurrences(of: "_", with: " ")) the largest part"
            b += bar.fits ? "" : "; over the usable memory"
            b += "</small></figcaption>"
            b += HTML.memoryBar(
                bar.components, total: bar.totalBytes, gpu: bar.gpuType, gpuMemory: bar.gpuMemoryBytes, usable: bar.usableBytes,
                headroom: bar.headroomFraction, scale: m.scaleBytes,
                label: bar.jobCount > 1 ? "\(bar.jobs[0]) and \(bar.jobCount - 1) more" : bar.jobs[0])
            b += "</figure>\n"
        }
        if !m.unsized.isEmpty {
            b +=
                "<p class=\"note\">No GPU type in the fleet holds \(m.unsized.map(HTML.escape).joined(separator: ", ")) (see Not placed).</p>\n"
        }
        b += "<details><summary>The bars as a table</summary><table><thead><tr><th>Job</th><th>GPU</th><th>Split</th>"
        for n in Self.componentNames { b += "<th class=\"n\">\(n.replacingOccurrences(of: "_", with: " "))</th>" }
        b += "<th class=\"n\">other</th><th class=\"n\">Total</th><th class=\"n\">Usable</th></tr></thead><tbody>\n"
        for bar in m.bars {
            let byName = Dictionary(bar.components.map { ($0.name, $0.bytes) }, uniquingKeysWith: +)
            b +=
                "<tr><td>\(HTML.escape(bar.jobs[0]))\(bar.jobCount > 1 ? " +\(bar.jobCount - 1)" : "")</td><td>\(HTML.escape(bar.gpuType))</td>"
            b += "<td>\(HTML.escape(bar.split))</td>"
            for n in Self.componentNames { b += HTML.cell(Human.gib(byName[n] ?? 0)) }
            let other = bar.components.filter { !Self.componentNames.contains($0.name) }.reduce(0) { $0 + $1.bytes }
            b +=
                HTML.cell(Human.gib(other)) + HTML.cell(Human.gib(bar.totalBytes)) + HTML.cell(Human.gib(bar.usableBytes))
                + "</tr>\n"
        }
        b += "</tbody></table></details></section>\n"
    }

    func gapsSection(_ b: inout String) {
        let g = gaps.json
        b += "<section id=\"gaps\" aria-labelledby=\"gaps-h\"><h2 id=\"gaps-h\">4. What to buy so that every job fits</h2>\n"
        if g.jobs.isEmpty {
            b += "<p class=\"note\">Nothing to buy: every job is placed.</p>"
        } else if g.purchase.isEmpty {
            b += "<p class=\"note\">Nothing to buy: every pending job fits the free capacity (run <code>plan place</code>).</p>"
        } else {
            b +=
                "<p class=\"note\">The cheapest mix of servers from the catalog that holds every pending job with the free capacity"
            b += g.provedOptimal ? " (proved optimal)." : "; the lower bound is \(Human.usd(g.lowerBound))."
            b += "</p>\n<table><thead><tr><th>Server SKU</th><th>GPU</th><th class=\"n\">GPUs</th><th class=\"n\">Quantity</th>"
            b += "<th class=\"n\">Unit price</th><th class=\"n\">Total</th><th>For jobs</th></tr></thead><tbody>\n"
            for l in g.purchase {
                b +=
                    "<tr data-sku=\"\(HTML.escape(l.serverSku))\"><td>\(HTML.escape(l.serverSku))</td><td>\(HTML.escape(l.gpu))</td>"
                b += HTML.cell(String(l.gpusPerServer)) + HTML.cell(String(l.quantity), value: String(l.quantity))
                b +=
                    HTML.cell(Human.usd(l.unitPrice), value: String(l.unitPrice))
                    + HTML.cell(Human.usd(l.totalPrice), value: String(l.totalPrice))
                b += "<td>\(l.jobs.map(HTML.escape).joined(separator: ", "))</td></tr>\n"
            }
            b += "<tr class=\"total\"><td>total</td><td></td><td></td>"
            b += HTML.cell(String(g.totalServers), value: String(g.totalServers), total: "total_servers") + "<td></td>"
            b +=
                HTML.cell(Human.usd(g.totalPrice), value: String(g.totalPrice), total: "total_price")
                + "<td></td></tr>\n</tbody></table>\n"
        }
        if let s = g.repackSaving {
            b += "<p class=\"note\">Re-planning the placed jobs that are not pinned would buy "
            b +=
                "<b data-total=\"repack_saving\" data-value=\"\(s)\">\(Human.usd(s))</b> less: <code>plan gaps --repack --what-if</code>.</p>\n"
        }
        let a = g.perTypeArithmetic
        if !a.purchase.isEmpty || !g.purchase.isEmpty {
            b +=
                "<h3>Beside it: the per-GPU-type arithmetic</h3><p class=\"note\">GPUs needed minus GPUs free, per GPU type, rounded up "
            b += "to that type's cheapest servers; it ignores how jobs pack into servers.</p>\n"
            let top = max(a.totalPrice, g.totalPrice, 1)
            let width = 420.0
            let alt = "Purchase cost: the plan \(Human.usd(g.totalPrice)); the per-GPU-type arithmetic \(Human.usd(a.totalPrice))"
            b +=
                "<svg role=\"img\" aria-label=\"\(HTML.escape(alt))\" viewBox=\"0 0 700 56\" width=\"700\" height=\"56\"><title>\(HTML.escape(alt))</title>"
            for (i, (name, value)) in [("plan gaps", g.totalPrice), ("per-type count", a.totalPrice)].enumerated() {
                let y = 4 + Double(i) * 26
                b += "<text x=\"0\" y=\"\(HTML.px(y + 13))\">\(name)</text>"
                b +=
                    "<rect x=\"110\" y=\"\(HTML.px(y))\" width=\"\(HTML.px(Double(value) / Double(top) * width))\" height=\"18\" fill=\"\(i == 0 ? "#0072B2" : "#E69F00")\"/>"
                b +=
                    "<text x=\"\(HTML.px(Double(value) / Double(top) * width + 116))\" y=\"\(HTML.px(y + 13))\">\(Human.usd(value))</text>"
            }
            b +=
                "</svg>\n<table><thead><tr><th>Server SKU</th><th>GPU</th><th class=\"n\">Quantity</th><th class=\"n\">Total</th></tr></thead><tbody>\n"
            for l in a.purchase {
                b += "<tr><td>\(HTML.escape(l.serverSku))</td><td>\(HTML.escape(l.gpu))</td>\(HTML.cell(String(l.quantity)))"
                b += HTML.cell(Human.usd(l.totalPrice)) + "</tr>\n"
            }
            b += "<tr class=\"total\"><td>total</td><td></td><td></td>"
            b +=
                HTML.cell(Human.usd(a.totalPrice), value: String(a.totalPrice), total: "per_type_total_price")
                + "</tr></tbody></table>\n"
        }
        let fits = g.jobs.filter { $0.runsOn != .none }
        if !fits.isEmpty {
            b += "<h3>Each pending job on its own</h3><ul>\n"
            for j in fits {
                let alts = j.alternatives.map { "\($0.quantity) x \(HTML.escape($0.serverSku)) (\(Human.usd($0.totalPrice)))" }
                    .joined(separator: " or ")
                b += "<li><b>\(HTML.escape(j.job))</b>\(j.pendingReplicas > 1 ? " (\(j.pendingReplicas) replicas)" : ""): "
                b += j.runsOn == .existing ? "fits the free capacity" : "on the purchase"
                b += alts.isEmpty ? "" : "; alone: \(alts)"
                b += "</li>\n"
            }
            b += "</ul>\n"
        }
        for u in g.unbuyable {
            b += "<p class=\"reason\"><b>\(HTML.escape(u.job))</b>: no server to buy holds it: \(HTML.escape(u.reason))</p>\n"
        }
        b += "</section>\n"
    }

    func unplacedSection(_ b: inout String) {
        b += "<section id=\"unplaced\" aria-labelledby=\"un-h\"><h2 id=\"un-h\">5. Jobs that do not fit</h2>\n"
        if unplaced.isEmpty {
            b += "<p class=\"note\">None: every pending job fits the free capacity.</p>\n"
        } else {
            b += "<ul>\n"
            for u in unplaced {
                b += "<li class=\"reason\" data-unplaced=\"\(HTML.escape(u.job))\"><b>\(HTML.escape(u.job))</b>"
                b += u.units > 1 ? " (\(u.units) units)" : ""
                b += ": \(HTML.escape(u.reason))</li>\n"
            }
            b += "</ul>\n"
            if omittedUnplaced > 0 {
                b += "<p class=\"note\">\(Human.grouped(omittedUnplaced)) more jobs that do not fit are left out.</p>\n"
            }
        }
        if !fitsNow.isEmpty {
            b += "<p class=\"note\">Pending but fitting the free capacity now (<code>plan place</code> places them): "
            b += fitsNow.map(HTML.escape).joined(separator: ", ") + ".</p>\n"
        }
        b += "</section>\n"
    }
}
