import DurableFiles
import ErasureCode
import SystemPackage

/// One segment's stripe for a rebuild, in memory reused from one segment to the next, laid out block by block: block
/// b of every shard side by side (a *block stripe* of k + m blocks), then block b + 1, and so on.
///
/// A rebuild reads block b of its k sources straight into block stripe b, checks their CRCs and reconstructs the
/// target's block b while the block stripe (k + m blocks, 704 KiB at 8 + 3) is still in the core's cache: checking
/// and reconstructing find the bytes the read just brought in, instead of a whole stripe fetched from memory again.
///
/// Each reader of a rebuild has its own.
final class RebuildStripe {
    let geometry: ArrayGeometry
    /// The block stripes, and 4 bytes more: a block is read with its CRC in one call, which spills the CRC there.
    private let buffer: UnsafeMutableRawBufferPointer
    /// The CRC32C of each block of the reconstructed shard, big-endian as in the file.
    var checksums: [UInt32]

    init(geometry: ArrayGeometry) {
        self.geometry = geometry
        buffer = .allocate(
            byteCount: geometry.blocksPerShard * geometry.shardsPerSegment * geometry.blockBytes + 4, alignment: 64)
        // Only the bytes a CRC may spill onto are read before anything is read into them (to be put back); they
        // alone are initialised, so the slots no segment needs are never touched beyond their first page.
        for slot in stride(from: 0, through: buffer.count - 4, by: geometry.blockBytes) {
            UnsafeMutableRawBufferPointer(rebasing: buffer[slot..<(slot + 4)]).initializeMemory(
                as: UInt8.self, repeating: 0)
        }
        checksums = [UInt32](repeating: 0, count: geometry.blocksPerShard)
    }

    deinit { buffer.deallocate() }

    /// Block stripe `block`: that block of every shard, as `ReedSolomon` takes a stripe.
    func blockStripe(_ block: Int) -> UnsafeMutableRawBufferPointer {
        let size = geometry.shardsPerSegment * geometry.blockBytes
        return UnsafeMutableRawBufferPointer(rebasing: buffer[(block * size)..<((block + 1) * size)])
    }

    /// Block `block` of shard `shard`, with the 4 bytes after it.
    fileprivate func blockWithSpill(_ block: Int, of shard: Int) -> UnsafeMutableRawBufferPointer {
        let from = (block * geometry.shardsPerSegment + shard) * geometry.blockBytes
        return UnsafeMutableRawBufferPointer(rebasing: buffer[from..<(from + geometry.blockBytes + 4)])
    }

    /// Block `block` of shard `shard`.
    func block(_ block: Int, of shard: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: blockWithSpill(block, of: shard).dropLast(4))
    }
}

/// A shard file open for a rebuild, its header checked as ``SegmentCodec/parseShard(_:arrayID:stream:segment:index:)``
/// checks it (checksum, the segment it claims to be, the array's geometry, the file's length); its blocks are read
/// and checked one at a time.
struct RebuildShardFile {
    let index: Int
    /// The header, with the shard index cleared: equal for every shard of one write of the segment.
    let segmentHeader: ShardHeader
    private let descriptor: FileDescriptor
    private let headerLength: Int
    private let geometry: ArrayGeometry

    /// Opens shard `index` of a segment; nil when it is missing, torn, or not that shard of this array.
    init?(_ path: FilePath, arrayID: [UInt8], stream: String, segment: UInt64, index: Int, geometry: ArrayGeometry) {
        guard let descriptor = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) else { return nil }
        guard let size = try? FileSystemCalls.size(of: descriptor), size <= UInt64(Int.max) else {
            try? descriptor.close()
            return nil
        }
        // The header's length varies with the stream's name; a whole shard file is the header and the body.
        let headerLength = Int(size) - geometry.shardBodyBytes
        var bytes = [UInt8](repeating: 0, count: max(0, min(headerLength, 1024)))
        guard headerLength > 0, headerLength <= 1024,
            bytes.withUnsafeMutableBytes({ Self.readFully(descriptor, at: 0, into: $0) }),
            let (header, decodedLength) = try? ShardHeader.decode(bytes), decodedLength == headerLength,
            header.arrayID == arrayID, header.stream == stream, header.segment == segment, header.shardIndex == index,
            header.dataShards == geometry.dataShards, header.parityShards == geometry.parityShards,
            header.shardBytes == geometry.shardBytes, header.blockBytes == geometry.blockBytes
        else {
            try? descriptor.close()
            return nil
        }
        var segmentHeader = header
        segmentHeader.shardIndex = 0
        self.index = index
        self.segmentHeader = segmentHeader
        self.descriptor = descriptor
        self.headerLength = headerLength
        self.geometry = geometry
    }

    func close() { try? descriptor.close() }

    /// Reads block `block` into its place in `stripe` and checks its CRC32C; false when it is short or damaged.
    ///
    /// The block and its CRC come in one call; the CRC spills onto the 4 bytes after the block's place (the next
    /// shard's block, or the stripe's slack), which are saved first and put back.
    func read(block: Int, into stripe: RebuildStripe) -> Bool {
        let blockBytes = geometry.blockBytes
        let place = stripe.blockWithSpill(block, of: index)
        var saved: UInt32 = 0
        withUnsafeMutableBytes(of: &saved) {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: place[blockBytes...]))
        }
        defer {
            withUnsafeBytes(of: saved) {
                UnsafeMutableRawBufferPointer(rebasing: place[blockBytes...]).copyMemory(from: $0)
            }
        }
        let offset = Int64(headerLength + block * (blockBytes + 4))
        guard Self.readFully(descriptor, at: offset, into: place) else { return false }
        let stored = place[blockBytes..<(blockBytes + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: place[..<blockBytes])) == stored
    }

    /// Reads and checks every block; true when the whole shard is intact.
    func readAll(into stripe: RebuildStripe) -> Bool {
        (0..<geometry.blocksPerShard).allSatisfy { read(block: $0, into: stripe) }
    }

    /// Fills `buffer` from `offset`; false on an error or when the file ends first.
    private static func readFully(
        _ descriptor: FileDescriptor, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer
    ) -> Bool {
        var done = 0
        while done < buffer.count {
            guard
                let count = try? descriptor.read(
                    fromAbsoluteOffset: offset + Int64(done),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...])),
                count > 0
            else { return false }
            done += count
        }
        return true
    }
}

extension ErasureCodedStore {
    /// Reconstructs shard `target` of a segment into `stripe` (its blocks, and their CRCs in `stripe.checksums`)
    /// from k other shards that agree on their header (a shard left from another write of the segment would not),
    /// reading no more of them than it needs. Returns the segment's header, or nil when the members that are present
    /// hold fewer than k such shards. `read` counts the shard files opened.
    ///
    /// Shards are tried in ascending order. A source whose block fails its CRC is dropped and the next shard with
    /// the same header takes its place from that block on: every block is reconstructed from k intact blocks.
    func reconstructShard(
        stream: String, segment: UInt64, target: Int, into stripe: RebuildStripe, read: inout Int
    ) -> ShardHeader? {
        let k = geometry.dataShards
        var candidates = (0..<geometry.shardsPerSegment).lazy.filter { $0 != target }.makeIterator()
        func open(_ index: Int) -> RebuildShardFile? {
            let member = placement.member(ofShard: index, segment: segment, stream: stream)
            guard let layout = layout(of: member) else { return nil }
            read += 1
            let path = layout.shard(stream, segment: segment)
            return RebuildShardFile(
                path, arrayID: arrayID, stream: stream, segment: segment, index: index, geometry: geometry)
        }
        // First k shards whose headers agree.
        var groups: [ShardHeader: [RebuildShardFile]] = [:]
        var sources: [RebuildShardFile] = []
        while sources.count < k, let index = candidates.next() {
            guard let file = open(index) else { continue }
            groups[file.segmentHeader, default: []].append(file)
            if groups[file.segmentHeader]!.count == k { sources = groups[file.segmentHeader]! }
        }
        for file in groups.values.joined() where !sources.contains(where: { $0.index == file.index }) { file.close() }
        defer { for file in sources { file.close() } }
        guard let header = sources.first?.segmentHeader else { return nil }
        let firstOthers = Array((0..<geometry.shardsPerSegment).lazy.filter { $0 != target }.prefix(k))
        for block in 0..<geometry.blocksPerShard {
            for slot in sources.indices {
                while !sources[slot].read(block: block, into: stripe) {
                    sources[slot].close()
                    // The next shard of the same write takes the damaged one's place.
                    var replacement: RebuildShardFile?
                    while replacement == nil, let index = candidates.next() {
                        guard let file = open(index) else { continue }
                        if file.segmentHeader == header { replacement = file } else { file.close() }
                    }
                    guard let replacement else {
                        sources.remove(at: slot)
                        return nil
                    }
                    sources[slot] = replacement
                }
            }
            let indices = sources.map(\.index).sorted()
            // With the first k other shards as sources ISA-L computes only the target; otherwise every shard but
            // the sources counts as missing and is computed.
            let missing =
                indices == firstOthers ? [target] : (0..<geometry.shardsPerSegment).filter { !indices.contains($0) }
            do {
                try codec.code.reconstruct(
                    shards: stripe.blockStripe(block), shardLength: geometry.blockBytes, missing: missing)
            } catch {
                return nil
            }
            stripe.checksums[block] = CRC32C.checksum(stripe.block(block, of: target)).bigEndian
        }
        return header
    }
}
