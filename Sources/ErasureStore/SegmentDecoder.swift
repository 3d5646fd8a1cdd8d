import CryptoPrimitives
import DurableFiles
import StoreFormat
import StreamStore

/// One segment, decoded: its plaintext and the shards found lying on the way.
struct DecodedSegment: Sendable {
    var plaintext: [UInt8]
    var disagreeing: [Int]
}

/// A decode running ahead of its reader, and its result once there. It holds one of the store's read-ahead permits
/// from its start until both the decode and its reader are done with it.
final class PendingDecode: Sendable {
    private let outcome = Guarded<Result<DecodedSegment, StreamStorageError>?>(nil)
    private let executor: StoreExecutor

    init(executor: StoreExecutor) {
        self.executor = executor
    }

    deinit {
        executor.returnReadAheadPermit()
    }

    func finish(_ result: Result<DecodedSegment, StreamStorageError>) {
        outcome.withLock { $0 = result }
    }

    /// Waits for the decode to end.
    func wait() -> Result<DecodedSegment, StreamStorageError> {
        outcome.wait(until: { $0 != nil }) { outcome, _ in outcome! }
    }
}

/// One shard file at a time, and a byte more, which shows a file that is too long: a reading worker's, or a reader's
/// own.
final class ReadScratch {
    var shardFile: [UInt8] = []
}

/// Decodes the committed segments of one stream; holds nothing of a reader's, so decodes run on any thread.
struct SegmentDecoder: Sendable {
    let store: ErasureCodedStore
    let stream: String
    /// Members that missed writes when the reader opened (``MissedWrites``): their shards count only with a header a
    /// trusted member's shard carries.
    var distrusted: Set<Int> = []

    /// Decodes `segment` into `buffer` (reused when it is a segment long) when its data shards suffice, or from any
    /// k shards that authenticate.
    func decode(
        _ segment: UInt64, into buffer: inout [UInt8], scratch: ReadScratch
    ) throws(StreamStorageError) -> DecodedSegment {
        let opener = try store.keys.requireSegmentKeys()
        if let header = readDataShards(of: segment, into: &buffer, scratch: scratch),
            let dataKey = try dataKeyUnlessCorrupt(header, opener: opener)
        {
            let opened = buffer.withUnsafeMutableBytes {
                (try? store.codec.openInPlace($0, header: header, dataKey: dataKey)) != nil
            }
            if opened { return DecodedSegment(plaintext: buffer, disagreeing: []) }
            // A data shard lies (its CRCs hold, its bytes do not): the whole segment is read, and decoded from
            // other choices of k shards.
        }
        return try authenticatedPlaintext(of: segment, opener: opener)
    }

    /// The data key of the segment `header` describes; nil when its wrapping does not open (the header lies, and the
    /// other shards are asked), an error when the key cannot be had now (no other choice of shards changes that).
    private func dataKeyUnlessCorrupt(
        _ header: ShardHeader, opener: any SegmentKeyOpener
    ) throws(StreamStorageError) -> SecretBytes? {
        do {
            return try store.codec.dataKey(for: header, opener: opener)
        } catch {
            if error.kind == .configuration { throw error }
            return nil
        }
    }

    /// Reads every shard of `segment` and decodes it from k of those that carry the voted header and
    /// authenticate; shards that were outvoted or found to lie are returned as disagreeing.
    private func authenticatedPlaintext(
        of segment: UInt64, opener: any SegmentKeyOpener
    ) throws(StreamStorageError) -> DecodedSegment {
        let read = store.readSegmentShards(stream: stream, segment: segment, distrusted: distrusted)
        let candidates = read.candidates
        guard !candidates.isEmpty else {
            throw .unavailable(
                "no intact shard of segment \(segment) of \(stream) is left: more than m members lost it ("
                    + read.problemSummary + ")")
        }
        var failure: StreamStorageError?
        // Several headers only when as many shards carry each: none is outvoted, so each is tried.
        for header in candidates {
            do {
                let decoded = try store.codec.openAuthenticated(
                    read.shards(carrying: header), header: header, opener: opener)
                return DecodedSegment(
                    plaintext: decoded.plaintext,
                    disagreeing: (read.disagreeing(with: header) + decoded.disagreeing).sorted())
            } catch {
                // A key that cannot be had now ends the read: no other header or choice of shards changes that.
                if error.kind == .configuration { throw error }
                failure = failure ?? error
            }
        }
        let problems = read.problems.isEmpty ? "" : " (\(read.problemSummary))"
        throw failure.map { .init(kind: $0.kind, message: "\($0)" + problems) } ?? .corrupt("segment \(segment)")
    }

    /// Reads the k data shards of `segment` into `buffer` (made a segment long), verified and agreeing on their
    /// header; nil when one is missing, damaged or disagrees, and parity is needed, or when every one is on a member
    /// that missed writes (nothing then vouches for their header).
    private func readDataShards(of segment: UInt64, into buffer: inout [UInt8], scratch: ReadScratch) -> ShardHeader? {
        let geometry = store.geometry
        let layout = store.codec.layout
        if buffer.count != geometry.segmentBytes { buffer = [UInt8](repeating: 0, count: geometry.segmentBytes) }
        if scratch.shardFile.count != layout.fileBytes + 1 {
            scratch.shardFile = [UInt8](repeating: 0, count: layout.fileBytes + 1)
        }
        var agreed: ShardHeader?
        var vouched = false
        for index in 0..<geometry.dataShards {
            let member = store.placement.member(ofShard: index, segment: segment, stream: stream)
            if !distrusted.contains(member) { vouched = true }
            guard let path = store.layout(of: member)?.shard(stream, segment: segment) else { return nil }
            // Any failure here (unreadable, damaged, disagreeing) sends the decode to every shard, where
            // readSegmentShards records each problem for the error a lost segment reports.
            let header: ShardHeader? = scratch.shardFile.withUnsafeMutableBytes { file in
                guard let count = try? FileSystemCalls.read(path, into: file),
                    var header = try? store.codec.verifyShard(
                        UnsafeRawBufferPointer(rebasing: file[..<count]), arrayID: store.arrayID,
                        stream: stream, segment: segment, index: index)
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
        return vouched ? agreed : nil
    }
}
