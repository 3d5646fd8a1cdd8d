import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// Writes a rebuild's shards to the replaced member and flushes them in batches, as ``RebuildBatch`` decides.
///
/// Each reader writes the shard it has just reconstructed: the file is created and written in one gathering
/// `writev` straight from the stripe, and its writeback started at once, so the disk is busy while the readers go
/// on with the next segments; whoever fills a batch flushes it (the other reader goes on meanwhile), and finds
/// little left to wait for.
final class RebuildWriter: Sendable {
    typealias File = (descriptor: FileDescriptor, stream: String)

    private let store: ErasureCodedStore
    private let member: Int
    private let batch = Guarded(RebuildBatch<File>())

    init(store: ErasureCodedStore, member: Int) {
        self.store = store
        self.member = member
    }

    /// Shard bytes written and flushed so far: only these count as rebuilt.
    var flushedBytes: Int { batch.withLock { $0.flushedBytes } }

    /// Writes shard `index` of a segment, reconstructed in `stripe`, to its file on the member, replacing whatever
    /// is there; flushes a batch when this write fills one.
    func write(
        _ stripe: RebuildStripe, header: ShardHeader, index: Int, stream: String, segment: UInt64
    ) throws(StreamStorageError) {
        // Direct I/O from the stripe (aligned, as are the file's regions), as the segment writers write shards.
        let descriptor = try store.createFile(
            member: member, path: { $0.shard(stream, segment: segment) }, stream: stream,
            directIO: store.codec.layout.allowsDirectIO)
        var header = header
        header.shardIndex = index
        let layout = store.codec.layout
        do {
            // The file in one gathering write: the header region, each block of the shard, the checksum region.
            try layout.withRegions(encodedHeader: header.encoded(), checksums: stripe.checksums) { header, checksums in
                var parts = [header]
                parts.reserveCapacity(2 + store.geometry.blocksPerShard)
                for block in 0..<store.geometry.blocksPerShard {
                    parts.append(stripe.block(block, of: index))
                }
                parts.append(checksums)
                try FileSystemCalls.writeAll(descriptor, gathering: parts)
            }
        } catch {
            FileSystemCalls.release(descriptor)
            throw .io(
                "writing rebuilt shard \(index) of segment \(segment) to member \(member) at",
                path: store.layout(of: member)?.root.string ?? "?", error: error)
        }
        FileSystemCalls.startWriteback(descriptor)
        let action = batch.withLock { $0.written((descriptor, stream), bytes: store.geometry.shardFileBytes) }
        try run(action)
    }

    /// Flushes whatever is written and not yet flushed; the rebuild ends with this, after its readers.
    func finish() throws(StreamStorageError) {
        try run(batch.withLock { $0.finishing() })
    }

    /// Closes what is written and not flushed, without flushing it: the rebuild has failed.
    func abandon() {
        if case .flush(let files, _) = batch.withLock({ $0.finishing() }) {
            for file in files { FileSystemCalls.release(file.descriptor) }
        }
    }

    /// Flushes the files of a batch, then their directories, which makes the new files' names durable; only then do
    /// their bytes count as flushed.
    private func run(_ action: RebuildBatch<File>.Action) throws(StreamStorageError) {
        guard case .flush(let files, let bytes) = action else { return }
        defer { for file in files { FileSystemCalls.release(file.descriptor) } }
        for file in files {
            try store.flush(file.descriptor, member: member, what: "a rebuilt shard")
        }
        for stream in Set(files.map(\.stream)) {
            try store.flushDirectory(member: member, stream: stream)
        }
        batch.withLock { $0.flushed(bytes: bytes) }
    }
}
