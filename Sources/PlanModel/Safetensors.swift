/// The header of a `.safetensors` file: tensor names, dtypes, shapes and byte ranges.
///
/// Format (huggingface/safetensors, `docs/source/index.mdx` "Format"): 8 bytes, a little-endian
/// unsigned 64-bit header length N; N bytes of JSON, an object mapping each tensor name to
/// `{"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}` (offsets relative to the byte
/// after the header) plus an optional `"__metadata__"` object of strings; then the tensor data.
/// Only the header is read here; tensor data never is.
public struct SafetensorsHeader: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var begin: Int
        public var end: Int
        public var bytes: Int { end - begin }
        public var elements: Int { shape.reduce(1, *) }
    }

    /// Why a header cannot be read; the caller names the file.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    /// Element sizes in bits, from safetensors' `Dtype` enum (safetensors/src/tensor.rs). Packed
    /// sub-byte types (F4, F6) are sized from their byte range, which is what the file holds.
    public static let bitsPerElement: [String: Int] = [
        "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    ]

    /// The largest header plan reads: the format's own limit is 100 MB (safetensors `MAX_HEADER_SIZE`).
    public static let maxHeaderBytes = 100_000_000

    public var tensors: [Tensor]
    public var metadata: [String: String]
    /// Bytes of tensor data the header describes (the end of the last range).
    public var dataBytes: Int

    /// The header length from the first 8 bytes of a file.
    public static func headerLength(_ first8: [UInt8]) throws(Problem) -> Int {
        guard first8.count == 8 else { throw Problem(message: "the file is shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for (i, b) in first8.enumerated() { n |= UInt64(b) << (8 * UInt64(i)) }
        guard n >= 2, n <= UInt64(maxHeaderBytes) else {
            throw Problem(message: "the header length \(n) is not between 2 and \(maxHeaderBytes) bytes; this is not a safetensors file")
        }
        return Int(n)
    }

    /// Parses the JSON header bytes.
    public init(json bytes: [UInt8]) throws(Problem) {
        let doc: JSONValue
        do {
            var p = StrictJSONParser(bytes: bytes)
            doc = try p.document()
        } catch {
            throw Problem(message: "the header is not valid JSON (\(error.message))")
        }
        guard case .object(let entries) = doc else { throw Problem(message: "the header is not a JSON object") }
        var tensors: [Tensor] = []
        var metadata: [String: String] = [:]
        for name in entries.keys.sorted() {
            let value = entries[name]!
            if name == "__metadata__" {
                if case .object(let m) = value {
                    for (k, v) in m { if case .string(let s) = v { metadata[k] = s } }
                }
                continue
            }
            guard case .object(let t) = value, case .string(let dtype)? = t["dtype"], case .array(let shapeItems)? = t["shape"],
                case .array(let offsets)? = t["data_offsets"], offsets.count == 2,
                case .int(let begin) = offsets[0], case .int(let end) = offsets[1], begin >= 0, end >= begin
            else {
                throw Problem(message: "tensor '\(name)' lacks a dtype, a shape or two data_offsets")
            }
            var shape: [Int] = []
            for s in shapeItems {
                guard case .int(let d) = s, d >= 0 else { throw Problem(message: "tensor '\(name)' has a bad shape") }
                shape.append(d)
            }
            guard let bits = Self.bitsPerElement[dtype] else {
                throw Problem(message: "tensor '\(name)' has the dtype '\(dtype)', which plan does not know")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (m, o) = acc.0.multipliedReportingOverflow(by: d)
                return (m, acc.1 || o)
            }
            guard !overflow, elements <= Int.max / 64 else { throw Problem(message: "tensor '\(name)' has an absurd shape") }
            let expected = (elements * bits + 7) / 8
            guard end - begin == expected else {
                throw Problem(
                    message: "tensor '\(name)' (\(dtype) \(shape)) should take \(expected) bytes but its data_offsets span \(end - begin)")
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        tensors.sort { $0.begin < $1.begin || ($0.begin == $1.begin && $0.name < $1.name) }
        // The ranges tile the data section: no gaps, no overlaps (what safetensors itself checks).
        var cursor = 0
        for t in tensors {
            guard t.begin == cursor else {
                throw Problem(message: "tensor '\(t.name)' starts at byte \(t.begin) where \(cursor) was expected; the header is corrupt")
            }
            cursor = t.end
        }
        self.tensors = tensors
        self.metadata = metadata
        dataBytes = cursor
    }
}
