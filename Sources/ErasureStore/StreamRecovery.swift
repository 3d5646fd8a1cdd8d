import DurableFiles
import HashChain
import StreamStore
import SystemPackage

/// The durable state of one stream as found on the members: committed segments, the chain head after them, and the
/// open tail from the journal.
///
/// Segments 0..<committed are committed. Only the last ``ErasureCodedStore/unflushedSegmentLimit`` segments can have
/// been written without a flush, so only those are verified; everything before them was flushed before they were
/// written. Recovery therefore reads at most that window and the journal: it is bounded by the open tail, not by
/// the stream's size.
struct StreamRecovery {
    struct JournalCopy {
        var member: Int
        var header: JournalHeader
        var records: [JournalRecord]
        var validLength: Int
    }

    var committed: UInt64 = 0
    var chainHead: [UInt8] = StreamHashChain.emptyHead
    /// Journal copies of segment `committed`, longest valid first.
    var journal: [JournalCopy] = []
    /// Segment indices at or beyond `committed` with shard files: torn writes to discard.
    var tornSegments: [UInt64] = []
    /// Journal segment indices below `committed`: folded already, to discard.
    var staleJournals: [UInt64] = []
    /// Journal segment indices beyond `committed` without a record: prepared and never used, to discard.
    var preparedJournals: [UInt64] = []
    /// Each verified segment of the window → the indices of its missing or damaged shards. Only the indices are kept,
    /// not the shards: a window of 16 segments of 11 shards held 176 MiB, the peak of a process that opened a reader;
    /// a repair reads again the few segments it needs.
    var damagedShards: [UInt64: [Int]] = [:]

    static func scan(_ store: ErasureCodedStore, stream: String) throws(StreamStorageError) -> StreamRecovery {
        var shardIndices: Set<UInt64> = []
        var journalIndices: Set<UInt64> = []
        for member in store.members.keys.sorted() {
            guard let layout = store.layout(of: member) else { continue }
            let names: [String]
            do {
                names = try FileSystemCalls.entries(of: layout.streamDirectory(stream))
            } catch {
                continue  // An unreadable member counts as missing for this stream.
            }
            let found = MemberLayout.indices(in: names)
            shardIndices.formUnion(found.shards)
            journalIndices.formUnion(found.journals)
        }
        var state = StreamRecovery()
        if let last = shardIndices.max() {
            let first = last >= UInt64(store.unflushedSegmentLimit) ? last - UInt64(store.unflushedSegmentLimit) + 1 : 0
            // Everything below the window was flushed before the window's segments were written.
            state.committed = first
            for segment in first...last {
                let (shards, header) = store.readShards(stream: stream, segment: segment)
                let intact = shards.compactMap { $0 }.count
                guard intact >= store.geometry.dataShards, let header else { break }
                state.damagedShards[segment] = shards.indices.filter { shards[$0] == nil }
                state.committed = segment + 1
                state.chainHead = header.chainHead
            }
            if state.committed == first && first > 0 {
                // The window starts with a torn segment: the head comes from the flushed segment before it.
                let (_, header) = store.readShards(stream: stream, segment: first - 1)
                guard let header else {
                    throw .unavailable(
                        "segment \(first - 1) of \(stream) has lost more than m shards; the stream cannot be resumed")
                }
                state.chainHead = header.chainHead
            }
            state.tornSegments = shardIndices.filter { $0 >= state.committed }.sorted()
        }
        state.staleJournals = journalIndices.filter { $0 < state.committed }.sorted()
        state.journal = store.readJournalCopies(stream: stream, segment: state.committed)
        if state.journal.isEmpty, store.hasFormatOneJournal(stream: stream, segment: state.committed) {
            // Skipping it as damaged would drop acknowledged bytes without a word.
            throw .corrupt(
                "the journal of segment \(state.committed) of \(stream) is in format 1, written by an earlier "
                    + "Saatkond; this one reads only format 2")
        }
        // A later journal with records is expected only behind a journal that covers its whole segment (see
        // ErasureStreamAppender): the appender folds that one first, and scans again. One without records was
        // prepared and never used; an acknowledged record is on all m + 1 copies, so with at most m lost, one holds it.
        for beyond in journalIndices where beyond > state.committed {
            if store.readJournalCopies(stream: stream, segment: beyond).allSatisfy({ $0.records.isEmpty }) {
                state.preparedJournals.append(beyond)
            } else if state.journaledBytes != store.geometry.segmentBytes {
                throw .unavailable(
                    "stream \(stream) has a journal for segment \(beyond) but segment \(beyond - 1) is unreadable: "
                        + "more than m members lost it")
            }
        }
        return state
    }

    /// The bytes the longest journal copy holds.
    var journaledBytes: Int {
        journal.first?.records.reduce(0) { $0 + $1.ciphertext.count } ?? 0
    }

    /// The tail's plaintext, decrypted from the longest valid journal copy.
    func tail(keys: StorageKeys) throws(StreamStorageError) -> [UInt8] {
        try Self.plaintext(of: journal, keys: keys)
    }

    /// The plaintext of a segment's journal, decrypted from the longest valid of its `copies`.
    static func plaintext(of copies: [JournalCopy], keys: StorageKeys) throws(StreamStorageError) -> [UInt8] {
        guard let copy = copies.first else { return [] }
        do {
            let key = try copy.header.recordKey(journalKey: keys.journalKey)
            var tail: [UInt8] = []
            for (index, record) in copy.records.enumerated() {
                tail += try record.open(index: UInt64(index), header: copy.header, key: key)
            }
            return tail
        } catch {
            throw .corrupt("the journal of \(copy.header.stream) fails authentication: \(error)")
        }
    }
}

extension ErasureCodedStore {
    /// Every shard of a segment, parsed and verified (nil where missing or damaged), and the header most of the
    /// intact shards agree on. With `dataShardsSuffice`, the parity shards are read only when a data shard is
    /// missing or damaged or the data shards disagree: a reader needs nothing else, and reads k files, not k + m.
    func readShards(
        stream: String, segment: UInt64, dataShardsSuffice: Bool = false
    ) -> ([[UInt8]?], ShardHeader?) {
        var shards = [[UInt8]?](repeating: nil, count: geometry.shardsPerSegment)
        var headers: [ShardHeader] = []
        func read(_ index: Int) {
            let member = placement.member(ofShard: index, segment: segment, stream: stream)
            guard let layout = layout(of: member),
                let file = try? FileSystemCalls.readAll(layout.shard(stream, segment: segment)),
                let (header, data) = try? codec.parseShard(
                    file, arrayID: arrayID, stream: stream, segment: segment, index: index)
            else { return }
            shards[index] = data
            headers.append(header)
        }
        for index in 0..<geometry.dataShards { read(index) }
        let dataAgree =
            headers.count == geometry.dataShards
            && Set(
                headers.map {
                    var header = $0; header.shardIndex = 0; return header
                }
            ).count == 1
        if !dataShardsSuffice || !dataAgree {
            for index in geometry.dataShards..<geometry.shardsPerSegment { read(index) }
        }
        // Shards of one segment share everything but their index; compare with the index cleared.
        var counts: [ShardHeader: Int] = [:]
        for var header in headers {
            header.shardIndex = 0
            counts[header, default: 0] += 1
        }
        let header = counts.max { $0.value < $1.value }?.key
        return (shards, header)
    }

    /// Whether a copy of a segment's journal starts with format 1's magic.
    func hasFormatOneJournal(stream: String, segment: UInt64) -> Bool {
        placement.journalMembers(segment: segment, stream: stream).contains { member in
            guard let path = layout(of: member)?.journal(stream, segment: segment) else { return false }
            var magic = [UInt8](repeating: 0, count: 8)
            let count = magic.withUnsafeMutableBytes { (try? FileSystemCalls.read(path, into: $0)) ?? 0 }
            return count == 8 && magic == JournalHeader.formatOneMagic
        }
    }

    /// The journal copies of a segment, parsed, longest valid first.
    func readJournalCopies(stream: String, segment: UInt64) -> [StreamRecovery.JournalCopy] {
        var copies: [StreamRecovery.JournalCopy] = []
        for member in placement.journalMembers(segment: segment, stream: stream) {
            guard let layout = layout(of: member),
                let bytes = try? FileSystemCalls.readAll(layout.journal(stream, segment: segment)),
                let (header, headerLength) = try? JournalHeader.decode(bytes),
                header.arrayID == arrayID, header.stream == stream, header.segment == segment,
                header.segmentOffset == segment * UInt64(geometry.segmentBytes)
            else { continue }
            let (records, validLength) = JournalRecord.parseAll(bytes, from: headerLength, header: header)
            copies.append(
                StreamRecovery.JournalCopy(member: member, header: header, records: records, validLength: validLength))
        }
        return copies.sorted { $0.records.count > $1.records.count }
    }
}
