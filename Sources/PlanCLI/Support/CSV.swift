import Foundation
import PlanModel

/// A strict RFC 4180 reader: quoted fields, doubled quotes, CRLF or LF line ends, an optional UTF-8
/// byte-order mark. Input that is not UTF-8 is rejected. Every record keeps the line it starts on.
public enum CSVReader {
    public struct Record: Equatable {
        public var line: Int
        public var fields: [String]
    }

    public struct Failure: Error, Equatable {
        public var line: Int
        public var message: String
    }

    public static func parse(_ data: Data) throws -> [Record] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let line = firstInvalidLine(bytes)
            throw Failure(line: line, message: "the file is not valid UTF-8 (first bad byte on line \(line)); save it as UTF-8")
        }
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending {
                pending = nil
                return p
            }
            return iterator.next()
        }
        var scalars = String.UnicodeScalarView()
        func endField() {
            field = String(scalars)
            fields.append(field)
            scalars = String.UnicodeScalarView()
            afterQuote = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" {
                            scalars.append("\"")
                        } else {
                            inQuotes = false
                            afterQuote = true
                            pending = n
                        }
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    scalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                endField()
            case "\r":
                if let n = next(), n != "\n" { pending = n }
                endRecord()
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            case "\"":
                if scalars.isEmpty && !afterQuote {
                    inQuotes = true
                } else {
                    throw Failure(line: line, message: "line \(line): a quote inside an unquoted field; quote the whole field and double inner quotes (\"\")")
                }
            default:
                if afterQuote {
                    throw Failure(line: line, message: "line \(line): text after a closing quote; expected a comma or the end of the line")
                }
                scalars.append(c)
            }
        }
        if inQuotes {
            throw Failure(line: recordLine, message: "line \(recordLine): a quoted field is never closed")
        }
        if !scalars.isEmpty || !fields.isEmpty || afterQuote { endRecord() }
        return records
    }

    static func firstInvalidLine(_ bytes: [UInt8]) -> Int {
        var line = 1
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            if String(validating: bytes[start..<i], as: UTF8.self) == nil { return line }
            line += 1
            start = i + 1
        }
        return line
    }
}

/// A table read from CSV or JSON: named columns and one row per record, with its line.
struct InputTable {
    struct Row {
        var line: Int
        var values: [String: String]
        /// A human reference: "line 7" (CSV) or "item 3" (JSON).
        var label: String
    }
    var rows: [Row]

    /// Reads `path` as CSV (header row) or a JSON array of objects, by content.
    static func read(path: String, columns: [String], required: [String]) throws -> InputTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw PlanError(exists ? "cannot read '\(path)': permission denied or a folder" : "no such file '\(path)'")
        }
        var body = data
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        let firstByte = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 })
        if firstByte == UInt8(ascii: "{") {
            throw PlanError("\(path) holds a JSON object; expected a JSON array of objects ([{...}, ...]) or CSV with a header line")
        }
        if firstByte == UInt8(ascii: "[") {
            return try readJSON(Data(body), path: path, columns: columns, required: required)
        }
        return try readCSV(data, path: path, columns: columns, required: required)
    }

    static func readCSV(_ data: Data, path: String, columns: [String], required: [String]) throws -> InputTable {
        let records: [CSVReader.Record]
        do {
            records = try CSVReader.parse(data)
        } catch let f as CSVReader.Failure {
            throw PlanError("\(path): \(f.message); nothing was imported")
        }
        guard let header = records.first else {
            throw PlanError("\(path) is empty; expected a header line '\(columns.joined(separator: ","))' and rows")
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        for n in names where !columns.contains(n) {
            throw PlanError(
                "\(path) line \(header.line): unknown column '\(n)' in the header; expected columns: \(columns.joined(separator: ","))")
        }
        if Set(names).count != names.count {
            throw PlanError("\(path) line \(header.line): a column appears twice in the header")
        }
        for r in required where !names.contains(r) {
            throw PlanError(
                "\(path) line \(header.line): the header lacks the required column '\(r)'; expected columns: \(columns.joined(separator: ","))")
        }
        var rows: [Row] = []
        rows.reserveCapacity(records.count)
        for rec in records.dropFirst() {
            guard rec.fields.count == names.count else {
                throw PlanError(
                    "\(path) line \(rec.line): \(rec.fields.count) fields, but the header has \(names.count); nothing was imported")
            }
            var values: [String: String] = [:]
            for (n, v) in zip(names, rec.fields) where !v.isEmpty { values[n] = v }
            rows.append(Row(line: rec.line, values: values, label: "line \(rec.line)"))
        }
        return InputTable(rows: rows)
    }

    static func readJSON(_ data: Data, path: String, columns: [String], required: [String]) throws -> InputTable {
        guard String(data: data, encoding: .utf8) != nil else {
            throw PlanError("\(path) is not valid UTF-8; save it as UTF-8")
        }
        let doc: JSONValue
        do {
            doc = try JSONValue.parse(data)
        } catch {
            throw PlanError("\(path) is not valid JSON (\(error.message)); expected an array of objects with keys \(columns.joined(separator: ", ")); nothing was imported")
        }
        guard case .array(let items) = doc else {
            throw PlanError("\(path): expected a JSON array of objects")
        }
        var rows: [Row] = []
        for (i, item) in items.enumerated() {
            let label = "item \(i + 1)"
            guard case .object(let obj) = item else {
                throw PlanError("\(path) \(label): expected an object with keys \(columns.joined(separator: ", "))")
            }
            var values: [String: String] = [:]
            for k in obj.keys.sorted() {
                let v = obj[k]!
                guard columns.contains(k) else {
                    throw PlanError("\(path) \(label): unknown key '\(k)'; expected keys: \(columns.joined(separator: ", "))")
                }
                switch v {
                case .null: continue
                case .string(let s): values[k] = s
                case .int(let n): values[k] = String(n)
                case .double(let d): values[k] = String(d)
                case .bool(let b): values[k] = b ? "true" : "false"
                case .array(let a):
                    values[k] = a.compactMap { if case .string(let s) = $0 { return s } else { return nil } }.joined(separator: ",")
                case .object:
                    throw PlanError("\(path) \(label): key '\(k)' must be a string or a number, got an object")
                }
            }
            rows.append(Row(line: i + 1, values: values, label: label))
        }
        return InputTable(rows: rows)
    }
}

