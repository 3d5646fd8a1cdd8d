/// A store's refusal or failure, with what happened and what to do.
///
/// The shape every error of this project has: a kind that callers branch on, factory functions, the place it was
/// raised (`file`, `line`) for logs, and equality on what went wrong, never on where it was noticed.
public struct StreamStorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure, for callers that map it to a protocol error code.
    public enum Kind: Hashable, Sendable {
        /// The stream does not exist.
        case unknownStream
        /// Another appender holds the stream.
        case streamBusy
        /// A read asked for bytes beyond the stream's end.
        case outOfRange
        /// The operating system reported an error; the message carries it.
        case io
        /// The bytes on disk are not what the store wrote.
        case corrupt
        /// Too many members are missing or damaged to read or write safely.
        case unavailable
        /// The store's configuration or keys are wrong.
        case configuration
    }

    /// The kind of failure.
    public let kind: Kind
    private let message: String
    /// The source file that raised the error, for logs.
    public let file: String
    /// The source line that raised the error, for logs.
    public let line: Int
    /// The operating system's error number, when the failure is one it gave (`EIO`, `ENOSPC`, …) and the raiser
    /// kept it: a caller may tell a vanished disk from a full one. Not part of equality.
    public var systemErrorNumber: Int32?

    /// Creates an error of `kind` that says `message`.
    public init(kind: Kind, message: String, file: String = #fileID, line: Int = #line) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
    }

    /// Equality on what went wrong, not on where it was noticed.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(message)
    }

    /// The stream does not exist.
    public static func unknownStream(_ name: StreamName, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .unknownStream, message: "there is no stream \(name) on this appliance", file: file, line: line)
    }

    /// Another appender holds the stream.
    public static func streamBusy(_ name: StreamName, file: String = #fileID, line: Int = #line) -> Self {
        Self(
            kind: .streamBusy,
            message: "stream \(name) is being appended by another connection; wait for it to finish", file: file,
            line: line)
    }

    /// A read asked for bytes beyond the stream's end.
    public static func outOfRange(
        _ name: StreamName, offset: UInt64, length: UInt64, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(
            kind: .outOfRange, message: "offset \(offset) is beyond the end of stream \(name) (\(length) bytes)",
            file: file, line: line)
    }

    /// The operating system refused an operation.
    public static func io(
        _ operation: String, path: String, error: any Error, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(kind: .io, message: "\(operation) \(path) failed: \(error)", file: file, line: line)
    }

    /// The configuration or keys are wrong.
    public static func configuration(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .configuration, message: message, file: file, line: line)
    }

    /// Bytes on a member are not what the store wrote.
    public static func corrupt(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .corrupt, message: message, file: file, line: line)
    }

    /// Too many members are missing or damaged.
    public static func unavailable(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .unavailable, message: message, file: file, line: line)
    }

    /// What happened and what to do.
    public var description: String { message }
}
