import ReplicationProtocol

/// A failure of a replication client or server, saying what happened and what to do.
public struct ReplicationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of failure, for callers that choose an exit status or a retry.
    public enum Kind: Hashable, Sendable {
        /// Files or options are wrong; retrying does not help.
        case configuration
        /// The appliance could not be reached or the connection broke; retrying may help.
        case connection
        /// The TLS handshake failed on a certificate; retrying does not help, fixing the certificates does.
        case certificate
        /// The appliance refused the request with a protocol error.
        case refused
        /// The peer broke the protocol.
        case protocolViolation
        /// A local file could not be read or written.
        case localIO
    }

    /// The kind of failure.
    public let kind: Kind
    /// The appliance's error code, when it refused.
    public let code: ProtocolErrorCode?
    /// What happened and what to do.
    public let description: String
    /// The source file that raised the error, for logs.
    public let file: String
    /// The source line that raised the error, for logs.
    public let line: Int

    init(kind: Kind, code: ProtocolErrorCode?, description: String, file: String, line: Int) {
        self.kind = kind
        self.code = code
        self.description = description
        self.file = file
        self.line = line
    }

    /// Equality on what went wrong, not on where it was noticed.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.code == rhs.code && lhs.description == rhs.description
    }

    package static func configuration(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .configuration, code: nil, description: message, file: file, line: line)
    }
    package static func connection(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .connection, code: nil, description: message, file: file, line: line)
    }
    package static func certificate(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .certificate, code: nil, description: message, file: file, line: line)
    }
    package static func refused(_ error: ErrorFrame, file: String = #fileID, line: Int = #line) -> Self {
        Self(
            kind: .refused, code: error.code, description: "the appliance refused: \(error.message) (\(error.code))",
            file: file, line: line)
    }
    package static func protocolViolation(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(
            kind: .protocolViolation, code: nil, description: "the peer broke the replication protocol: \(message)",
            file: file, line: line)
    }
    package static func localIO(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(kind: .localIO, code: nil, description: message, file: file, line: line)
    }
}
