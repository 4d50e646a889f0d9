import PlanCore
import PlanModel

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
///
/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, tab or CR) is
/// neutralised with a leading `'`, as OWASP's "CSV injection" advice says; numbers such as `-5`
/// stay numbers.
public enum CSVWriter {
    public static func field(_ raw: String) -> String {
        let s = neutralised(raw)
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    public static func neutralised(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return s }
        if Double(s) != nil && s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+" || $0 == "." || $0 == "e" || $0 == "E") }) {
            return s
        }
        return "'" + s
    }

    public static func render(header: [String], rows: [[String]]) -> String {
        var out = header.map(field).joined(separator: ",") + "\r\n"
        for r in rows { out += r.map(field).joined(separator: ",") + "\r\n" }
        return out
    }
}

/// JSON output: one document, sorted keys, pretty-printed, snake_case keys (`JSONWriter`).
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T) -> String { JSONWriter.encode(value) }
}

/// A row type that prints in every format: JSON (its `Encodable` form), CSV and a text table.
public protocol Listing: Encodable {
    static var csvHeader: [String] { get }
    var csvRow: [String] { get }
    static var tableHeader: [String] { get }
    /// Table columns to right-align (numbers).
    static var rightAligned: Set<Int> { get }
    var tableRow: [String] { get }
}


/// One command's result as a value that renders in every format: its JSON document, a CSV and a
/// text table. Commands compute a report (from PlanCore's use cases) and hand it to the output;
/// the renderers compute no numbers of their own. An HTML renderer is one more view of the same
/// values.
public protocol Report {
    associatedtype Document: Encodable
    /// What `--format json` prints.
    var document: Document { get }
    /// What `--format csv` prints (header, CRLF rows).
    var csv: String { get }
    /// What `--format table` prints.
    var table: String { get }
}

extension Report {
    /// The report as one string in `format` (for a file; standard output streams JSON instead).
    public func text(_ format: OutputFormat) -> String {
        switch format {
        case .json: JSONWriter.encode(document)
        case .csv: csv
        case .table: table
        }
    }
}

/// A list of rows as a report: a JSON array, a CSV with header, or an aligned table.
public struct Rows<T: Listing>: Report {
    public var items: [T]
    public init(_ items: [T]) { self.items = items }
    public var document: [T] { items }
    public var csv: String { CSVWriter.render(header: T.csvHeader, rows: items.map(\.csvRow)) }
    public var table: String {
        var t = TextTable(T.tableHeader, rightAligned: T.rightAligned)
        for i in items { t.add(i.tableRow) }
        return t.render()
    }
}
