import DurableFiles
import ErasureCode
import StoreFormat
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
    /// The block stripes.
    private let buffer: UnsafeMutableRawBufferPointer
    /// The CRC32C of each block of the reconstructed shard, big-endian as in the file.
    var checksums: [UInt32]

    init(geometry: ArrayGeometry) {
        self.geometry = geometry
        // Never initialised as a whole: every byte is read into before it is used, so the slots no segment needs are
        // never touched.
        buffer = .allocate(
            byteCount: geometry.blocksPerShard * geometry.shardsPerSegment * geometry.blockBytes,
            alignment: ShardFileLayout.alignment)
        checksums = [UInt32](repeating: 0, count: geometry.blocksPerShard)
    }

    deinit { buffer.deallocate() }

    /// Block stripe `block`: that block of every shard, as `ReedSolomon` takes a stripe.
    func blockStripe(_ block: Int) -> UnsafeMutableRawBufferPointer {
        let size = geometry.shardsPerSegment * geometry.blockBytes
        return UnsafeMutableRawBufferPointer(rebasing: buffer[(block * size)..<((block + 1) * size)])
    }

    /// Block `block` of shard `shard`, to read into.
    fileprivate func mutableBlock(_ block: Int, of shard: Int) -> UnsafeMutableRawBufferPointer {
        let from = (block * geometry.shardsPerSegment + shard) * geometry.blockBytes
        return UnsafeMutableRawBufferPointer(rebasing: buffer[from..<(from + geometry.blockBytes)])
    }

    /// Block `block` of shard `shard`.
    func block(_ block: Int, of shard: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(mutableBlock(block, of: shard))
    }
}

/// A shard file open for a rebuild, its header and padding checked as
/// ``SegmentCodec/parseShard(_:arrayID:stream:segment:index:)`` checks them (checksum, the segment it claims to be,
/// the array's geometry, the file's length); its blocks are read and checked against its checksums one at a time.
struct RebuildShardFile {
    let index: Int
    /// The header, with the shard index cleared: equal for every shard of one write of the segment.
    let segmentHeader: ShardHeader
    private let descriptor: FileDescriptor
    private let layout: ShardFileLayout
    /// The checksum region.
    private let checksums: [UInt8]
    /// Told of each error the system gives a read (for ``MemberError``).
    private let failed: (any Error) -> Void

    /// Opens shard `index` of a segment; nil when it is missing, torn, not that shard of this array, or cannot be
    /// read: to a rebuild, which holds no key, a shard it cannot read is a shard lost, and the next one is read in
    /// its place (a rebuild never writes to the members it reads). `failed` is told of each error the system gives.
    init?(
        _ path: FilePath, arrayID: [UInt8], stream: String, segment: UInt64, index: Int, geometry: ArrayGeometry,
        failed: @escaping (any Error) -> Void = { _ in }
    ) {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
        } catch {
            failed(error)
            return nil
        }
        guard let size = try? FileSystemCalls.size(of: descriptor), size <= UInt64(Int.max) else {
            FileSystemCalls.release(descriptor)
            return nil
        }
        let layout = ShardFileLayout(geometry: geometry)
        var header = [UInt8](repeating: 0, count: layout.headerRegionBytes)
        var checksums = [UInt8](repeating: 0, count: layout.checksumRegionBytes)
        guard size == UInt64(layout.fileBytes),
            header.withUnsafeMutableBytes({ Self.readFully(descriptor, at: 0, into: $0, failed: failed) }),
            checksums.withUnsafeMutableBytes({
                Self.readFully(descriptor, at: Int64(layout.checksumOffset), into: $0, failed: failed)
            }),
            let (decoded, headerLength) = try? ShardHeader.decode(header),
            header[headerLength...].allSatisfy({ $0 == 0 }), checksums[layout.checksumBytes...].allSatisfy({ $0 == 0 }),
            decoded.arrayID == arrayID, decoded.stream == stream, decoded.segment == segment,
            decoded.shardIndex == index, decoded.dataShards == geometry.dataShards,
            decoded.parityShards == geometry.parityShards, decoded.shardBytes == geometry.shardBytes,
            decoded.blockBytes == geometry.blockBytes
        else {
            FileSystemCalls.release(descriptor)
            return nil
        }
        var segmentHeader = decoded
        segmentHeader.shardIndex = 0
        self.index = index
        self.segmentHeader = segmentHeader
        self.descriptor = descriptor
        self.layout = layout
        self.checksums = checksums
        self.failed = failed
    }

    func close() { FileSystemCalls.release(descriptor) }

    /// Reads block `block` into its place in `stripe` and checks its CRC32C; false when it is short or damaged.
    func read(block: Int, into stripe: RebuildStripe) -> Bool {
        let place = stripe.mutableBlock(block, of: index)
        let offset = Int64(layout.bodyOffset + block * layout.geometry.blockBytes)
        guard Self.readFully(descriptor, at: offset, into: place, failed: failed) else { return false }
        let stored = checksums.withUnsafeBytes { ShardFileLayout.checksum(block, in: $0) }
        return CRC32C.checksum(UnsafeRawBufferPointer(place)) == stored
    }

    /// Reads and checks every block; true when the whole shard is intact.
    func readAll(into stripe: RebuildStripe) -> Bool {
        (0..<layout.geometry.blocksPerShard).allSatisfy { read(block: $0, into: stripe) }
    }

    /// Fills `buffer` from `offset`; false on an error or when the file ends first.
    private static func readFully(
        _ descriptor: FileDescriptor, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer,
        failed: (any Error) -> Void
    ) -> Bool {
        var done = 0
        while done < buffer.count {
            // A failing read makes the block missing, and the caller brings in the next shard (see `init?`).
            let count: Int
            do {
                count = try FileSystemCalls.read(
                    descriptor, at: offset + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
                )
            } catch {
                failed(error)
                return false
            }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }
}

/// What ``ErasureCodedStore/reconstructShard(stream:segment:target:into:read:distrusted:existing:)`` found.
enum ShardReconstruction {
    /// The shard on the member is intact and carries the header the others vote for: nothing to write.
    case intact
    /// The shard is reconstructed in the stripe, under this header.
    case reconstructed(ShardHeader)
    /// The members present hold fewer than k shards that carry one header.
    case unrepairable
}

extension ErasureCodedStore {
    /// Reconstructs shard `target` of a segment into `stripe` (its blocks, and their CRCs in `stripe.checksums`)
    /// from k other shards that carry the header the others vote for (a shard left from another write of the
    /// segment, or whose header was changed and its checksum recomputed, is outvoted and never used),
    /// reading no more of them than it needs. `read` counts the shard files opened for a reconstruction.
    ///
    /// When the member's own shard is `existing` (opened, its header and checksums checked), it is kept if it carries
    /// the voted header and every block is intact: a member back from an absence may hold a segment's old shard, whole
    /// by its own checksums. When no header wins, an existing intact shard is kept unless its member missed writes.
    ///
    /// Shards on trusted members are tried first, in ascending order, then those on `distrusted` members (which
    /// missed writes); a header only distrusted shards carry never wins while a trusted one is intact. A source whose
    /// block fails its CRC is dropped and the next shard with the same header takes its place from that block on:
    /// every block is reconstructed from k intact blocks.
    func reconstructShard(
        stream: String, segment: UInt64, target: Int, into stripe: RebuildStripe, read: inout Int,
        distrusted: Set<Int> = [], existing: RebuildShardFile? = nil
    ) -> ShardReconstruction {
        let k = geometry.dataShards
        let memberOf = { (index: Int) in self.placement.member(ofShard: index, segment: segment, stream: stream) }
        let others = (0..<geometry.shardsPerSegment).filter { $0 != target }
        var candidates =
            (others.filter { !distrusted.contains(memberOf($0)) }
            + others.filter { distrusted.contains(memberOf($0)) }).makeIterator()
        var opened = 0
        func open(_ index: Int) -> RebuildShardFile? {
            let member = memberOf(index)
            guard let layout = layout(of: member) else { return nil }
            opened += 1
            let path = layout.shard(stream, segment: segment)
            return RebuildShardFile(
                path, arrayID: arrayID, stream: stream, segment: segment, index: index, geometry: geometry
            ) { self.reportMemberError(member, path: path, $0, "read") }
        }
        // Shards are opened (header and checksums only) until one header has won the vote: it is on at least k of
        // them and on more than any other header could still reach. An outvoted shard is never a source, even when k
        // shards carry its header. In a healthy array that takes the first k others.
        var groups: [ShardHeader: [RebuildShardFile]] = [:]
        var vouched: Set<ShardHeader> = []
        var unopened = others.count
        func winner() -> ShardHeader? {
            let eligible = vouched.isEmpty ? groups : groups.filter { vouched.contains($0.key) }
            guard let (best, files) = eligible.max(by: { $0.value.count < $1.value.count }), files.count >= k else {
                return nil
            }
            let rival = eligible.filter { $0.key != best }.map(\.value.count).max() ?? 0
            return files.count > rival + unopened ? best : nil
        }
        while winner() == nil, let index = candidates.next() {
            unopened -= 1
            guard let file = open(index) else { continue }
            groups[file.segmentHeader, default: []].append(file)
            if !distrusted.contains(memberOf(index)) { vouched.insert(file.segmentHeader) }
        }
        let voted = winner()
        var sources = voted.map { Array(groups[$0]!.prefix(k)) } ?? []
        // Further shards of the voted header opened while voting take a damaged source's place first.
        var spares = voted.map { Array(groups[$0]!.dropFirst(k)) } ?? []
        for (header, files) in groups where header != voted { for file in files { file.close() } }
        defer { for file in sources + spares { file.close() } }
        if let existing, existing.segmentHeader == voted || (voted == nil && !distrusted.contains(memberOf(target))),
            existing.readAll(into: stripe)
        {
            return .intact
        }
        read += opened
        guard let header = voted else { return .unrepairable }
        let firstOthers = Array(others.prefix(k))
        for block in 0..<geometry.blocksPerShard {
            for slot in sources.indices {
                while !sources[slot].read(block: block, into: stripe) {
                    sources[slot].close()
                    // The next shard of the same write takes the damaged one's place.
                    var replacement: RebuildShardFile? = spares.isEmpty ? nil : spares.removeFirst()
                    while replacement == nil, let index = candidates.next() {
                        let before = opened
                        let file = open(index)
                        read += opened - before
                        guard let file else { continue }
                        if file.segmentHeader == header { replacement = file } else { file.close() }
                    }
                    guard let replacement else {
                        sources.remove(at: slot)
                        return .unrepairable
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
                return .unrepairable
            }
            stripe.checksums[block] = CRC32C.checksum(stripe.block(block, of: target)).bigEndian
        }
        return .reconstructed(header)
    }
}
