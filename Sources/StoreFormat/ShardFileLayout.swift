import ErasureCode

/// Where things are in a shard file (format 2): the header at 0, zero-padded to 4 KiB; the shard's bytes from 4 KiB,
/// in one piece; then the CRC32C of each block, big-endian, zero-padded to the next 4 KiB.
///
/// Every region starts and ends on a 4 KiB boundary, so a shard goes to its disk with direct I/O straight from an
/// aligned stripe: the page-cache copy of every byte written was most of the receiver's CPU time (56 % in a
/// profile of `saatkond dev` ingesting). The padding must be zero; a reader treats anything else as damage, so no
/// byte of a shard file escapes verification.
package struct ShardFileLayout {
    /// The alignment of every region, and of the memory direct I/O writes from.
    package static let alignment = 4096

    package let geometry: ArrayGeometry

    package init(geometry: ArrayGeometry) {
        self.geometry = geometry
    }

    /// The header's region: the header, then zeros.
    package var headerRegionBytes: Int { Self.alignment }
    /// Where the shard's bytes start.
    package var bodyOffset: Int { headerRegionBytes }
    /// Where the block checksums start.
    package var checksumOffset: Int { bodyOffset + geometry.shardBytes }
    /// The block checksums' bytes, without their padding.
    package var checksumBytes: Int { geometry.blocksPerShard * 4 }
    /// The checksums' region: the checksums, then zeros.
    package var checksumRegionBytes: Int { (checksumBytes + Self.alignment - 1) / Self.alignment * Self.alignment }
    /// A whole shard file.
    package var fileBytes: Int { checksumOffset + checksumRegionBytes }
    /// Whether every region's offset and length, and every block's, suit direct I/O (multiples of 4 KiB): a rebuild
    /// writes a shard block by block.
    package var allowsDirectIO: Bool {
        geometry.shardBytes % Self.alignment == 0 && geometry.blockBytes % Self.alignment == 0
    }

    /// Calls `body` with the header region and the checksum region of a shard file, in memory aligned for direct
    /// I/O: `encodedHeader` and then zeros, and `checksums` (big-endian already) and then zeros.
    package func withRegions<Result>(
        encodedHeader: [UInt8], checksums: [UInt32],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        precondition(encodedHeader.count <= headerRegionBytes, "a shard header fits its region")
        precondition(checksums.count == geometry.blocksPerShard, "one checksum per block")
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: headerRegionBytes, alignment: Self.alignment)
        defer { header.deallocate() }
        let sums = UnsafeMutableRawBufferPointer.allocate(byteCount: checksumRegionBytes, alignment: Self.alignment)
        defer { sums.deallocate() }
        header.initializeMemory(as: UInt8.self, repeating: 0)
        sums.initializeMemory(as: UInt8.self, repeating: 0)
        encodedHeader.withUnsafeBytes { header.copyMemory(from: $0) }
        checksums.withUnsafeBytes { sums.copyMemory(from: $0) }
        return try body(UnsafeRawBufferPointer(header), UnsafeRawBufferPointer(sums))
    }

    /// The big-endian CRC32C of each block of `shard` (a shard's bytes).
    package func checksums(of shard: UnsafeRawBufferPointer) -> [UInt32] {
        (0..<geometry.blocksPerShard).map { block in
            let from = block * geometry.blockBytes
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: shard[from..<(from + geometry.blockBytes)]))
                .bigEndian
        }
    }

    /// The stored checksum of block `block`, from a checksum region (or a whole file at `checksumOffset`).
    package static func checksum(_ block: Int, in region: UnsafeRawBufferPointer) -> UInt32 {
        region[(block * 4)..<(block * 4 + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Whether every byte of `bytes` is zero.
    package static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.allSatisfy { $0 == 0 }
    }
}
