import HashChain
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// How far a send has come, for a progress line.
public struct SendProgress: Sendable {
    /// The stream's durable length when the send started; the input is appended after it.
    public var startLength: UInt64
    /// Input bytes handed to the connection.
    public var bytesSent: UInt64
    /// Input bytes the appliance acknowledged as durable.
    public var bytesAcknowledged: UInt64
    /// Connections made so far (more than one after a reconnection).
    public var connections: Int
}

/// The result of a completed send: everything in it is durable on the appliance.
public struct SendReport: Sendable {
    /// The stream's durable length before the input was appended.
    public var startLength: UInt64
    /// The stream's durable length now: `startLength` plus the input's size.
    public var durableLength: UInt64
    /// Whether every acknowledgement's head was checked against this sender's own hash chain. It is not when the
    /// send appended to a stream that ended inside a chunk: the chain's state there is not known to this sender.
    public var headsVerified: Bool
    /// Connections it took.
    public var connections: Int
    /// The appliance's signed receipt for the final length, when one was asked for.
    public var receipt: Receipt?
}

/// What the input is.
public enum SendMode: Sendable {
    /// New bytes for the end of the stream, wherever it is now.
    case append
    /// The stream's bytes from its first one: what the appliance already holds is skipped, after checking that it
    /// is identical (its hash chain must give the appliance's head), and the rest is appended. Running the same
    /// send again after any failure, or after the sender was killed, completes the stream exactly once.
    case resume
}

/// When a broken connection is tried again.
public struct RetryPolicy: Sendable {
    /// The first wait.
    public var initialDelay: Duration
    /// The longest wait; waits double up to it.
    public var maximumDelay: Duration
    /// How long to keep trying without progress before giving up.
    public var giveUpAfter: Duration

    /// Creates a policy.
    public init(
        initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(5),
        giveUpAfter: Duration = .seconds(120)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.giveUpAfter = giveUpAfter
    }
}

/// Pushes an input to the end of a stream and returns only once the appliance acknowledged all of it as durable.
///
/// A broken connection, a restarted appliance, a busy stream or failed storage are retried with exponential
/// backoff, for at most ``RetryPolicy/giveUpAfter`` without progress; each new
/// connection resumes from the appliance's durable length, sending again what it had not acknowledged. A refusal
/// (a bad name, a wrong certificate, an appliance that lost acknowledged data) ends the send at once.
public struct StreamSender: Sendable {
    /// Where to send.
    public var endpoint: ReplicationEndpoint
    /// Bytes per data frame.
    public var frameBytes: Int
    /// The most unacknowledged bytes kept for sending again: the sender's memory bound.
    public var windowBytes: Int
    /// When to retry.
    public var retry: RetryPolicy
    /// What the input is.
    public var mode: SendMode
    /// Whether to ask for a signed receipt once everything is durable.
    public var requestsReceipt: Bool
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool

    /// Creates a sender.
    public init(
        endpoint: ReplicationEndpoint, frameBytes: Int = 256 << 10, windowBytes: Int = 32 << 20,
        retry: RetryPolicy = RetryPolicy(), mode: SendMode = .append, requestsReceipt: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, threadPool: NIOThreadPool = .singleton
    ) {
        precondition(frameBytes > 0 && frameBytes <= ProtocolLimits.maximumDataBytes && windowBytes >= frameBytes)
        self.endpoint = endpoint
        self.frameBytes = frameBytes
        self.windowBytes = windowBytes
        self.retry = retry
        self.mode = mode
        self.requestsReceipt = requestsReceipt
        self.group = group
        self.threadPool = threadPool
    }

    /// Appends everything readable from `input` (a file, a pipe or standard input) to `stream`; with `growing`, the
    /// input is a file still being written, read up to its end as the writer says it is.
    public func send(
        stream: String, from input: SystemPackage.FileDescriptor, growing: GrowingFile? = nil,
        progress: @escaping @Sendable (SendProgress) -> Void = { _ in }
    ) async throws -> SendReport {
        let ledger = NIOLockedValueBox(SendLedger())
        let reader = InputReader(
            input: input, frameBytes: frameBytes, threadPool: threadPool, eventLoop: group.next(), growing: growing)
        let start = ContinuousClock.now
        var retries = SendRetry(policy: retry, startedAt: .zero)
        while true {
            let connectionNumber = retries.connecting()
            do {
                let receipt = try await SendConnection(
                    sender: self, stream: stream, ledger: ledger, reader: reader, progress: progress,
                    connectionNumber: connectionNumber
                ).run()
                let state = ledger.withLockedValue { $0.snapshot }
                return SendReport(
                    startLength: state.startLength, durableLength: state.acknowledged,
                    headsVerified: state.verifiesHeads, connections: connectionNumber, receipt: receipt)
            } catch let error as ReplicationError {
                let acknowledged = ledger.withLockedValue { $0.acknowledged }
                switch retries.failed(error, acknowledged: acknowledged, at: start.duration(to: .now)) {
                case .retry(let wait): try await Task.sleep(for: wait)
                case .giveUp(let final): throw final
                }
            }
        }
    }

    func open() async throws -> (NIOAsyncChannel<Frame, Frame>, ConnectionDiagnostics) {
        try await ClientConnection.open(endpoint, group: group)
    }
}

extension ReplicationError {
    /// Broken connections, a shutting-down appliance, a stream still held by the previous connection, an appliance
    /// with all its places for open streams taken, and storage that failed (a full or failing disk, which a
    /// technician may replace while the sender waits) pass; a refusal or a broken promise does not.
    var isWorthRetrying: Bool {
        switch kind {
        case .connection: return true
        case .refused:
            return code == .shuttingDown || code == .streamBusy || code == .applianceBusy || code == .storageFailure
        case .certificate, .configuration, .protocolViolation, .localIO: return false
        }
    }
}
