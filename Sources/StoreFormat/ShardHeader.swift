import ErasureCode
import HashChain

/// The self-describing header at the start of every shard file.
///
/// The segment part (everything but the shard index and the checksum) is the same in all shards of a segment; it is
/// the additional data of the segment's AEAD and is bound into its wrapped key, so a reader with the key detects any
/// change to it, a shard from another segment, stream or array. The checksum lets scrub and rebuild, which hold no
/// key, detect torn and damaged headers.
package struct ShardHeader: Hashable {
    /// Format 2: the aligned file layout of ``ShardFileLayout``; format 1 interleaved blocks and their CRCs.
    package static let magic = Array("SKSHARD2".utf8)

    package var arrayID: [UInt8]
    package var stream: String
    package var segment: UInt64
    package var shardIndex: Int
    package var dataShards: Int
    package var parityShards: Int
    package var shardBytes: Int
    package var blockBytes: Int
    /// The stream offset of the segment's first byte.
    package var streamOffset: UInt64
    /// The hash-chain head after the segment's last byte.
    package var chainHead: ChainHead
    /// The HPKE encapsulated key (32 bytes) and the wrapped data key (48 bytes).
    package var encapsulatedKey: [UInt8]
    package var wrappedKey: [UInt8]
    /// The AES-256-GCM tag of the segment's ciphertext.
    package var dataTag: [UInt8]

    package init(
        arrayID: [UInt8], stream: String, segment: UInt64, shardIndex: Int, dataShards: Int, parityShards: Int,
        shardBytes: Int, blockBytes: Int, streamOffset: UInt64, chainHead: ChainHead, encapsulatedKey: [UInt8],
        wrappedKey: [UInt8], dataTag: [UInt8]
    ) {
        self.arrayID = arrayID
        self.stream = stream
        self.segment = segment
        self.shardIndex = shardIndex
        self.dataShards = dataShards
        self.parityShards = parityShards
        self.shardBytes = shardBytes
        self.blockBytes = blockBytes
        self.streamOffset = streamOffset
        self.chainHead = chainHead
        self.encapsulatedKey = encapsulatedKey
        self.wrappedKey = wrappedKey
        self.dataTag = dataTag
    }

    /// The fields shared by all shards of the segment, as authenticated data.
    package var segmentDescription: [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.write(arrayID)
        writer.write(stream)
        writer.write(segment)
        writer.write(UInt8(dataShards))
        writer.write(UInt8(parityShards))
        writer.write(UInt32(shardBytes))
        writer.write(UInt32(blockBytes))
        writer.write(streamOffset)
        writer.write(chainHead.bytes)
        return writer.bytes
    }

    package func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 512)
        writer.write(segmentDescription)
        writer.write(UInt8(shardIndex))
        writer.write(encapsulatedKey)
        writer.write(wrappedKey)
        writer.write(dataTag)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Parses a header from the start of `bytes`; returns it and its length.
    package static func decode(_ bytes: [UInt8]) throws(FormatError) -> (ShardHeader, Int) {
        var reader = ByteReader(bytes)
        guard try reader.read(count: 8) == magic else { throw FormatError("not a Saatkond shard") }
        let arrayID = try reader.read(count: 16)
        let stream = try reader.readString()
        let segment: UInt64 = try reader.read()
        let dataShards = Int(try reader.read(UInt8.self))
        let parityShards = Int(try reader.read(UInt8.self))
        let shardBytes = Int(try reader.read(UInt32.self))
        let blockBytes = Int(try reader.read(UInt32.self))
        let streamOffset: UInt64 = try reader.read()
        let chainHead = ChainHead(try reader.read(count: 32))!  // 32 bytes read.
        let shardIndex = Int(try reader.read(UInt8.self))
        let encapsulatedKey = try reader.read(count: 32)
        let wrappedKey = try reader.read(count: 48)
        let dataTag = try reader.read(count: 16)
        let headerLength = reader.position
        let checksum: UInt32 = try reader.read()
        guard CRC32C.checksum(Array(bytes[..<headerLength])) == checksum else {
            throw FormatError("the shard header is damaged")
        }
        let header = ShardHeader(
            arrayID: arrayID, stream: stream, segment: segment, shardIndex: shardIndex, dataShards: dataShards,
            parityShards: parityShards, shardBytes: shardBytes, blockBytes: blockBytes, streamOffset: streamOffset,
            chainHead: chainHead, encapsulatedKey: encapsulatedKey, wrappedKey: wrappedKey, dataTag: dataTag)
        return (header, reader.position)
    }
}
