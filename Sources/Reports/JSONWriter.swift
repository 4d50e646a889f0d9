/// The JSON every command prints: sorted keys, two-space pretty printing, snake_case keys for
/// Swift property names (dictionary keys such as job names are kept exactly), slashes unescaped.
///
/// Foundation's `JSONEncoder` spent most of `plan servers --format json` on 100,000 servers
/// converting the same dozen property names to snake_case, object by object. This encoder builds
/// the same tree once per value with a cache of converted keys and writes UTF-8 bytes directly.
/// The layout is Foundation's pretty printing (`"key" : value`, empty containers on two lines),
/// so scripts see the same documents.
public enum JSONWriter {
    public static func encode<T: Encodable>(_ value: T) -> String {
        var text = ""
        stream(value) { text += String(decoding: $0, as: UTF8.self) }
        return text
    }

    /// Writes the document in pieces of about 64 KiB to `emit`, so a listing of a million servers
    /// never sits in memory as one string.
    public static func stream<T: Encodable>(_ value: T, emit: ([UInt8]) -> Void) {
        let cache = KeyCache()
        let root = Box()
        do {
            try set(root, value, cache)
        } catch {
            emit(Array("null\n".utf8))
            return
        }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        write(root.value, into: &out, indent: 0, emit: emit)
        out.append(0x0A)
        emit(out)
    }

    // MARK: The tree

    /// A row type on a hot path (a listing of 100,000 servers) that builds its JSON value
    /// directly instead of through `Encodable`; its keys are written already in snake_case.
    public protocol DirectJSON {
        var jsonValue: Value { get }
    }

    /// An object from (key, value) pairs.
    public static func object(_ pairs: KeyValuePairs<String, Value>) -> Value {
        let n = Node(isArray: false)
        n.keys.reserveCapacity(pairs.count)
        n.items.reserveCapacity(pairs.count)
        for (k, v) in pairs { n.append(v, key: k) }
        return .node(n)
    }

    /// A value: scalars inline, containers as nodes (so a server's dozen fields cost one node).
    public enum Value {
        case null, bool(Bool), int(Int), uint(UInt64), double(Double), float(Float), string(String), node(Node)
    }

    /// An array, or an object with the key of each item.
    public final class Node {
        let isArray: Bool
        public var items: [Value] = []
        var keys: [String] = []
        public init(isArray: Bool) { self.isArray = isArray }

        public func append(_ v: Value) { items.append(v) }
        /// Codable types and dictionaries never encode a key twice, so keys are appended.
        public func append(_ v: Value, key: String) {
            keys.append(key)
            items.append(v)
        }
    }

    /// Where an encoder puts what it encodes.
    final class Box {
        var value: Value = .null
    }

    final class KeyCache {
        var converted: [String: String] = [:]
        /// Whether a CodingKey type is the standard library's dictionary key (data, not a name).
        var dictionaryKey: [ObjectIdentifier: Bool] = [:]

        func isDictionaryKey<K: CodingKey>(_ type: K.Type) -> Bool {
            if let hit = dictionaryKey[ObjectIdentifier(type)] { return hit }
            let r = String(describing: type).hasSuffix("DictionaryCodingKey")
            dictionaryKey[ObjectIdentifier(type)] = r
            return r
        }

        func snake(_ key: String) -> String {
            if let hit = converted[key] { return hit }
            let s = JSONWriter.snakeCase(key)
            converted[key] = s
            return s
        }
    }

    /// Foundation's `convertToSnakeCase`: words start at an uppercase letter; a run of capitals is
    /// one word ("perGPUBytes" -> "per_gpu_bytes").
    static func snakeCase(_ key: String) -> String {
        let chars = Array(key)
        guard chars.count > 1 else { return key.lowercased() }
        var words: [String] = []
        var start = 0
        var i = 1
        while i < chars.count {
            guard let upper = (i..<chars.count).first(where: { chars[$0].isUppercase }) else { break }
            words.append(String(chars[start..<upper]))
            guard let lower = ((upper)..<chars.count).first(where: { chars[$0].isLowercase }) else {
                start = upper
                i = chars.count
                break
            }
            if lower == upper + 1 {
                start = upper
            } else {
                words.append(String(chars[upper..<(lower - 1)]))
                start = lower - 1
            }
            i = lower + 1
        }
        words.append(String(chars[start..<chars.count]))
        return words.filter { !$0.isEmpty }.map { $0.lowercased() }.joined(separator: "_")
    }

    // MARK: Writing

    static func write(_ v: Value, into out: inout [UInt8], indent: Int, emit: ([UInt8]) -> Void) {
        if out.count >= 1 << 16 {
            emit(out)
            out.removeAll(keepingCapacity: true)
        }
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .uint(let u): out.append(contentsOf: String(u).utf8)
        case .double(let d): out.append(contentsOf: number(d).utf8)
        case .float(let f): out.append(contentsOf: number(f).utf8)
        case .string(let s): string(s, into: &out)
        case .node(let n) where n.isArray:
            out.append(UInt8(ascii: "["))
            out.append(0x0A)
            if n.items.isEmpty { out.append(0x0A) }
            for (k, item) in n.items.enumerated() {
                pad(indent + 2, &out)
                write(item, into: &out, indent: indent + 2, emit: emit)
                if k + 1 < n.items.count { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(indent, &out)
            out.append(UInt8(ascii: "]"))
        case .node(let n):
            out.append(UInt8(ascii: "{"))
            out.append(0x0A)
            if n.items.isEmpty { out.append(0x0A) }
            var order = Array(n.keys.indices)
            if !zip(n.keys, n.keys.dropFirst()).allSatisfy({ $0 < $1 }) { order.sort { n.keys[$0] < n.keys[$1] } }
            for (k, idx) in order.enumerated() {
                pad(indent + 2, &out)
                string(n.keys[idx], into: &out)
                out.append(contentsOf: " : ".utf8)
                write(n.items[idx], into: &out, indent: indent + 2, emit: emit)
                if k + 1 < order.count { out.append(UInt8(ascii: ",")) }
                out.append(0x0A)
            }
            pad(indent, &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    static func pad(_ n: Int, _ out: inout [UInt8]) {
        for _ in 0..<n { out.append(0x20) }
    }

    /// The shortest round-trip form without a trailing ".0" ("1", "-0", "1e+21"), as Foundation's
    /// JSONWriter prints doubles.
    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        let text = "\(d)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func number(_ f: Float) -> String {
        guard f.isFinite else { return "null" }
        let text = "\(f)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A JSON string; control characters, including the C1 controls U+0080 to U+009F that a
    /// terminal would obey, are written as escapes.
    static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var c1Lead = false
        for b in s.utf8 {
            if c1Lead {
                c1Lead = false
                if (0x80...0x9F).contains(b) {
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(hex[Int(b >> 4)])
                    out.append(hex[Int(b & 0xF)])
                    continue
                }
                out.append(0xC2)
            }
            switch b {
            case 0xC2: c1Lead = true
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        if c1Lead { out.append(0xC2) }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: The Encoder

    struct TreeEncoder: Encoder {
        let box: Box
        let cache: KeyCache
        var codingPath: [CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let n = Node(isArray: false)
            box.value = .node(n)
            return KeyedEncodingContainer(Keyed<Key>(node: n, cache: cache))
        }

        func unkeyedContainer() -> UnkeyedEncodingContainer {
            let n = Node(isArray: true)
            box.value = .node(n)
            return Unkeyed(node: n, cache: cache)
        }

        func singleValueContainer() -> SingleValueEncodingContainer { Single(box: box, cache: cache) }
    }

    /// The value of `value`: primitives directly, anything else through its `encode(to:)`.
    static func value<T: Encodable>(_ value: T, _ cache: KeyCache) throws -> Value {
        switch value {
        case let v as DirectJSON: return v.jsonValue
        case let v as String: return .string(v)
        case let v as Int: return .int(v)
        case let v as Bool: return .bool(v)
        case let v as Double: return .double(v)
        default:
            let b = Box()
            try value.encode(to: TreeEncoder(box: b, cache: cache))
            return b.value
        }
    }

    static func set<T: Encodable>(_ box: Box, _ v: T, _ cache: KeyCache) throws {
        box.value = try value(v, cache)
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let cache: KeyCache
        var codingPath: [CodingKey] = []
        /// Dictionary keys (job names, config fields) are data and stay as they are.
        let convert: Bool

        init(node: Node, cache: KeyCache) {
            self.node = node
            self.cache = cache
            convert = !cache.isDictionaryKey(Key.self)
        }

        func name(_ key: Key) -> String { convert ? cache.snake(key.stringValue) : key.stringValue }
        func put(_ v: Value, _ key: Key) { node.append(v, key: name(key)) }

        mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { put(.double(value), key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { put(.float(value), key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { put(.int(value), key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { put(.uint(UInt64(value)), key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.int(Int(value)), key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { put(.uint(value), key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { put(try JSONWriter.value(value, cache), key) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let n = Node(isArray: false)
            put(.node(n), key)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: n, cache: cache))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            let n = Node(isArray: true)
            put(.node(n), key)
            return Unkeyed(node: n, cache: cache)
        }

        mutating func superEncoder() -> Encoder { TreeEncoder(box: Box(), cache: cache) }
        mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(box: Box(), cache: cache) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let cache: KeyCache
        var codingPath: [CodingKey] = []
        var count: Int { node.items.count }

        mutating func encodeNil() throws { node.append(.null) }
        mutating func encode(_ value: Bool) throws { node.append(.bool(value)) }
        mutating func encode(_ value: String) throws { node.append(.string(value)) }
        mutating func encode(_ value: Double) throws { node.append(.double(value)) }
        mutating func encode(_ value: Float) throws { node.append(.float(value)) }
        mutating func encode(_ value: Int) throws { node.append(.int(value)) }
        mutating func encode(_ value: Int8) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: Int16) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: Int32) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: Int64) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: UInt) throws { node.append(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt8) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: UInt16) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: UInt32) throws { node.append(.int(Int(value))) }
        mutating func encode(_ value: UInt64) throws { node.append(.uint(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.append(try JSONWriter.value(value, cache)) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let n = Node(isArray: false)
            node.append(.node(n))
            return KeyedEncodingContainer(Keyed<NestedKey>(node: n, cache: cache))
        }

        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let n = Node(isArray: true)
            node.append(.node(n))
            return Unkeyed(node: n, cache: cache)
        }

        mutating func superEncoder() -> Encoder { TreeEncoder(box: Box(), cache: cache) }
    }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        let cache: KeyCache
        var codingPath: [CodingKey] = []

        mutating func encodeNil() throws { box.value = .null }
        mutating func encode(_ value: Bool) throws { box.value = .bool(value) }
        mutating func encode(_ value: String) throws { box.value = .string(value) }
        mutating func encode(_ value: Double) throws { box.value = .double(value) }
        mutating func encode(_ value: Float) throws { box.value = .float(value) }
        mutating func encode(_ value: Int) throws { box.value = .int(value) }
        mutating func encode(_ value: Int8) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: Int16) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: Int32) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: Int64) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: UInt) throws { box.value = .uint(UInt64(value)) }
        mutating func encode(_ value: UInt8) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: UInt16) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: UInt32) throws { box.value = .int(Int(value)) }
        mutating func encode(_ value: UInt64) throws { box.value = .uint(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { box.value = try JSONWriter.value(value, cache) }
    }
}
