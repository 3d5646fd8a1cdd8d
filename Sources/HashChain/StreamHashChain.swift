import CryptoPrimitives

/// The hash chain over a stream's plaintext that a sender can compute too, so that the appliance's head hash
/// proves it holds exactly the bytes that were sent. Specified in `docs/hash-chain.md`:
///
///     head(0)         = 32 zero bytes
///     head(after c)   = SHA-256(head(before c) ‖ c)   for each chunk c of 1 MiB, the last one possibly partial
///
/// so the head at any length L is defined, and the head at a multiple of 1 MiB does not depend on how the bytes
/// were split into appends.
public struct StreamHashChain {
    /// The chunk size of the chain.
    public static let chunkBytes = 1 << 20

    /// Bytes covered so far.
    public private(set) var length: UInt64
    /// The head after the last complete chunk.
    public private(set) var chunkBoundaryHead: ChainHead
    private var partial: SHA256Hasher?
    private var partialBytes = 0

    /// A chain over nothing.
    public init() {
        self.init(boundaryLength: 0, boundaryHead: .empty)
    }

    /// A chain resumed at a chunk boundary, from a head recorded there.
    public init(boundaryLength: UInt64, boundaryHead: ChainHead) {
        precondition(boundaryLength % UInt64(Self.chunkBytes) == 0, "a chain resumes only at a chunk boundary")
        length = boundaryLength
        chunkBoundaryHead = boundaryHead
    }

    /// The head at ``length``.
    public var head: ChainHead {
        guard let partial else { return chunkBoundaryHead }
        return ChainHead(unchecked: partial.copy().finalize())
    }

    /// Extends the chain by `bytes`.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var remaining = bytes
        while !remaining.isEmpty {
            let hasher: SHA256Hasher
            if let partial {
                hasher = partial
            } else {
                hasher = SHA256Hasher()
                hasher.update(chunkBoundaryHead.bytes)
                partial = hasher
            }
            let take = min(remaining.count, Self.chunkBytes - partialBytes)
            hasher.update(UnsafeRawBufferPointer(rebasing: remaining[..<take]))
            partialBytes += take
            length += UInt64(take)
            remaining = UnsafeRawBufferPointer(rebasing: remaining[take...])
            if partialBytes == Self.chunkBytes {
                chunkBoundaryHead = ChainHead(unchecked: hasher.finalize())
                partial = nil
                partialBytes = 0
            }
        }
    }

    /// Extends the chain by `bytes`.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The head after each of `bytes`' chunks of a whole stream, computed without any state: the reference the
    /// tests hold the incremental chain to.
    public static func head(of bytes: [UInt8]) -> ChainHead {
        var head = ChainHead.empty.bytes
        var start = 0
        while start < bytes.count {
            let end = min(start + chunkBytes, bytes.count)
            head = SHA256.hash(head + bytes[start..<end])
            start = end
        }
        return ChainHead(unchecked: head)
    }
}
