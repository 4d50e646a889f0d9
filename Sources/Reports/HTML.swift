import PlanCore
import PlanModel

/// The formats of a command that can also draw a page: the three text formats and HTML.
public enum PageFormat: String, CaseIterable, Sendable {
    case table, json, csv, html

    /// The text format, when this is not HTML.
    public var text: OutputFormat? { OutputFormat(rawValue: rawValue) }
}

/// A report that can also be drawn as one self-contained HTML page (inline CSS and SVG, no script,
/// nothing fetched). The page lays out the same values as the other formats and computes none: it
/// maps values to pixels (value / scale x width) and formats numbers as the tables do.
public protocol HTMLReport: Report {
    /// The page, as one string.
    var html: String { get }
}

extension HTMLReport {
    /// The report as one string in `format` (for a file or standard output).
    public func text(_ format: PageFormat) -> String { format.text.map { text($0) } ?? html }
}

/// Building blocks of the pages: escaping, the page shell and its style sheet, the memory bar.
public enum HTML {
    /// `s` safe inside an element or a quoted attribute.
    public static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "&" || $0 == "<" || $0 == ">" || $0 == "\"" || $0 == "'" }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A pixel position with one decimal, without locale-dependent formatting.
    static func px(_ x: Double) -> String {
        let tenths = Int((max(0, x) * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }

    /// A fraction as a whole percentage ("62%").
    static func percent(_ f: Double) -> String { "\(Int((f * 100).rounded()))%" }

    /// The page: a strict content security policy (nothing loads from anywhere), the style sheet, `body`.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// Colours: the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
    /// cells also carry their legend number, and pinned work a hatch, so colour is never the only cue.
    static let jobColours = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
    static let componentColours: [String: String] = [
        "weights": "#0072B2", "gradients": "#E69F00", "optimizer_states": "#D55E00", "master_weights": "#CC79A7",
        "activations": "#009E73", "kv_cache": "#56B4E9", "overhead": "#999999", "reserved": "#F0E442", "requested": "#0072B2",
    ]

    static let style = """
        :root{color-scheme:light;--free:#d4d4d4;--ink:#1a1a1a;--line:#555}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);margin:0 auto;max-width:1100px;padding:16px 20px;background:#fff}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}
        h3{font-size:15px;margin:14px 0 4px}h4{font-size:13px;margin:8px 0 4px;font-weight:600}
        small,.muted{color:#555}nav a{margin-right:12px}
        table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
        th,td{border-bottom:1px solid #ddd;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
        td.n,th.n{text-align:right}tr.total td{font-weight:600;border-top:1px solid #999}
        .legend{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;padding:0;margin:6px 0 10px}
        .legend li{display:flex;align-items:center;gap:5px}
        .sw{display:inline-block;width:14px;height:14px;border:1px solid #777;vertical-align:middle}
        .map{max-height:80vh;overflow:auto;border:1px solid #ddd;padding:4px 8px}
        .srv{display:flex;align-items:center;gap:8px;margin:2px 0;min-height:22px}
        .sn{flex:0 0 290px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px}
        .cells{display:flex;flex-wrap:wrap;gap:2px}
        .g{position:relative;display:inline-block;width:20px;height:20px;font-size:10px;line-height:20px;text-align:center;border:1px solid #777;background:var(--free);color:#000;outline-offset:1px}
        .g:hover,.g:focus{outline:2px solid #000}
        .g:hover::after,.g:focus::after{content:attr(aria-label);position:absolute;left:0;top:24px;z-index:2;white-space:nowrap;background:#fff;color:#000;border:1px solid #000;padding:2px 6px;font-size:12px;line-height:1.3;text-align:left}
        .pin{background-image:repeating-linear-gradient(45deg,transparent 0 3px,rgba(0,0,0,.45) 3px 5px)}
        .k0{background-color:#E69F00}.k1{background-color:#56B4E9}.k2{background-color:#009E73;color:#fff}.k3{background-color:#F0E442}
        .k4{background-color:#0072B2;color:#fff}.k5{background-color:#D55E00;color:#fff}.k6{background-color:#CC79A7}
        .bar{position:relative;display:flex;width:240px;height:14px;background:var(--free);border:1px solid #777}
        .bar i{display:block;height:100%}.bar i.p{background:#555}.bar i.h{background:#0072B2}
        .fold .sn b{font-weight:600}
        svg{display:block;max-width:100%;height:auto;margin:2px 0}
        svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1a1a1a}
        .note{margin:4px 0 8px}.reason{margin:4px 0}
        @media print{
          body{max-width:none;padding:0;font-size:11px}nav{display:none}
          *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
          .map{max-height:none;overflow:visible;border:0}
          .g:hover::after,.g:focus::after{display:none}
          section{break-inside:auto}h2,h3,h4{break-after:avoid}.srv,tr,svg{break-inside:avoid}
          a{color:inherit;text-decoration:none}
        }
        """

    /// One stacked bar of bytes per GPU, component by component, against the GPU's memory (solid line)
    /// and the memory a job may fill after its headroom (dashed line); `scale` bytes span the width.
    /// The SVG is an image whose label says what it shows; the caller prints the numbers in a table too.
    static func memoryBar(
        _ components: [FleetPicture.Component], total: Int, gpu: String?, gpuMemory: Int?, usable: Int?, headroom: Double,
        scale: Int,
        label: String
    ) -> String {
        let width = 640.0
        let left = 0.0
        let height = 40.0
        func x(_ b: Int) -> Double { left + Double(b) / Double(max(scale, 1)) * width }
        let named = components.filter { $0.bytes > 0 }.map {
            "\($0.name.replacingOccurrences(of: "_", with: " ")) \(Human.gib($0.bytes))"
        }
        var alt = "\(label): \(Human.gib(total)) per GPU"
        if let gpu, let gpuMemory, let usable {
            alt += " on \(gpu) (\(Human.gib(gpuMemory)); \(Human.gib(usable)) usable with \(percent(headroom)) headroom)"
        }
        alt += "; " + named.joined(separator: ", ")
        var s =
            "<svg class=\"mem\" role=\"img\" aria-label=\"\(escape(alt))\" viewBox=\"0 0 \(px(width + 60)) \(px(height))\" width=\"\(px(width + 60))\" height=\"\(px(height))\">"
        s += "<title>\(escape(alt))</title>"
        var at = 0
        for c in components where c.bytes > 0 {
            s +=
                "<rect x=\"\(px(x(at)))\" y=\"4\" width=\"\(px(x(at + c.bytes) - x(at)))\" height=\"18\" fill=\"\(componentColours[c.name] ?? "#999999")\" stroke=\"#fff\" stroke-width=\"0.5\"><title>\(escape(c.name)): \(Human.gib(c.bytes))</title></rect>"
            at += c.bytes
        }
        if let gpuMemory {
            s +=
                "<line x1=\"\(px(x(gpuMemory)))\" x2=\"\(px(x(gpuMemory)))\" y1=\"0\" y2=\"26\" stroke=\"#000\" stroke-width=\"2\"/>"
            s += "<text x=\"\(px(x(gpuMemory) + 4))\" y=\"36\">\(Human.gib(gpuMemory))</text>"
        }
        if let usable, usable != gpuMemory {
            s +=
                "<line x1=\"\(px(x(usable)))\" x2=\"\(px(x(usable)))\" y1=\"0\" y2=\"26\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/>"
        }
        s += "<text x=\"\(px(left))\" y=\"36\">\(Human.gib(total))</text>"
        return s + "</svg>"
    }

    /// The legend of the memory bars' colours.
    static func componentLegend(_ names: [String]) -> String {
        var s = "<ul class=\"legend\" aria-label=\"memory components\">"
        for n in names {
            s +=
                "<li><span class=\"sw\" style=\"background:\(componentColours[n] ?? "#999999")\"></span>\(n.replacingOccurrences(of: "_", with: " "))</li>"
        }
        s +=
            "<li><svg width=\"22\" height=\"14\" aria-hidden=\"true\"><line x1=\"11\" x2=\"11\" y1=\"0\" y2=\"14\" stroke=\"#000\" stroke-width=\"2\"/></svg>GPU memory</li>"
        s +=
            "<li><svg width=\"22\" height=\"14\" aria-hidden=\"true\"><line x1=\"11\" x2=\"11\" y1=\"0\" y2=\"14\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\"/></svg>usable after headroom</li>"
        return s + "</ul>"
    }

    /// A table cell holding a number: the figure as printed, with the raw value for scripts and tests.
    static func cell(_ printed: String, value: String? = nil, total: String? = nil) -> String {
        var attrs = " class=\"n\""
        if let total { attrs += " data-total=\"\(escape(total))\"" }
        if let value { attrs += " data-value=\"\(escape(value))\"" }
        return "<td\(attrs)>\(escape(printed))</td>"
    }
}
