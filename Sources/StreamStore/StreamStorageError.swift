/// A store's refusal or failure, with what happened and what to do.
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

    /// Creates an error of `kind` that says `message`.
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// The stream does not exist.
    public static func unknownStream(_ name: StreamName) -> Self {
        Self(kind: .unknownStream, message: "there is no stream \(name) on this appliance")
    }

    /// Another appender holds the stream.
    public static func streamBusy(_ name: StreamName) -> Self {
        Self(
            kind: .streamBusy,
            message: "stream \(name) is being appended by another connection; wait for it to finish"
        )
    }

    /// A read asked for bytes beyond the stream's end.
    public static func outOfRange(_ name: StreamName, offset: UInt64, length: UInt64) -> Self {
        Self(kind: .outOfRange, message: "offset \(offset) is beyond the end of stream \(name) (\(length) bytes)")
    }

    /// The operating system refused an operation.
    public static func io(_ operation: String, path: String, error: any Error) -> Self {
        Self(kind: .io, message: "\(operation) \(path) failed: \(error)")
    }

    /// The configuration or keys are wrong.
    public static func configuration(_ message: String) -> Self { Self(kind: .configuration, message: message) }

    /// Bytes on a member are not what the store wrote.
    public static func corrupt(_ message: String) -> Self { Self(kind: .corrupt, message: message) }

    /// Too many members are missing or damaged.
    public static func unavailable(_ message: String) -> Self { Self(kind: .unavailable, message: message) }

    /// What happened and what to do.
    public var description: String { message }
}
