/// A problem the user can act on, as one full sentence that names the bad value.
public struct StoreError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
