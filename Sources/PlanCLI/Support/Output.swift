import Foundation
import PlanModel

/// Where a command writes. The process uses stdout/stderr; tests capture into strings.
public final class OutputSink: @unchecked Sendable {
    private let handle: FileHandle?
    public private(set) var captured = ""
    private var buffer = ""

    public init(handle: FileHandle?) { self.handle = handle }
    /// A sink that keeps everything in `captured`.
    public static func capture() -> OutputSink { OutputSink(handle: nil) }

    public func write(_ text: String) {
        if handle == nil {
            captured += text
        } else {
            buffer += text
            if buffer.utf8.count > 1 << 16 { flush() }
        }
    }

    public func line(_ text: String = "") { write(text + "\n") }

    public func flush() {
        guard let handle, !buffer.isEmpty else { return }
        handle.write(Data(buffer.utf8))
        buffer = ""
    }
}

/// The output formats every data command offers.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv
}

/// Renders rows as an aligned text table; numeric-looking columns are right-aligned.
public struct TextTable {
    public var headers: [String]
    public var rows: [[String]] = []
    /// Columns to right-align (by index).
    public var rightAligned: Set<Int> = []

    public init(_ headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        var widths = headers.map(\.count)
        for r in rows {
            for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) }
        }
        func fmt(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, c) in cells.enumerated() {
                let last = i == cells.count - 1
                if rightAligned.contains(i) {
                    parts.append(c.leftPadded(to: widths[i]))
                } else {
                    parts.append(last ? c : c.rightPadded(to: widths[i]))
                }
            }
            var line = parts.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
        var out = fmt(headers) + "\n"
        for r in rows { out += fmt(r) + "\n" }
        return out
    }
}

/// RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted and quotes doubled; CRLF line ends.
public enum CSVWriter {
    public static func field(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    public static func render(header: [String], rows: [[String]]) -> String {
        var out = header.map(field).joined(separator: ",") + "\r\n"
        for r in rows { out += r.map(field).joined(separator: ",") + "\r\n" }
        return out
    }
}

/// JSON output: one document, sorted keys, pretty-printed, snake_case keys.
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        enc.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? enc.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Human-friendly numbers for tables.
enum Human {
    static func gib(_ bytes: Int) -> String { Bytes(bytes).gibString }

    /// 1234567 -> "1,234,567".
    static func grouped(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    static func usd(_ n: Int) -> String { "$" + grouped(n) }

    /// Bytes per second as "3.35 TB/s" (decimal units, as vendors quote bandwidth).
    static func rate(_ bps: Int) -> String {
        let tb = Double(bps) / 1e12
        if tb >= 1 { return Bytes.format(bps, unit: 1_000_000_000_000, name: "TB/s") }
        return Bytes.format(bps, unit: 1_000_000_000, name: "GB/s")
    }
}

/// A row type that prints in every format: JSON (its `Encodable` form), CSV and a text table.
protocol Listing: Encodable {
    static var csvHeader: [String] { get }
    var csvRow: [String] { get }
    static var tableHeader: [String] { get }
    /// Table columns to right-align (numbers).
    static var rightAligned: Set<Int> { get }
    var tableRow: [String] { get }
}

extension OutputSink {
    /// Writes `items` in `format`: one JSON array, a CSV with header, or an aligned table.
    func render<T: Listing>(_ items: [T], _ format: OutputFormat) {
        switch format {
        case .json: write(JSONOutput.encode(items))
        case .csv: write(CSVWriter.render(header: T.csvHeader, rows: items.map(\.csvRow)))
        case .table:
            var t = TextTable(T.tableHeader, rightAligned: T.rightAligned)
            for i in items { t.add(i.tableRow) }
            write(t.render())
        }
    }
}
