import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlanModel
import Reports

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

extension OutputSink {
    /// Writes `report` in `format`; JSON is streamed (`JSONWriter`), so a large fleet never sits in
    /// memory as one string.
    func render<R: Report>(_ report: R, _ format: OutputFormat) {
        switch format {
        case .json: json(report.document)
        case .csv: write(report.csv)
        case .table: write(report.table)
        }
    }

    /// Writes `report` in `format`: a page for HTML, else as `render(_:_:)` does.
    func render<R: HTMLReport>(_ report: R, _ format: PageFormat) {
        if let text = format.text { render(report, text) } else { write(report.html) }
    }

    /// Writes `items` in `format`: one JSON array, a CSV with header, or an aligned table.
    func render<T: Listing>(_ items: [T], _ format: OutputFormat) { render(Rows(items), format) }
}
