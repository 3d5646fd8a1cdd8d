import HashChain

/// What a listing says of one stream: its durable length and head, and when it was last appended to.
public struct StreamSummary: Hashable, Sendable {
    /// The stream.
    public var name: StreamName
    /// The stream's durable length, as a reader opened now sees it; 0 when ``isReadable`` is false.
    public var length: UInt64
    /// The stream's hash-chain head at ``length``; ``ChainHead/empty`` when ``isReadable`` is false.
    public var head: ChainHead
    /// When the stream was last appended to, in milliseconds since 1970 (UTC): the newest modification time among
    /// its directories and its newest files on the members. A clock of the appliance's filesystem, not a promise.
    public var lastAppendMilliseconds: UInt64
    /// Whether the stream could be opened for reading. A stream the store cannot open (too many members missing or
    /// damaged) is still listed, so that a listing never hides a stream, with this false.
    public var isReadable: Bool

    /// Creates a summary.
    public init(
        name: StreamName, length: UInt64, head: ChainHead, lastAppendMilliseconds: UInt64, isReadable: Bool = true
    ) {
        self.name = name
        self.length = length
        self.head = head
        self.lastAppendMilliseconds = lastAppendMilliseconds
        self.isReadable = isReadable
    }
}
