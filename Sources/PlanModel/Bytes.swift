/// A size in integer bytes. GB (10^9) and GiB (2^30) are never mixed; rounding happens only when printing.
public struct Bytes: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var value: Int

    public init(_ value: Int) { self.value = value }

    public static let zero = Bytes(0)
    public static let kib = 1 << 10
    public static let mib = 1 << 20
    public static let gib = 1 << 30
    public static let tib = 1 << 40

    public static func < (a: Bytes, b: Bytes) -> Bool { a.value < b.value }
    public static func + (a: Bytes, b: Bytes) -> Bytes { Bytes(a.value + b.value) }
    public static func - (a: Bytes, b: Bytes) -> Bytes { Bytes(a.value - b.value) }
    public static func += (a: inout Bytes, b: Bytes) { a.value += b.value }
    public static func * (a: Bytes, n: Int) -> Bytes { Bytes(a.value * n) }

    /// The size in GiB (2^30 bytes) as a floating-point number, for display only.
    public var gibValue: Double { Double(value) / Double(Bytes.gib) }

    /// "14.96 GiB": two decimals, unit always shown.
    public var gibString: String { Bytes.format(value, unit: Bytes.gib, name: "GiB") }

    public var description: String { gibString }

    /// Formats `value / unit` with two decimals without going through locale-dependent APIs.
    public static func format(_ value: Int, unit: Int, name: String) -> String {
        let negative = value < 0
        let v = negative ? -Double(value) : Double(value)
        let hundredths = Int((v / Double(unit) * 100).rounded())
        let text = "\(hundredths / 100).\(String(hundredths % 100).leftPadded(to: 2, with: "0")) \(name)"
        return negative ? "-" + text : text
    }
}

extension String {
    /// Pads on the left to `width` characters.
    public func leftPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    /// Pads on the right to `width` characters.
    public func rightPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : self + String(repeating: pad, count: width - count)
    }
}

/// Parses the size arguments users type: `80GB`, `80GiB`, `81920MiB`, `2TiB`, `1.5GiB`, plain bytes.
public enum ByteSize {
    /// Units accepted after the number, lower-cased. GB = 10^9, GiB = 2^30.
    static let units: [(String, Int)] = [
        ("b", 1),
        ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
        ("pb", 1_000_000_000_000_000),
        ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40), ("pib", 1 << 50),
    ]

    /// What a valid size looks like, for error messages.
    public static let validForms = "a positive size such as 80GB, 80GiB, 81920MiB, 2TiB or a whole number of bytes"

    /// Returns the size in bytes, or nil when `text` is not a positive size that fits in 63 bits.
    public static func parse(_ text: String) -> Bytes? {
        let trimmed = text.trimmingCharacters(in: " ")
        guard !trimmed.isEmpty else { return nil }
        var digits = Substring(trimmed)
        var unitText = ""
        while let last = digits.last, last.isLetter {
            unitText.insert(last, at: unitText.startIndex)
            digits = digits.dropLast()
        }
        digits = Substring(String(digits).trimmingCharacters(in: " "))
        let unit: Int
        if unitText.isEmpty {
            unit = 1
        } else if let found = units.first(where: { $0.0 == unitText.lowercased() }) {
            unit = found.1
        } else {
            return nil
        }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let whole = parts[0]
        let frac = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && frac.isEmpty),
            whole.allSatisfy({ $0.isASCII && $0.isNumber }),
            frac.allSatisfy({ $0.isASCII && $0.isNumber }), frac.count <= 9
        else { return nil }
        guard let w = whole.isEmpty ? 0 : Int(whole) else { return nil }
        let (wholeBytes, o1) = w.multipliedReportingOverflow(by: unit)
        guard !o1 else { return nil }
        var fracBytes = 0
        // A plain byte count is whole: "0.5" is not half a byte rounded up.
        if unit == 1 && !frac.isEmpty && frac.contains(where: { $0 != "0" }) { return nil }
        if !frac.isEmpty, let f = Int(frac) {
            var scale = 1
            for _ in 0..<frac.count { scale *= 10 }
            let (num, o2) = f.multipliedReportingOverflow(by: unit)
            guard !o2 else { return nil }
            fracBytes = (num + scale / 2) / scale
        }
        let (total, o3) = wholeBytes.addingReportingOverflow(fracBytes)
        guard !o3, total > 0 else { return nil }
        return Bytes(total)
    }
}

extension String {
    fileprivate func trimmingCharacters(in char: Character) -> String {
        var s = Substring(self)
        while s.first == char { s = s.dropFirst() }
        while s.last == char { s = s.dropLast() }
        return String(s)
    }
}

extension Bytes {
    /// Two sizes in GiB for a message that compares them; when two decimals would print them the
    /// same ("needs 79.65 GiB; has 79.65 GiB"), both are given in bytes.
    public static func contrasted(_ a: Int, _ b: Int) -> (String, String) {
        let x = Bytes(a).gibString
        let y = Bytes(b).gibString
        if x == y && a != b { return ("\(a) bytes", "\(b) bytes") }
        return (x, y)
    }
}

/// "1 GPU", "2 GPUs": a count with its noun in the right number.
public func counted(_ n: Int, _ noun: String, plural: String? = nil) -> String {
    "\(n) \(n == 1 ? noun : (plural ?? noun + "s"))"
}

/// Human-friendly numbers for tables.
public enum Human {
    public static func gib(_ bytes: Int) -> String { Bytes(bytes).gibString }

    /// 1234567 -> "1,234,567".
    public static func grouped(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    public static func usd(_ n: Int) -> String { "$" + grouped(n) }

    /// Bytes per second as "3.35 TB/s" (decimal units, as vendors quote bandwidth).
    public static func rate(_ bps: Int) -> String {
        let tb = Double(bps) / 1e12
        if tb >= 1 { return Bytes.format(bps, unit: 1_000_000_000_000, name: "TB/s") }
        return Bytes.format(bps, unit: 1_000_000_000, name: "GB/s")
    }
}
