import Foundation
import Reports
import Testing

@testable import PlanCLI

/// `JSONWriter` prints what Foundation's JSONEncoder printed for every report (sorted keys, pretty
/// printing, snake_case property names, unescaped slashes), byte for byte, so scripts see the
/// same documents. The one intended difference: dictionary keys (data such as job names) are kept
/// as they are, where Foundation would snake_case them too.
@Suite struct JSONWriterTests {
    struct Inner: Encodable {
        var perGPUBytes: Int
        var urlString: String?
        var emptyList: [Int]
        var emptyMap: [String: Int]
    }
    struct Sample: Encodable {
        var doubles: [Double]
        var float: Float
        var ints: [Int]
        var big: UInt64
        var flag: Bool
        var missing: String?
        var text: String
        var nested: [Inner]
        var byName: [String: Int]
        var deep: [[String: [Double]]]
    }

    static func foundation<T: Encodable>(_ v: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        enc.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try enc.encode(v), as: UTF8.self) + "\n"
    }

    @Test func matchesFoundationByteForByte() throws {
        let s = Sample(
            doubles: [0.1, 1e-7, 1e15, 1e16, 1e21, -0.0, 9_007_199_254_740_993.0, 123_456.789, 2.5, -3, 0.30000000000000004],
            float: 0.1, ints: [0, -1, Int.max, Int.min], big: UInt64.max, flag: true, missing: nil,
            text: "quote \" backslash \\ slash / tab \t newline \n nul \u{0} bell \u{7} é 東京 🚀",
            nested: [Inner(perGPUBytes: 1, urlString: "http://x/y", emptyList: [], emptyMap: [:])],
            byName: ["b": 2, "a": 1, "é": 3, "z_z": 4, "A": 5], deep: [["k": []], [:]])
        #expect(JSONWriter.encode(s) == (try Self.foundation(s)))
        #expect(JSONWriter.encode([Sample]()) == (try Self.foundation([Sample]())))
    }

    @Test func dictionaryKeysAreData() throws {
        let names = ["myJob": 1, "GPU-Node": 2]
        let text = JSONWriter.encode(names)
        #expect(text.contains("\"myJob\"") && text.contains("\"GPU-Node\""))
    }
}
