import DurableFiles
import HashChain
import StoreFormat
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

        /// The stream's bytes its records hold.
        var plaintextBytes: Int { records.reduce(0) { $0 + $1.ciphertext.count } }
    }

    var committed: UInt64 = 0
    var chainHead = ChainHead.empty
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
    /// Members that were absent (or unreadable for this stream) during the scan. While there are any, nothing found
    /// may be deleted or rewritten: what looks torn or stale may be whole where it cannot be seen.
    var absent: [AbsentMember] = []
    /// The members among `absent` that are absent from the array (``ErasureCodedStore/absentMembers()``), rather
    /// than present with a file of this stream that cannot be read.
    var absentMembers: [AbsentMember] = []
    /// Members that missed writes (``MissedWrites``): their shards count only with a header a trusted member's shard
    /// carries, and their journal copies only where no trusted member holds one.
    var distrusted: Set<Int> = []
    /// Whether the journal of segment `committed` is undecided: every trusted member of its placement is absent or
    /// unreadable, so the copies that can be seen (distrusted, or none) may lack what those hold.
    var journalUndecided = false
    /// Journals beyond segment `committed` that hold records though the journal of `committed` does not cover its
    /// segment, found while members were absent: the absent may explain them, and nothing may be written over them.
    var unexplainedJournals: [UInt64] = []
    /// The first segment of the window with fewer than k intact shards that could still have k counting the shards
    /// that cannot be seen (on absent members, or in files that cannot be read): it may be complete, so it is not
    /// torn, and the stream cannot be resumed until it is decided.
    var undecided: UInt64?

    static func scan(_ store: ErasureCodedStore, stream: String) throws(StreamStorageError) -> StreamRecovery {
        var shardIndices: Set<UInt64> = []
        var journalIndices: Set<UInt64> = []
        var state = StreamRecovery()
        state.absent = store.absentMembers()
        state.absentMembers = state.absent
        state.distrusted = store.distrustedMembers()
        let distrusted = state.distrusted
        let absentIndices = Set(state.absent.map(\.index))
        for member in store.members.keys.sorted() where !absentIndices.contains(member) {
            guard let layout = store.layout(of: member) else { continue }
            let names: [String]
            do {
                names = try FileSystemCalls.entries(of: layout.streamDirectory(stream))
            } catch {
                store.reportMemberError(member, path: layout.streamDirectory(stream), error, "list")
                state.absent.append(
                    AbsentMember(index: member, root: layout.root, reason: "cannot be read (\(error))", failed: true))
                continue
            }
            let found = MemberLayout.indices(in: names, segmentBytes: store.geometry.segmentBytes)
            shardIndices.formUnion(found.shards)
            journalIndices.formUnion(found.journals)
        }
        if let last = shardIndices.max() {
            let first = last >= UInt64(store.unflushedSegmentLimit) ? last - UInt64(store.unflushedSegmentLimit) + 1 : 0
            // Everything below the window was flushed before the window's segments were written.
            state.committed = first
            for segment in first...last {
                let (shards, header) = store.readShards(stream: stream, segment: segment, distrusted: distrusted)
                let intact = shards.compactMap { $0 }.count
                guard intact >= store.geometry.dataShards, let header else {
                    let unseen = store.unseenShards(of: shards, stream: stream, segment: segment, state: &state)
                    if intact + unseen >= store.geometry.dataShards { state.undecided = segment }
                    break
                }
                state.damagedShards[segment] = shards.indices.filter { shards[$0] == nil }
                state.committed = segment + 1
                state.chainHead = header.chainHead
            }
            if state.committed == first && first > 0 {
                // The window starts with a torn segment: the head comes from the flushed segment before it.
                let (_, header) = store.readShards(stream: stream, segment: first - 1, distrusted: distrusted)
                guard let header else {
                    throw .unavailable(
                        "segment \(first - 1) of \(stream) has lost more than m shards; the stream cannot be resumed"
                            + (state.absent.isEmpty
                                ? "" : " (absent: \(state.absent.map(\.description).joined(separator: "; ")))"))
                }
                state.chainHead = header.chainHead
            }
            state.tornSegments = shardIndices.filter { $0 >= state.committed }.sorted()
        }
        state.staleJournals = journalIndices.filter { $0 < state.committed }.sorted()
        var unreadable: [AbsentMember] = []
        state.journal = store.readJournalCopies(
            stream: stream, segment: state.committed, distrusted: distrusted, unreadable: &unreadable)
        // A copy that cannot be read may hold records the others lack, as one on an absent member may.
        state.absent += unreadable.filter { copy in !state.absent.contains { $0.index == copy.index } }
        // An acknowledged record is on every trusted member of the journal's placement (one left out of a write has
        // recorded that it missed it): unless all of those are unseen, the trusted copies seen hold it.
        let unseen = Set(state.absent.map(\.index))
        let trustedPlaced = store.placement.journalMembers(segment: state.committed, stream: stream).filter {
            !distrusted.contains($0)
        }
        state.journalUndecided = !trustedPlaced.isEmpty && trustedPlaced.allSatisfy { unseen.contains($0) }
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
            let copies = store.readJournalCopies(stream: stream, segment: beyond, distrusted: distrusted)
            if copies.allSatisfy({ $0.records.isEmpty || distrusted.contains($0.member) }) {
                state.preparedJournals.append(beyond)
            } else if state.journaledBytes != store.geometry.segmentBytes {
                // With members absent, segment `committed` may be whole where it cannot be seen; a reader serves what
                // precedes it, and an appender is refused.
                guard !state.absent.isEmpty else {
                    throw .unavailable(
                        "stream \(stream) has a journal for segment \(beyond) but segment \(beyond - 1) is "
                            + "unreadable: more than m members lost it")
                }
                state.unexplainedJournals.append(beyond)
            }
        }
        return state
    }

    /// Whether the scan saw every member: only then may an appender remove torn writes and stale journals and
    /// rewrite journal copies and damaged shards.
    var sawEveryMember: Bool { absent.isEmpty }

    /// Throws, naming the absent members, unless an appender may resume the stream from this scan: every member
    /// was seen, or the members absent from the array are at most `limit` (m − 1: appends go on without them), no
    /// file of the stream on a present member failed to read, and the scan decided where the stream ends (no segment
    /// of the window may be complete on the members it could not see, nor the journal longer there). `stream` names
    /// the stream in the error.
    func requireResumable(_ stream: String, limit: Int) throws(StreamStorageError) {
        guard !absent.isEmpty else { return }
        let what = "to open an appender for \(stream)"
        if absentMembers.count > limit { throw ErasureCodedStore.refusal(what, absent: absentMembers, limit: limit) }
        let unreadable = absent.filter { member in !absentMembers.contains { $0.index == member.index } }
        guard !unreadable.isEmpty || undecided != nil || journalUndecided || !unexplainedJournals.isEmpty else {
            return
        }
        let detail =
            undecided.map {
                " (segment \($0) has fewer than k readable shards but may be complete on them: it is not torn)"
            } ?? (journalUndecided ? " (the journal of segment \(committed) may be longer on them)" : "")
            + (unexplainedJournals.isEmpty
                ? ""
                : " (the journal of segment \(unexplainedJournals[0]) has records that segment \(committed) "
                    + "may explain on them)")
        throw ErasureCodedStore.refusal(what, absent: absent, detail: detail)
    }

    /// Throws, naming the members it could not see, when a reader could serve less than was acknowledged as if it
    /// were the whole stream (a restore would take it for all of it): more than m members unseen and a segment of the
    /// window that may be complete on them (or a later journal they may explain), or a journal whose trusted copies
    /// are all unseen. With at most m unseen, every acknowledged segment still has k shards in sight, so a segment
    /// that has not is a torn write (or damage beyond what the array survives), and what precedes it is served.
    func requireDecided(toRead stream: String, parityShards: Int) throws(StreamStorageError) {
        let beyondParity = absent.count > parityShards && (undecided != nil || !unexplainedJournals.isEmpty)
        guard beyondParity || journalUndecided else { return }
        let detail =
            undecided.map {
                " (segment \($0) has fewer than k readable shards but may be complete on them: where the stream ends "
                    + "is unknown)"
            } ?? (journalUndecided ? " (the journal of segment \(committed) may be longer on them)" : "")
        throw ErasureCodedStore.refusal("to open a reader for \(stream)", absent: absent, detail: detail)
    }

    /// The bytes the longest journal copy holds.
    var journaledBytes: Int {
        journal.first?.plaintextBytes ?? 0
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

/// The shards of one segment as read from its members, with the header they vote for.
///
/// A shard whose CRCs hold may still lie: someone with the disk in hand can change its bytes or its header and
/// recompute the checksums. Its header is then outvoted by the honest shards', and an outvoted shard is never used;
/// its bytes can only be caught by authenticating a decode (``SegmentCodec/openAuthenticated(_:header:opener:)``).
struct SegmentShards {
    /// Each shard whose file is intact (length, header checksum, the segment it claims to be, every block's CRC),
    /// with its header (shard index cleared); nil where missing or damaged.
    var intact: [(header: ShardHeader, bytes: [UInt8])?]
    /// Why each shard that is not intact is not, by shard index.
    var problems: [Int: String]
    /// The shards on members that missed writes (``MissedWrites``), by shard index.
    var distrusted: Set<Int> = []

    /// The headers most intact shards carry, in the order of their lowest shard: one, unless several tie. A header
    /// fewer shards carry is outvoted, and its shards are never used. Only headers that a shard on a trusted member
    /// carries may win (unless no such shard is intact): a member that missed writes may hold a segment's old shards,
    /// and its own shards never make a header the segment's.
    var candidates: [ShardHeader] {
        var counts: [ShardHeader: Int] = [:]
        var order: [ShardHeader] = []
        var vouched: Set<ShardHeader> = []
        for (index, shard) in intact.enumerated() {
            guard let header = shard?.header else { continue }
            if counts[header] == nil { order.append(header) }
            counts[header, default: 0] += 1
            if !distrusted.contains(index) { vouched.insert(header) }
        }
        let eligible = vouched.isEmpty ? order : order.filter { vouched.contains($0) }
        let most = eligible.map { counts[$0]! }.max() ?? 0
        return eligible.filter { counts[$0] == most }
    }

    /// The voted header (the first candidate); nil when no shard is intact.
    var header: ShardHeader? { candidates.first }

    /// The intact shards that carry `header`; nil elsewhere.
    func shards(carrying header: ShardHeader?) -> [[UInt8]?] {
        intact.map { shard in shard.flatMap { $0.header == header ? $0.bytes : nil } }
    }

    /// The intact shards whose header is not `header`: they lost the vote (or, in a tie, the other header won).
    func disagreeing(with header: ShardHeader?) -> [Int] {
        intact.indices.filter { intact[$0] != nil && intact[$0]!.header != header }
    }

    /// The problems, one line, for an error that says why a segment could not be read.
    var problemSummary: String {
        problems.sorted { $0.key < $1.key }.map { "shard \($0.key): \($0.value)" }.joined(separator: "; ")
    }
}

extension ErasureCodedStore {
    /// How many of a segment's missing or damaged `shards` may yet be intact where recovery cannot see them: on an
    /// absent member, or in a file that exists but cannot be read (an I/O error is not a torn write). A member whose
    /// file cannot be read is added to `state.absent`.
    func unseenShards(
        of shards: [[UInt8]?], stream: String, segment: UInt64, state: inout StreamRecovery
    ) -> Int {
        var unseen = 0
        for index in shards.indices where shards[index] == nil {
            let member = placement.member(ofShard: index, segment: segment, stream: stream)
            if state.absent.contains(where: { $0.index == member }) {
                unseen += 1
                continue
            }
            guard let layout = layout(of: member) else { continue }
            let path = layout.shard(stream, segment: segment)
            guard FileSystemCalls.exists(path) else { continue }
            do throws(StreamStorageError) {
                _ = try MemberFile.read(path, limit: codec.layout.fileBytes, what: "shard file")
            } catch {
                // A file too long to be a shard is damage anyone can see; only a failing read leaves it unseen.
                guard error.kind == .io else { continue }
                unseen += 1
                state.absent.append(
                    AbsentMember(
                        index: member, root: layout.root, reason: "cannot read \(path) (\(error))", failed: true))
            }
        }
        return unseen
    }

    /// Every shard of a segment, read and verified; see ``SegmentShards``. With `dataShardsSuffice`, the parity
    /// shards are read only when a data shard is missing or damaged or the data shards disagree. Shards on
    /// `distrusted` members only count with a header a trusted member's shard carries.
    func readSegmentShards(
        stream: String, segment: UInt64, dataShardsSuffice: Bool = false, distrusted: Set<Int> = []
    ) -> SegmentShards {
        var found = SegmentShards(
            intact: Array(repeating: nil, count: geometry.shardsPerSegment), problems: [:],
            distrusted: Set(
                (0..<geometry.shardsPerSegment).filter {
                    distrusted.contains(placement.member(ofShard: $0, segment: segment, stream: stream))
                }))
        func readShard(_ index: Int) {
            let member = placement.member(ofShard: index, segment: segment, stream: stream)
            guard let layout = layout(of: member) else {
                found.problems[index] = "member \(member) is missing"
                return
            }
            do throws(StreamStorageError) {
                let path = layout.shard(stream, segment: segment)
                let file = try MemberFile.read(path, limit: codec.layout.fileBytes, what: "shard file") {
                    self.reportMemberError(member, path: path, $0, "read")
                }
                do {
                    var (header, data) = try codec.parseShard(
                        file, arrayID: arrayID, stream: stream, segment: segment, index: index)
                    header.shardIndex = 0
                    found.intact[index] = (header, data)
                } catch {
                    found.problems[index] = "member \(member): \(error)"
                }
            } catch {
                found.problems[index] = "member \(member): \(error)"
            }
        }
        for index in 0..<geometry.dataShards { readShard(index) }
        let dataHeaders = found.intact[..<geometry.dataShards].compactMap { $0?.header }
        let dataAgree =
            dataHeaders.count == geometry.dataShards && Set(dataHeaders).count == 1
            && (0..<geometry.dataShards).contains { !found.distrusted.contains($0) }
        if !dataShardsSuffice || !dataAgree {
            for index in geometry.dataShards..<geometry.shardsPerSegment { readShard(index) }
        }
        return found
    }

    /// Every shard of a segment that is intact and carries the voted header (nil where missing, damaged or
    /// outvoted), and that header (see ``SegmentShards``).
    func readShards(
        stream: String, segment: UInt64, dataShardsSuffice: Bool = false, distrusted: Set<Int> = []
    ) -> ([[UInt8]?], ShardHeader?) {
        let read = readSegmentShards(
            stream: stream, segment: segment, dataShardsSuffice: dataShardsSuffice, distrusted: distrusted)
        let header = read.header
        return (read.shards(carrying: header), header)
    }

    /// Whether a copy of a segment's journal starts with format 1's magic.
    func hasFormatOneJournal(stream: String, segment: UInt64) -> Bool {
        placement.journalMembers(segment: segment, stream: stream).contains { member in
            guard let path = layout(of: member)?.journal(stream, segment: segment) else { return false }
            var magic = [UInt8](repeating: 0, count: 8)
            // Only asked when no copy parsed: an unreadable copy is counted as such by readJournalCopies.
            let count = magic.withUnsafeMutableBytes { (try? FileSystemCalls.read(path, into: $0)) ?? 0 }
            return count == 8 && magic == JournalHeader.formatOneMagic
        }
    }

    /// The journal copies of a segment, parsed, longest valid first (the most bytes: a journal started again holds
    /// its tail in one record). A copy's records count only as far as they authenticate under the journal key: a
    /// record whose CRC was recomputed over changed bytes, or records appended behind the real ones, end the copy
    /// there, so a lying copy is never taken for the longest and never written over the others.
    ///
    /// Copies on `distrusted` members (``MissedWrites``) are left out unless every member of the placement is
    /// distrusted: an acknowledged record is on every trusted member of the placement (one left out of its write
    /// recorded that it missed it), while a distrusted copy may hold an old journal of the segment, or a torn record
    /// as long as a newer one. (When every trusted member is unseen, recovery does not decide: see
    /// ``StreamRecovery/journalUndecided``.)
    func readJournalCopies(
        stream: String, segment: UInt64, distrusted: Set<Int> = []
    ) -> [StreamRecovery.JournalCopy] {
        var unreadable: [AbsentMember] = []
        return readJournalCopies(stream: stream, segment: segment, distrusted: distrusted, unreadable: &unreadable)
    }

    /// Like ``readJournalCopies(stream:segment:distrusted:)``, and adds to `unreadable` the trusted members whose copy
    /// exists but cannot be read (an I/O error): unlike a missing or damaged copy, such a copy is not known to lack
    /// anything.
    func readJournalCopies(
        stream: String, segment: UInt64, distrusted: Set<Int> = [], unreadable: inout [AbsentMember]
    ) -> [StreamRecovery.JournalCopy] {
        var copies: [StreamRecovery.JournalCopy] = []
        let (offset, overflow) = segment.multipliedReportingOverflow(by: UInt64(geometry.segmentBytes))
        guard !overflow else { return [] }
        let placed = placement.journalMembers(segment: segment, stream: stream)
        // With no trusted member in the placement, the distrusted copies are all there is.
        let distrusted = placed.allSatisfy { distrusted.contains($0) } ? [] : distrusted
        for member in placed {
            guard let layout = layout(of: member) else { continue }
            guard !distrusted.contains(member) else { continue }
            let path = layout.journal(stream, segment: segment)
            let read: [UInt8]?
            do {
                read = try MemberFile.readIfPresent(
                    path, limit: JournalHeader.fileLimit(segmentBytes: geometry.segmentBytes), what: "journal file"
                ) { self.reportMemberError(member, path: path, $0, "read") }
            } catch {
                // Too long to be a journal is damage anyone can see; only a failing read leaves the copy unseen.
                if error.kind == .io {
                    unreadable.append(
                        AbsentMember(
                            index: member, root: layout.root, reason: "cannot read \(path) (\(error))", failed: true))
                }
                continue
            }
            // No copy (never created, or removed) holds nothing; one whose header fails holds nothing this array wrote.
            guard let bytes = read, let (header, headerLength) = try? JournalHeader.decode(bytes),
                header.arrayID == arrayID, header.stream == stream, header.segment == segment,
                header.segmentOffset == offset
            else { continue }
            var (records, validLength) = JournalRecord.parseAll(
                bytes, from: headerLength, header: header, segmentBytes: geometry.segmentBytes)
            if let key = try? header.recordKey(journalKey: keys.journalKey) {
                let authentic = records.indices.first {
                    (try? records[$0].open(index: UInt64($0), header: header, key: key)) == nil
                }
                if let authentic {
                    records.removeSubrange(authentic...)
                    validLength = headerLength + records.reduce(0) { $0 + $1.encodedBytes }
                }
            } else {
                records = []
                validLength = headerLength
            }
            copies.append(
                StreamRecovery.JournalCopy(member: member, header: header, records: records, validLength: validLength))
        }
        return copies.sorted { first, second in
            let (firstBytes, secondBytes) = (first.plaintextBytes, second.plaintextBytes)
            return firstBytes != secondBytes ? firstBytes > secondBytes : first.member < second.member
        }
    }
}
