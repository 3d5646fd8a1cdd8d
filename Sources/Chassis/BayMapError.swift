/// A mistake in a chassis bay map, with the file and line where it is.
public struct BayMapError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file the map was read from, as the caller named it.
    public let file: String

    /// The line of the mistake, from 1.
    public let line: Int

    /// What is wrong and how to put it right.
    public let message: String

    /// Creates an error.
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String { "\(file):\(line): \(message)" }
}
