import HashChain
import NIOCore
import StreamStore

/// One message of the replication protocol, in either direction.
///
/// On the wire every frame is `length: UInt32` (big-endian, counts the type byte and the payload),
/// `type: UInt8`, payload. All integers are big-endian. `docs/replication-protocol.md` specifies each layout.
public enum Frame: Hashable, Sendable {
    /// Client → appliance, first frame: which stream, and whether to append to it or read it.
    case hello(Hello)
    /// Appliance → client: the stream's durable length (append) or its length (read), and its head there.
    case ready(length: UInt64, head: ChainHead)
    /// Bytes of the stream at an explicit offset: client → appliance when appending, the reverse when reading.
    case data(offset: UInt64, bytes: ByteBuffer)
    /// Client → appliance: make everything sent so far durable and acknowledge it now.
    case sync
    /// Appliance → client: everything below `durableLength` survives a power cut; `head` is the stream's hash-chain
    /// head there.
    case acknowledgement(durableLength: UInt64, head: ChainHead)
    /// Either direction: the sender refuses to go on; the connection closes after it.
    case error(ErrorFrame)
    /// Client → appliance when reading: send `length` bytes from `offset`.
    case readRange(offset: UInt64, length: UInt64)
    /// Appliance → client when reading: the range is complete and ends at `offset`.
    case end(offset: UInt64)
    /// Client → appliance when appending: sign a receipt for what is durable now.
    case receiptRequest
    /// Appliance → client: the signed receipt.
    case receipt(Receipt)
    /// Appliance → client when listing: the next 1 to ``ProtocolLimits/maximumListingEntries`` streams, in name
    /// order; an `end` carrying the number of streams listed follows the last.
    case listing([StreamSummary])
}

/// What a client asks for when it connects.
public struct Hello: Hashable, Sendable {
    /// Whether the client appends, reads or lists.
    public enum Intent: UInt8, Hashable, Sendable {
        /// Push bytes to the end of the stream.
        case append = 1
        /// Read a range of the stream back.
        case read = 2
        /// List the streams the client may read whose names the prefix in ``Hello/stream`` covers (all when empty).
        case list = 3
    }

    /// The protocol version the client speaks.
    public var version: UInt16
    /// Append, read or list.
    public var intent: Intent
    /// The stream's name as sent, or the prefix to list; the appliance validates it.
    public var stream: String

    /// Creates a hello for the current protocol version.
    public init(version: UInt16 = ProtocolLimits.version, intent: Intent, stream: String) {
        self.version = version
        self.intent = intent
        self.stream = stream
    }
}

/// A refusal carried on the wire: a machine-readable code and a sentence for the operator.
public struct ErrorFrame: Hashable, Sendable, CustomStringConvertible {
    /// The reason, as a code a client can act on.
    public var code: ProtocolErrorCode
    /// What happened and what to do, for a person.
    public var message: String

    /// Creates an error frame.
    public init(code: ProtocolErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    /// The message with its code's name.
    public var description: String { "\(code): \(message)" }
}

/// Why a peer refused to go on. Unknown codes from a newer peer are kept, not rejected.
public struct ProtocolErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as sent.
    public var rawValue: UInt16

    /// Wraps a code as sent.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A frame could not be parsed, or is larger than the limit.
    public static let malformedFrame = Self(rawValue: 1)
    /// The hello named a protocol version this end does not speak.
    public static let unsupportedVersion = Self(rawValue: 2)
    /// The stream name breaks the naming rules.
    public static let invalidStreamName = Self(rawValue: 3)
    /// The stream to read does not exist.
    public static let unknownStream = Self(rawValue: 4)
    /// Data arrived at an offset other than the next expected one.
    public static let wrongOffset = Self(rawValue: 5)
    /// Another connection is appending to the stream.
    public static let streamBusy = Self(rawValue: 6)
    /// The appliance could not store or read the bytes.
    public static let storageFailure = Self(rawValue: 7)
    /// A frame that is valid but not allowed in the session's current state.
    public static let unexpectedFrame = Self(rawValue: 8)
    /// The appliance is shutting down; reconnect later.
    public static let shuttingDown = Self(rawValue: 9)
    /// A read range lies outside the stream.
    public static let outOfRange = Self(rawValue: 10)
    /// The client's certificate does not grant the operation on the stream.
    public static let notAuthorized = Self(rawValue: 11)
    /// The client took too long: to send its hello, or to complete a frame.
    public static let timedOut = Self(rawValue: 12)
    /// The appliance holds as many streams open for append as it allows, in total or for this identity; retry later.
    public static let applianceBusy = Self(rawValue: 13)
    /// The client asked for receipts faster than the appliance signs them for one connection.
    public static let rateLimited = Self(rawValue: 14)
    /// The client's certificate is on home's deny list (revoked); a new certificate is needed, not a retry.
    public static let certificateRevoked = Self(rawValue: 20)

    private static let names: [UInt16: String] = [
        1: "malformed-frame", 2: "unsupported-version", 3: "invalid-stream-name", 4: "unknown-stream",
        5: "wrong-offset", 6: "stream-busy", 7: "storage-failure", 8: "unexpected-frame", 9: "shutting-down",
        10: "out-of-range", 11: "not-authorized", 12: "timed-out", 13: "appliance-busy", 14: "rate-limited",
        20: "certificate-revoked",
    ]

    /// The code's name, or its number when this end does not know it.
    public var description: String { Self.names[rawValue] ?? "error-\(rawValue)" }
}

/// The protocol's fixed numbers.
public enum ProtocolLimits {
    /// The protocol version this build speaks.
    public static let version: UInt16 = 1
    /// The most stream bytes one data frame carries.
    public static let maximumDataBytes = 1 << 20
    /// The largest frame body (type byte and payload) accepted; anything larger is refused before it is buffered.
    public static let maximumBodyLength = maximumDataBytes + 1 + 8
    /// The largest frame body the appliance accepts from a client whose stream is not open for append: a hello,
    /// a read range or an error frame is far smaller, and a client that is not appending cannot make the appliance
    /// buffer a megabyte-long frame.
    public static let maximumControlBodyLength = 2048
    /// The longest error message sent or accepted, in bytes.
    public static let maximumMessageBytes = 1024
    /// The most streams one listing frame carries: at most 251 bytes each, so a frame stays near 64 KiB, far below
    /// ``maximumBodyLength``, and a page of them is what the appliance holds for a listing at a time.
    public static let maximumListingEntries = 256
}
