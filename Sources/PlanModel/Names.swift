import Foundation

/// The one rule for names and labels, whatever way they come in (flags, CSV, JSON, imports).
///
/// Names are stored and looked up in Unicode NFC, so "jé" typed as one code point and as "e" plus
/// a combining accent are the same name everywhere (SQLite compares bytes). Control characters
/// (C0, DEL, C1), format characters (zero-width, bidirectional, tags) and line/paragraph separators
/// are refused: a name from someone else's import file must not be able to retitle a terminal,
/// hide text or pass for another name.
public enum Names {
    /// The longest name or label, in UTF-8 bytes (servers, jobs, models, SKUs, sites, racks).
    public static let maxBytes = 256

    /// What kind of text is checked; decides the wording and whether it may be empty.
    public enum Field: Sendable {
        case name(String)
        case label(String)

        var what: String {
            switch self {
            case .name(let w), .label(let w): w
            }
        }
    }

    /// Why a name is refused; `message` names the value (escaped) and what would be valid.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The stored form of `raw` (NFC), or the reason it is refused.
    public static func checked(_ raw: String, _ field: Field) throws(Problem) -> String {
        let s = normalized(raw)
        let what = field.what
        if case .name = field {
            guard !s.isEmpty else { throw Problem(message: "the \(what) is empty; give a name such as 'gpu-node-1'") }
            guard s.contains(where: { !$0.isWhitespace }) else {
                throw Problem(message: "the \(what) '\(s)' is only white space; give a visible name such as 'gpu-node-1'")
            }
        }
        if let bad = s.unicodeScalars.first(where: isForbidden) {
            throw Problem(
                message: "the \(what) '\(escaped(s))' contains the control character \(codePoint(bad)); "
                    + "names and labels may hold printable characters only")
        }
        if s.first?.isWhitespace == true || s.last?.isWhitespace == true {
            throw Problem(message: "the \(what) '\(s)' starts or ends with white space; remove it")
        }
        guard s.utf8.count <= maxBytes else {
            throw Problem(
                message: "the \(what) '\(escaped(String(s.prefix(40))))...' is \(s.utf8.count) bytes long; the limit is \(maxBytes) bytes")
        }
        return s
    }

    /// NFC, the form names are stored and looked up in.
    public static func normalized(_ s: String) -> String {
        s.precomposedStringWithCanonicalMapping
    }

    /// Scalars no name may hold: C0 and C1 controls, DEL, bidirectional embeddings, overrides and
    /// isolates, and the Unicode line and paragraph separators.
    public static func isForbidden(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029 { return true }
        // Format characters (general category Cf): zero-width spaces and joiners, bidirectional
        // marks, overrides and isolates, the byte-order mark, tags. They make two names look alike.
        return u.properties.generalCategory == .format
    }

    /// `s` with every unprintable scalar written as `\u{XX}`, for error messages and tables.
    public static func escaped(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isForbidden) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if isForbidden(u) {
                out.append(contentsOf: "\\u{\(String(u.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    static func codePoint(_ u: Unicode.Scalar) -> String {
        let hex = String(u.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// Limits that hold for every way a value comes in (flags, CSV, JSON, the store).
public enum Limits {
    /// Job priority: higher places first.
    public static let priority = -1_000_000...1_000_000
    /// The largest config.json plan reads or stores (real ones are a few kilobytes; the largest
    /// published ones, with label maps, stay under 100 KB).
    public static let configBytes = 1 << 20
}
