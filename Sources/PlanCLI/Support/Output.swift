import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlanModel

/// Where a command writes. The process uses stdout/stderr; tests capture into strings.
///
/// Writes go through `write(2)` and never trap: the first failure (a full disk, a closed pipe) is
/// kept in `failure`, later output is dropped, and the command's caller reports it in one line.
/// Everything written is passed through `TerminalText.sanitized`, so a name holding ESC or BEL
/// cannot drive the reader's terminal.
public final class OutputSink: @unchecked Sendable {
    private let fd: Int32?
    public private(set) var captured = ""
    private var buffer: [UInt8] = []
    /// Why writing failed (strerror), if it did.
    public private(set) var failure: String?

    /// A sink that writes to file descriptor `fd` (1 for stdout, 2 for stderr).
    public init(fd: Int32) { self.fd = fd }
    private init() { fd = nil }
    /// A sink that keeps everything in `captured`.
    public static func capture() -> OutputSink { OutputSink() }

    public func write(_ text: String) {
        let clean = TerminalText.sanitized(text)
        if fd == nil {
            captured += clean
        } else if clean.utf8.count > 1 << 16 {
            // A large document goes out from its own storage, not through the buffer.
            flush()
            var text = clean
            text.withUTF8 { send($0) }
        } else {
            buffer.append(contentsOf: clean.utf8)
            if buffer.count > 1 << 16 { flush() }
        }
    }

    public func line(_ text: String = "") { write(text + "\n") }

    /// Writes `value` as JSON (`JSONWriter`), streamed in pieces; JSON escapes every control
    /// character itself, so nothing needs sanitising.
    func json<T: Encodable>(_ value: T) {
        JSONWriter.stream(value) { bytes in
            if fd == nil {
                captured += String(decoding: bytes, as: UTF8.self)
            } else {
                flush()
                bytes.withUnsafeBufferPointer { send($0) }
            }
        }
    }

    /// Writes what is buffered; returns false once a write has failed.
    @discardableResult
    public func flush() -> Bool {
        guard fd != nil else { return true }
        defer { buffer.removeAll(keepingCapacity: true) }
        buffer.withUnsafeBufferPointer { send($0) }
        return failure == nil
    }

    private func send(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let fd, failure == nil, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                return
            }
            offset += n
        }
    }
}

/// Text made safe for a terminal: control characters other than tab, line feed and the CR of a
/// CRLF line end, and C1 controls, are written as `\u{XX}`.
public enum TerminalText {
    public static func sanitized(_ text: String) -> String {
        var text = text
        let clean = text.withUTF8 { bytes -> Bool in
            // Almost all output has nothing to escape: one pass over the bytes.
            for i in bytes.indices {
                let b = bytes[i]
                if b >= 0x20 && b != 0x7F && b != 0xC2 { continue }
                if b == 0x0A || b == 0x09 { continue }
                if b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { continue }
                if b == 0xC2 && !(i + 1 < bytes.count && (0x80...0x9F).contains(bytes[i + 1])) { continue }
                return false
            }
            return true
        }
        if clean { return text }
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        for (i, u) in scalars.enumerated() {
            let v = u.value
            let keep = v == 0x0A || v == 0x09 || (v == 0x0D && i + 1 < scalars.count && scalars[i + 1] == "\n")
            if !keep && (v < 0x20 || (0x7F...0x9F).contains(v)) {
                out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
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

    static func neutralised(_ s: String) -> String {
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
        case .json: json(items)
        case .csv: write(CSVWriter.render(header: T.csvHeader, rows: items.map(\.csvRow)))
        case .table:
            var t = TextTable(T.tableHeader, rightAligned: T.rightAligned)
            for i in items { t.add(i.tableRow) }
            write(t.render())
        }
    }
}
