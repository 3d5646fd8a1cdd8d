import DurableFiles
import HashChain
import StreamStore

/// Reads a stream of an ``ErasureCodedStore`` as it was when the reader was opened.
///
/// Each committed segment is read from any k intact shards (damaged blocks fail their CRC and count as missing),
/// reconstructed when shards are missing, authenticated and decrypted; more than m lost shards is a clear error,
/// never wrong bytes. The open tail comes from the journal. One decrypted segment is kept, so sequential reads
/// cost one segment decode per segment.
final class ErasureStreamReader: StreamReader {
    let name: StreamName
    let length: UInt64
    let head: [UInt8]
    private let store: ErasureCodedStore
    private let committed: UInt64
    private let tail: [UInt8]
    private var cached: (segment: UInt64, plaintext: [UInt8])?

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
        tail = try state.tail(keys: store.keys)
        length = committed * UInt64(store.geometry.segmentBytes) + UInt64(tail.count)
        var chain = StreamHashChain(
            boundaryLength: committed * UInt64(store.geometry.segmentBytes), boundaryHead: state.chainHead)
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
            let source: [UInt8] = segment < committed ? try plaintext(of: segment) : tail
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
        var (shards, header) = store.readShards(stream: name.rawValue, segment: segment)
        guard let header else {
            throw .unavailable("no intact shard of segment \(segment) of \(name) is left: more than m members lost it")
        }
        if shards[..<store.geometry.dataShards].contains(where: { $0 == nil }) {
            try store.codec.reconstruct(&shards)
        }
        let plaintext = try store.codec.open(
            dataShards: shards[..<store.geometry.dataShards].map { $0! }, header: header, privateKey: privateKey)
        cached = (segment, plaintext)
        return plaintext
    }
}
