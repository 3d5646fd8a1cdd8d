import CryptoPrimitives
import DurableFiles
import HashChain
import StoreFormat
import StreamStore

/// Reads a stream of an ``ErasureCodedStore`` as it was when the reader was opened.
///
/// Each committed segment is read from any k intact shards (damaged blocks fail their CRC and count as missing),
/// reconstructed when shards are missing, authenticated and decrypted; more than m lost shards is a clear error,
/// never wrong bytes. The open tail comes from the journal. One decrypted segment is kept, so sequential reads
/// cost one segment decode per segment; when its k data shards are intact (the usual case) they are read straight
/// into that segment's buffer, reused from one segment to the next, and decrypted there: no parity is read and
/// nothing is allocated per segment.
///
/// A full segment whose shards are not yet durable is read from the journal that covers it (see
/// ``ErasureStreamAppender``), and the next segment's journal after it: the writer may be writing those shards
/// now, or may have died before it could.
final class ErasureStreamReader: StreamReader {
    let name: StreamName
    let length: UInt64
    let head: ChainHead
    private let store: ErasureCodedStore
    private let committed: UInt64
    /// Full segments from `committed` on, read from the journals that cover them.
    private let covered: [[UInt8]]
    private let tail: [UInt8]
    private var cached: (segment: UInt64, plaintext: [UInt8])?
    /// One shard file at a time, and a byte more, which shows a file that is too long.
    private var shardFile: [UInt8] = []

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
                of: store.readJournalCopies(stream: stream.rawValue, segment: next), keys: store.keys)
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
        cached = nil
    }

    private func plaintext(of segment: UInt64) throws(StreamStorageError) -> [UInt8] {
        if let cached, cached.segment == segment { return cached.plaintext }
        let privateKey = try store.keys.requirePrivateKey()
        var buffer: [UInt8] = []
        if let reused = cached {
            buffer = reused.plaintext
            cached = nil  // The buffer is now held once, so it is overwritten in place.
        }
        if let header = readDataShards(of: segment, into: &buffer) {
            let opened = buffer.withUnsafeMutableBytes {
                (try? store.codec.openInPlace($0, header: header, privateKey: privateKey)) != nil
            }
            if opened {
                cached = (segment, buffer)
                return buffer
            }
            // A data shard lies (its CRCs hold, its bytes do not): the whole segment is read, and decoded from
            // other choices of k shards.
        }
        let plaintext = try authenticatedPlaintext(of: segment, privateKey: privateKey)
        cached = (segment, plaintext)
        return plaintext
    }

    /// Reads every shard of `segment` and decodes it from k of those that carry the voted header and
    /// authenticate; shards that were outvoted or found to lie are recorded in ``disagreeingShards``.
    private func authenticatedPlaintext(
        of segment: UInt64, privateKey: X25519PrivateKey
    ) throws(StreamStorageError) -> [UInt8] {
        let read = store.readSegmentShards(stream: name.rawValue, segment: segment)
        let candidates = read.candidates
        guard !candidates.isEmpty else {
            throw .unavailable(
                "no intact shard of segment \(segment) of \(name) is left: more than m members lost it ("
                    + read.problemSummary + ")")
        }
        var failure: StreamStorageError?
        // Several headers only when as many shards carry each: none is outvoted, so each is tried.
        for header in candidates {
            do {
                let decoded = try store.codec.openAuthenticated(
                    read.shards(carrying: header), header: header, privateKey: privateKey)
                for index in (read.disagreeing(with: header) + decoded.disagreeing).sorted() {
                    disagreeingShards.append(ShardLocation(segment: segment, shard: index))
                }
                return decoded.plaintext
            } catch {
                failure = failure ?? error
            }
        }
        let problems = read.problems.isEmpty ? "" : " (\(read.problemSummary))"
        throw failure.map { .init(kind: $0.kind, message: "\($0)" + problems) } ?? .corrupt("segment \(segment)")
    }

    /// Reads the k data shards of `segment` into `buffer` (made a segment long), verified and agreeing on their
    /// header; nil when one is missing, damaged or disagrees, and parity is needed.
    private func readDataShards(of segment: UInt64, into buffer: inout [UInt8]) -> ShardHeader? {
        let geometry = store.geometry
        let layout = store.codec.layout
        if buffer.count != geometry.segmentBytes { buffer = [UInt8](repeating: 0, count: geometry.segmentBytes) }
        if shardFile.count != layout.fileBytes + 1 { shardFile = [UInt8](repeating: 0, count: layout.fileBytes + 1) }
        var agreed: ShardHeader?
        for index in 0..<geometry.dataShards {
            let member = store.placement.member(ofShard: index, segment: segment, stream: name.rawValue)
            guard let path = store.layout(of: member)?.shard(name.rawValue, segment: segment) else { return nil }
            let header: ShardHeader? = shardFile.withUnsafeMutableBytes { file in
                guard let count = try? FileSystemCalls.read(path, into: file),
                    var header = try? store.codec.verifyShard(
                        UnsafeRawBufferPointer(rebasing: file[..<count]), arrayID: store.arrayID,
                        stream: name.rawValue, segment: segment, index: index)
                else { return nil }
                buffer.withUnsafeMutableBytes { segmentBytes in
                    UnsafeMutableRawBufferPointer(rebasing: segmentBytes[(index * geometry.shardBytes)...])
                        .copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: file[layout.bodyOffset..<layout.checksumOffset]))
                }
                header.shardIndex = 0
                return header
            }
            guard let header, agreed == nil || agreed == header else { return nil }
            agreed = header
        }
        return agreed
    }
}
