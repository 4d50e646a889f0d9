import Foundation
import ArgumentParser
import PlanModel

/// Parsing helpers whose errors name the flag, the value and what would be valid.
enum Args {
    static func size(_ text: String, flag: String) throws -> Int {
        guard let b = ByteSize.parse(text) else {
            throw PlanError.usage("invalid size '\(text)' for \(flag); expected \(ByteSize.validForms)")
        }
        return b.value
    }

    static func count(_ value: Int, flag: String, range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError(
                "invalid value \(value) for \(flag); expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    /// Parses an integer cell of an import file.
    static func int(_ text: String, column: String, label: String, path: String, range: ClosedRange<Int>) throws -> Int {
        guard let v = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
            throw PlanError(
                "\(path) \(label): invalid \(column) '\(text)'; expected a whole number from \(range.lowerBound) to \(range.upperBound); nothing was imported")
        }
        return v
    }
}
