import ArgumentParser
import Inventory
import PlanCore
import PlanModel
import Reports

/// A user-facing error of the command layer: one sentence naming the bad value and what is valid.
public struct PlanError: Error, CustomStringConvertible {
    public var message: String
    /// 1 for runtime problems, 64 for bad usage.
    public var exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public static func usage(_ message: String) -> PlanError { PlanError(message, exitCode: 64) }

    public var description: String { message }
}

/// Exit codes are part of the interface.
public enum ExitCode {
    public static let ok: Int32 = 0
    public static let failure: Int32 = 1
    /// The command computed its result, but some jobs could not be placed (`plan place --strict`).
    public static let unplaced: Int32 = 3
    public static let usage: Int32 = 64
}

/// Maps any error to one line of text and an exit code.
func describe(_ error: Error) -> (String, Int32) {
    switch error {
    case let e as PlanError: return (e.message, e.exitCode)
    case let e as StoreError: return (e.message, ExitCode.failure)
    case let e as CoreError: return (e.description, ExitCode.failure)
    case let e as ConfigError: return (e.message, ExitCode.failure)
    case let e as RowError: return (e.message, ExitCode.failure)
    case let e as ValidationError: return (e.message, ExitCode.usage)
    default: return ("\(error)", ExitCode.failure)
    }
}
