import HashChain
import StreamStore

/// The shape of an array: how many members, and how each segment is split across them.
public struct ArrayGeometry: Sendable, Hashable {
    /// Data shards per segment (k).
    public let dataShards: Int
    /// Parity shards per segment (m): the number of members whose loss the array survives.
    public let parityShards: Int
    /// Member disks in the array (N ≥ k + m).
    public let memberCount: Int
    /// Bytes of each shard of a segment.
    public let shardBytes: Int
    /// Bytes of each checksummed block of a shard.
    public let blockBytes: Int

    /// The default for a 12-bay chassis: 8 + 3 over 11 members, 1 MiB shards in 64 KiB blocks.
    public static let twelveBay = try! ArrayGeometry(dataShards: 8, parityShards: 3, memberCount: 11)

    /// Validates a geometry. A segment (k × shard bytes) must be a whole number of hash-chain chunks, so that every
    /// segment ends on a chunk boundary and the chain can resume from a segment's recorded head.
    public init(
        dataShards: Int, parityShards: Int, memberCount: Int, shardBytes: Int = 1 << 20, blockBytes: Int = 64 << 10
    ) throws(StreamStorageError) {
        guard dataShards >= 1, parityShards >= 1, dataShards + parityShards <= memberCount, memberCount <= 255 else {
            throw .configuration(
                "k=\(dataShards), m=\(parityShards) over \(memberCount) members: k ≥ 1, m ≥ 1 and k + m ≤ N ≤ 255")
        }
        // A member label's fields come here too: a shard of no bytes would make every offset a division by zero.
        guard blockBytes >= 512, shardBytes >= blockBytes, shardBytes % blockBytes == 0 else {
            throw .configuration("a shard of \(shardBytes) bytes is not a whole number of \(blockBytes)-byte blocks")
        }
        guard (dataShards * shardBytes) % StreamHashChain.chunkBytes == 0 else {
            throw .configuration(
                "a segment of \(dataShards) × \(shardBytes) bytes is not a whole number of 1 MiB hash-chain chunks")
        }
        self.dataShards = dataShards
        self.parityShards = parityShards
        self.memberCount = memberCount
        self.shardBytes = shardBytes
        self.blockBytes = blockBytes
    }

    /// Plaintext bytes per segment.
    public var segmentBytes: Int { dataShards * shardBytes }

    /// Shards per segment.
    public var shardsPerSegment: Int { dataShards + parityShards }

    /// Blocks per shard.
    package var blocksPerShard: Int { shardBytes / blockBytes }

    /// Bytes of a whole shard file (``ShardFileLayout``).
    package var shardFileBytes: Int { ShardFileLayout(geometry: self).fileBytes }
}
