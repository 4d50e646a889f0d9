import MemoryEstimation
import PlanCore
import PlanModel

/// `plan estimate --format html`: the memory bar and the recommendation table of one estimate, as a
/// page that can be pasted into a design document.
extension EstimateReport: HTMLReport {
    public var html: String {
        let e = estimate
        let all = FleetPicture.Component.parts(of: e)
        let usable = gpu.map { MemoryLine.usable($0.memoryBytes, headroom: options.headroom) }
        let scale = max(e.total, gpu?.memoryBytes ?? 0, 1)
        var b = "<header><h1>Memory estimate: \(HTML.escape(modelID))</h1>"
        let s = e.split
        b += "<p class=\"note\">\(workload.mode == .train ? "Training (\(workload.method.rawValue))" : "Serving"), "
        b +=
            "\(workload.dtype.rawValue) weights, batch \(workload.batch) x \(workload.seq) tokens; \(s.gpus) GPU\(s.gpus == 1 ? "" : "s") "
        b += "(\(workload.mode == .train ? s.strategy.rawValue + ", " : "")dp \(s.dp), tp \(s.tp), pp \(s.pp)); "
        b += "\(Human.grouped(e.parameters)) parameters. Written by <code>plan estimate</code>.</p></header>\n<main>\n"
        b += "<section id=\"memory\"><h2>Bytes on the most loaded GPU</h2>\n"
        b += HTML.componentLegend(all.filter { $0.bytes > 0 }.map { $0.name })
        b += HTML.memoryBar(
            all, total: e.total, gpu: gpu?.id, gpuMemory: gpu?.memoryBytes, usable: usable, headroom: options.headroom,
            scale: scale,
            label: modelID)
        if let gpu, let fits {
            b += "<p class=\"note\" data-fits=\"\(fits)\">\(fits ? "Fits" : "Does not fit") one \(HTML.escape(gpu.id)) "
            b +=
                "(\(Human.gib(gpu.memoryBytes)), \(Human.gib(usable ?? 0)) usable with \(HTML.percent(options.headroom)) headroom).</p>\n"
        }
        b += "<table><thead><tr><th>Component</th><th class=\"n\">Bytes</th><th class=\"n\">GiB</th></tr></thead><tbody>\n"
        for (name, bytes) in components {
            b += "<tr\(name == "total" ? " class=\"total\"" : "")><td>\(name.replacingOccurrences(of: "_", with: " "))</td>"
            b += HTML.cell(Human.grouped(bytes), value: String(bytes), total: name) + HTML.cell(Human.gib(bytes)) + "</tr>\n"
        }
        b += "</tbody></table></section>\n"
        b += "<section id=\"recommendations\"><h2>Which GPUs, how many</h2>\n"
        if recommendations.isEmpty {
            b += "<p class=\"note\">No GPU in the catalog fits this workload with up to 1024 GPUs.</p>\n"
        } else {
            b +=
                "<p class=\"note\">\(speed.ranksByWork ? "Cheapest work first" : "Cheapest first"); \(HTML.percent(options.headroom)) headroom.</p>\n"
            b +=
                "<table><thead><tr><th>GPU</th><th class=\"n\">Count</th><th>Strategy</th><th class=\"n\">TP</th><th class=\"n\">PP</th>"
            b +=
                "<th class=\"n\">Per GPU</th><th class=\"n\">Free</th><th class=\"n\">GPU price</th><th class=\"n\">$/GPU-hour</th></tr></thead><tbody>\n"
            for c in recommendations {
                let x = c.recommendation
                b +=
                    "<tr data-gpu=\"\(HTML.escape(x.gpu))\"><td>\(HTML.escape(x.gpu))</td>\(HTML.cell(String(c.gpus), value: String(c.gpus)))"
                b +=
                    "<td>\(workload.mode == .train ? x.split.strategy.rawValue : "-")</td>\(HTML.cell(String(x.split.tp)))\(HTML.cell(String(x.split.pp)))"
                b +=
                    HTML.cell(Human.gib(x.perGPUTotal), value: String(x.perGPUTotal))
                    + HTML.cell(Human.gib(x.headroom), value: String(x.headroom))
                b += HTML.cell(Human.usd(x.cost)) + HTML.cell(c.hourlyUSD > 0 ? Self.number(c.hourlyUSD) : "-") + "</tr>\n"
            }
            b += "</tbody></table>\n"
        }
        b += "</section>\n"
        if !notes.isEmpty || !e.warnings.isEmpty {
            b += "<section id=\"notes\"><h2>Notes</h2><ul>\n"
            for n in notes + e.warnings { b += "<li>\(HTML.escape(n))</li>\n" }
            b += "</ul></section>\n"
        }
        b += "<section id=\"assumptions\"><h2>Assumptions</h2><ul>\n"
        for a in assumptions { b += "<li>\(HTML.escape(a))</li>\n" }
        b += "</ul></section>\n</main>"
        return HTML.page(title: "plan estimate: \(modelID)", body: b)
    }
}
