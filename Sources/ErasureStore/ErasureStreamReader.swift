import CryptoPrimitives
import DurableFiles
import HashChain
import StoreFormat
import StreamStore

/// Reads a stream of an ``ErasureCodedStore`` as it was when the reader was opened.
///
/// Each committed segment is read from any k intact shards (damaged blocks fail their CRC and count as missing),
/// reconstructed when shards are missing, authenticated and decrypted; more than m lost shards is a clear error,
/// never wrong bytes. The open tail comes from the journal. Sequential reads cost one segment decode per segment,
/// and the decodes of the next ``readAhead`` segments run on the store's reading lane while the caller takes the
/// current one's bytes, so reading, checking and decrypting overlap with whatever the caller does with them (a
/// restore: sending them). When a segment's k data shards are intact (the usual case) they are read straight into
/// its buffer and decrypted there: no parity is read, and the buffers go round from one segment to the next.
///
/// A full segment whose shards are not yet durable is read from the journal that covers it (see
/// ``ErasureStreamAppender``), and the next segment's journal after it: the writer may be writing those shards
/// now, or may have died before it could.
final class ErasureStreamReader: StreamReader {
    /// Segments decoded ahead of the one being read. Two keep both cores busy while one segment's bytes are sent;
    /// each costs a segment's memory (8 MiB at 8 + 3).
    static let readAhead = 2

    let name: StreamName
    let length: UInt64
    let head: ChainHead
    private let store: ErasureCodedStore
    private let committed: UInt64
    /// Full segments from `committed` on, read from the journals that cover them.
    private let covered: [[UInt8]]
    private let tail: [UInt8]
    private var cached: (segment: UInt64, plaintext: [UInt8])?
    /// Decodes under way for the segments after `cached`, in order.
    private var ahead: [(segment: UInt64, decode: PendingDecode)] = []
    /// A segment buffer no decode holds, for the next one.
    private var spareBuffer: [UInt8]?
    private let decoder: SegmentDecoder
    /// The caller's own shard file buffer, for decodes on its thread.
    private let scratch = ReadScratch()

    /// A shard of a segment of this stream.
    struct ShardLocation: Hashable {
        var segment: UInt64
        var shard: Int
    }

    /// The shards reads found lying: intact by their CRCs, but outvoted on their header or disagreeing with the
    /// authenticated decode. A read cannot repair them (it writes nothing); `scrub()` reports and rewrites them.
    private(set) var disagreeingShards: [ShardLocation] = []

    init(store: ErasureCodedStore, stream: StreamName) throws(StreamStorageError) {
        self.store = store
        name = stream
        let state = try StreamRecovery.scan(store, stream: stream.rawValue)
        try state.requireDecided(toRead: stream.rawValue, parityShards: store.geometry.parityShards)
        decoder = SegmentDecoder(store: store, stream: stream.rawValue, distrusted: state.distrusted)
        if state.committed == 0 && state.journal.isEmpty && state.tornSegments.isEmpty {
            let exists = store.members.values.contains {
                FileSystemCalls.exists(MemberLayout(root: $0).streamDirectory(stream.rawValue))
            }
            guard exists else { throw .unknownStream(stream) }
        }
        committed = state.committed
        let segmentBytes = store.geometry.segmentBytes
        var covered: [[UInt8]] = []
        var tail = try state.tail(keys: store.keys)
        while tail.count == segmentBytes {
            covered.append(tail)
            let next = committed + UInt64(covered.count)
            tail = try StreamRecovery.plaintext(
                of: store.readJournalCopies(stream: stream.rawValue, segment: next, distrusted: state.distrusted),
                keys: store.keys)
        }
        self.covered = covered
        self.tail = tail
        length = (committed + UInt64(covered.count)) * UInt64(segmentBytes) + UInt64(tail.count)
        var chain = StreamHashChain(
            boundaryLength: committed * UInt64(segmentBytes), boundaryHead: state.chainHead)
        for segment in covered { chain.append(segment) }
        chain.append(tail)
        head = chain.head
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(StreamStorageError) -> Int {
        guard offset <= length else { throw .outOfRange(name, offset: offset, length: length) }
        let segmentBytes = UInt64(store.geometry.segmentBytes)
        var done = 0
        var position = offset
        while done < buffer.count && position < length {
            let segment = position / segmentBytes
            let within = Int(position % segmentBytes)
            let source: [UInt8] =
                if segment < committed {
                    try plaintext(of: segment)
                } else if segment < committed + UInt64(covered.count) {
                    covered[Int(segment - committed)]
                } else {
                    tail
                }
            let count = min(buffer.count - done, source.count - within)
            guard count > 0 else { break }
            source.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[within..<(within + count)]))
            }
            done += count
            position += UInt64(count)
        }
        return done
    }

    func close() {
        // Decodes still under way finish on their own, and their results are dropped with the last reference.
        ahead = []
        cached = nil
        spareBuffer = nil
    }

    private func plaintext(of segment: UInt64) throws(StreamStorageError) -> [UInt8] {
        if let cached, cached.segment == segment { return cached.plaintext }
        if let previous = cached {
            cached = nil  // Held once now, so the next decode overwrites it in place.
            spareBuffer = previous.plaintext
        }
        let decoded: DecodedSegment
        if let next = ahead.first, next.segment == segment {
            ahead.removeFirst()
            decoded = try next.decode.wait().get()
        } else {
            // Not the next segment (a read elsewhere in the stream): what was decoded ahead is of no use.
            ahead = []
            var buffer = spareBuffer ?? []
            spareBuffer = nil
            decoded = try decoder.decode(segment, into: &buffer, scratch: scratch)
        }
        disagreeingShards += decoded.disagreeing.map { ShardLocation(segment: segment, shard: $0) }
        cached = (segment, decoded.plaintext)
        decodeAhead(after: segment)
        return decoded.plaintext
    }

    /// Starts the decodes of the segments after `segment` that are committed and not yet under way.
    private func decodeAhead(after segment: UInt64) {
        var next = (ahead.last?.segment ?? segment) + 1
        while ahead.count < Self.readAhead && next < committed && store.executor.takeReadAheadPermit() {
            let pending = PendingDecode(executor: store.executor)
            let decoder = self.decoder
            let target = next
            // Handed over through a lock so that the decode holds the buffer's only reference and fills it in place.
            let handover = Guarded(spareBuffer ?? store.executor.takeDecodeBuffer())
            spareBuffer = nil
            store.executor.reading.submit { scratch in
                var buffer = handover.withLock { held in
                    var taken: [UInt8] = []
                    swap(&taken, &held)
                    return taken
                }
                pending.finish(
                    Result { () throws(StreamStorageError) in
                        try decoder.decode(target, into: &buffer, scratch: scratch)
                    })
            }
            ahead.append((next, pending))
            next += 1
        }
        // Kept only to be handed to a decode ahead: a reader at rest holds its current segment alone, and the
        // buffer goes to the store's few spares, for the next decode of any reader.
        if spareBuffer != nil { store.executor.recycleDecodeBuffer(&spareBuffer!) }
        spareBuffer = nil
    }
}
