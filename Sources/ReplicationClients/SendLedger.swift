import HashChain
import NIOCore
import ReplicationProtocol
import ReplicationTransport

/// What a sender has sent and what the appliance has acknowledged, across reconnections.
///
/// Bytes are read from the input once; until the appliance acknowledges them they are kept here (at most
/// `windowBytes`, which is the sender's memory bound), so that after a broken connection they can be sent again from
/// wherever the appliance's durable length says. The sender's own hash chain gives the head expected at the end of
/// each frame, and every acknowledgement's head is checked against it.
///
/// `@unchecked Sendable`: the hash chain inside holds a reference to an OpenSSL context, so copies would share it.
/// The ledger lives in one `NIOLockedValueBox` and is only read or changed inside its lock; what leaves the lock is
/// a ``Snapshot`` of plain numbers.
struct SendLedger: @unchecked Sendable {
    /// The numbers of a ledger, for use outside its lock.
    struct Snapshot: Sendable {
        var startLength: UInt64
        var acknowledged: UInt64
        var sentEnd: UInt64
        var verifiesHeads: Bool
    }

    var snapshot: Snapshot {
        Snapshot(
            startLength: startLength ?? 0, acknowledged: acknowledged, sentEnd: sentEnd, verifiesHeads: verifiesHeads)
    }

    private(set) var startLength: UInt64?
    private(set) var acknowledged: UInt64 = 0
    private(set) var sentEnd: UInt64 = 0
    private(set) var inputFinished = false
    private(set) var retained: [(offset: UInt64, bytes: ByteBuffer)] = []
    private(set) var retainedBytes = 0
    private var chain: StreamHashChain?
    private var expectedHeads: [UInt64: ChainHead] = [:]
    private(set) var headsVerified = 0

    /// Whether heads can be checked: the sender knows the chain only from the stream's start or a chunk boundary.
    var verifiesHeads: Bool { chain != nil }

    /// The first ready of the first connection: the input is appended at `length`.
    mutating func start(at length: UInt64, head: ChainHead) {
        precondition(startLength == nil, "the ledger starts once")
        startLength = length
        acknowledged = length
        sentEnd = length
        if length == 0 {
            chain = StreamHashChain()
        } else if length % UInt64(StreamHashChain.chunkBytes) == 0 {
            chain = StreamHashChain(boundaryLength: length, boundaryHead: head)
        }
        expectedHeads[length] = head
    }

    /// The first ready of a send whose input is the whole stream: the first `length` bytes of the input were found
    /// identical to the stream's (their chain gives the appliance's head), and the input continues at `length`.
    mutating func startResumed(at length: UInt64, chain: StreamHashChain) {
        precondition(startLength == nil, "the ledger starts once")
        startLength = length
        acknowledged = length
        sentEnd = length
        self.chain = chain
        expectedHeads[length] = chain.head
    }

    /// A later connection's ready: where the appliance's durable stream ends now. Returns the frames to send again.
    mutating func resume(at length: UInt64, head: ChainHead) throws(ReplicationError) -> [(UInt64, ByteBuffer)] {
        guard length >= acknowledged else {
            // A broken promise, not a failure to wait out: never retried.
            throw .protocolViolation(
                "the appliance now reports \(length) durable bytes after acknowledging \(acknowledged): it lost "
                    + "acknowledged data; raise an alarm")
        }
        guard length <= sentEnd else {
            throw .protocolViolation("the appliance holds \(length) bytes but only \(sentEnd) were sent")
        }
        if let expected = expectedHeads[length], expected != head {
            throw .protocolViolation("at \(length) the appliance's head is \(head), this sender's \(expected)")
        }
        acknowledge(upTo: length)
        return retained.map { frame in
            guard frame.offset < length else { return (frame.offset, frame.bytes) }
            let skip = Int(length - frame.offset)
            return (
                length,
                frame.bytes.getSlice(at: frame.bytes.readerIndex + skip, length: frame.bytes.readableBytes - skip)!
            )
        }
    }

    /// A frame read from the input is about to be sent.
    mutating func sending(_ bytes: ByteBuffer) -> UInt64 {
        let offset = sentEnd
        retained.append((offset, bytes))
        retainedBytes += bytes.readableBytes
        sentEnd += UInt64(bytes.readableBytes)
        if chain != nil {
            bytes.withUnsafeReadableBytes { chain!.append($0) }
            expectedHeads[sentEnd] = chain!.head
        }
        return offset
    }

    /// The input has ended.
    mutating func finishInput() {
        inputFinished = true
    }

    /// An acknowledgement arrived; checks it against what was sent and what this sender computed.
    mutating func acknowledgement(_ length: UInt64, head: ChainHead) throws(ReplicationError) {
        guard length >= acknowledged, length <= sentEnd else {
            throw .protocolViolation("acknowledged \(length) bytes, outside \(acknowledged)…\(sentEnd)")
        }
        if let expected = expectedHeads[length] {
            guard expected == head else {
                throw .protocolViolation(
                    "the appliance's head at \(length) is \(head) but this sender computed \(expected): the stored "
                        + "bytes differ from the sent ones")
            }
            headsVerified += 1
        }
        acknowledge(upTo: length)
    }

    /// The head this sender computed for `length`, when it knows it.
    func expectedHead(at length: UInt64) -> ChainHead? {
        expectedHeads[length]
    }

    /// Whether everything the input held is acknowledged.
    var isComplete: Bool { inputFinished && acknowledged == sentEnd }

    private mutating func acknowledge(upTo length: UInt64) {
        acknowledged = length
        while let first = retained.first, first.offset + UInt64(first.bytes.readableBytes) <= length {
            retained.removeFirst()
            retainedBytes -= first.bytes.readableBytes
        }
        expectedHeads = expectedHeads.filter { $0.key >= length }
    }
}
