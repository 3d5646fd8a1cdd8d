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

    package static func configuration(_ message: String) -> Self {
        Self(kind: .configuration, code: nil, description: message)
    }
    package static func connection(_ message: String) -> Self {
        Self(kind: .connection, code: nil, description: message)
    }
    package static func certificate(_ message: String) -> Self {
        Self(kind: .certificate, code: nil, description: message)
    }
    package static func refused(_ error: ErrorFrame) -> Self {
        Self(kind: .refused, code: error.code, description: "the appliance refused: \(error.message) (\(error.code))")
    }
    package static func protocolViolation(_ message: String) -> Self {
        Self(kind: .protocolViolation, code: nil, description: "the peer broke the replication protocol: \(message)")
    }
    package static func localIO(_ message: String) -> Self { Self(kind: .localIO, code: nil, description: message) }
}
