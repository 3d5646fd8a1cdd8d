import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// What a scrub found and fixed.
public struct ScrubReport: Sendable, Hashable, CustomStringConvertible {
    /// Shard files read and verified.
    public var shardsChecked = 0
    /// Shards that were missing, damaged or torn.
    public var shardsDamaged = 0
    /// Damaged shards rewritten from parity.
    public var shardsRepaired = 0
    /// Journal copies rewritten from an intact copy.
    public var journalsRepaired = 0
    /// Segments with more than m damaged shards, which nothing can repair.
    public var unrepairable: [String] = []
    /// Shards whose CRCs hold but which lie: outvoted on their header, or disagreeing with the segment's
    /// authenticated decode ("stream segment s shard i"). Counted as damaged, and rewritten once verified.
    public var shardsDisagreeing: [String] = []
    /// Segments whose intact shards disagree and which a scrub without the storage private key therefore left
    /// alone: only authentication tells which shard lies. Scrub again with the key.
    public var unverified: [String] = []
    /// Files in stream directories whose names are not ones the engine writes, or name a segment beyond the
    /// largest a stream can have: reported, never read.
    public var unrecognisedFiles: [String] = []
    /// Streams skipped because an appender held them.
    public var busyStreams: [String] = []
    /// Members absent during the scrub (missing, unlabelled, of another array or unreadable): while there are any,
    /// the scrub only verifies, and repairs nothing.
    public var absentMembers: [Int] = []
    /// Members that missed writes while they were absent and have not been rebuilt since: their shards and journal
    /// copies count only where they agree with the others', and the rest is rewritten as damage.
    public var distrustedMembers: [Int] = []

    /// A one-line summary.
    public var description: String {
        "checked \(shardsChecked) shards: \(shardsDamaged) damaged, \(shardsRepaired) repaired, "
            + "\(journalsRepaired) journal copies repaired, \(unrepairable.count) unrepairable"
            + (unrepairable.isEmpty ? "" : " (\(unrepairable.joined(separator: ", ")))")
            + (shardsDisagreeing.isEmpty ? "" : "; lying: \(shardsDisagreeing.joined(separator: ", "))")
            + (unverified.isEmpty ? "" : "; not verified without the key: \(unverified.joined(separator: ", "))")
            + (unrecognisedFiles.isEmpty ? "" : "; unrecognised: \(unrecognisedFiles.joined(separator: ", "))")
            + (busyStreams.isEmpty ? "" : "; busy, skipped: \(busyStreams.joined(separator: ", "))")
            + (absentMembers.isEmpty
                ? ""
                : "; nothing repaired while members are absent: \(absentMembers.map(String.init).joined(separator: ", "))")
    }
}

extension ErasureCodedStore {
    /// Verifies every shard's CRCs and rewrites damaged shards and journal copies, but only from what it verified.
    ///
    /// With the storage private key, each segment is decoded and authenticated (from other choices of k shards when
    /// the first do not authenticate), and every shard that is missing, damaged, outvoted on its header or differs
    /// from the authenticated decode is rewritten from it. Without the key, a segment is repaired only when the
    /// intact shards that carry the voted header are one codeword (``SegmentCodec/decodeConsistently(_:)``); when they
    /// disagree, one of them lies and nothing without the key can tell which, so the segment is reported as
    /// unverified and left alone. A stream being appended to is skipped and reported, so a scrub never races a
    /// writer.
    public func scrub() -> ScrubReport {
        scrub(resumingAfter: nil)
    }

    /// ``scrub()`` of the streams whose names come after `resumingAfter` (every stream when nil), in name order,
    /// reading at most `bytesPerSecond` shard bytes a second, so that appends keep their latency; `progress` is told
    /// after each stream, with the report so far, and returning false stops the scrub there. A scrub stopped (or a
    /// service restarted) resumes from the last stream it finished.
    public func scrub(
        resumingAfter: StreamName?, bytesPerSecond: Int? = nil,
        progress: (_ finished: StreamName, _ report: ScrubReport) -> Bool = { _, _ in true }
    ) -> ScrubReport {
        var report = ScrubReport()
        let throttle = RebuildThrottle(bytesPerSecond: bytesPerSecond, start: .now)
        // What looks damaged or missing may be whole on a member that cannot be seen.
        report.absentMembers = absentMembers().map(\.index)
        let repairs = report.absentMembers.isEmpty
        // A member that missed writes may hold old shards and journal copies: they are verified against the others',
        // and rewritten like damaged ones.
        let distrusted = distrustedMembers()
        report.distrustedMembers = distrusted.sorted()
        for stream in streamNames() where resumingAfter.map({ stream.rawValue > $0.rawValue }) ?? true {
            guard let lock = try? lockForMaintenance(stream.rawValue) else {
                report.busyStreams.append(stream.rawValue)
                guard progress(stream, report) else { break }
                continue
            }
            defer { for descriptor in lock { FileSystemCalls.release(descriptor) } }
            let (segments, unrecognised) = segmentIndicesAndUnrecognisedFiles(of: stream.rawValue)
            report.unrecognisedFiles += unrecognised
            for segment in segments {
                let shards = geometry.shardsPerSegment - missingMemberShards(stream: stream.rawValue, segment: segment)
                report.shardsChecked += shards
                scrub(
                    stream: stream.rawValue, segment: segment, repairing: repairs, distrusted: distrusted,
                    into: &report)
                throttle?.wrote(bytes: shards * geometry.shardFileBytes)
            }
            if repairs { report.journalsRepaired += repairJournals(stream: stream.rawValue, distrusted: distrusted) }
            guard progress(stream, report) else { break }
        }
        return report
    }

    /// Verifies one segment and rewrites the shards it found damaged or lying, from a verified decode only, and only
    /// when `repairing` (no member is absent).
    private func scrub(
        stream: String, segment: UInt64, repairing: Bool, distrusted: Set<Int>, into report: inout ScrubReport
    ) {
        let read = readSegmentShards(stream: stream, segment: segment, distrusted: distrusted)
        let name = "\(stream) segment \(segment)"
        let onPresentMembers = (0..<geometry.shardsPerSegment).filter {
            members[placement.member(ofShard: $0, segment: segment, stream: stream)] != nil
        }
        var verified: (header: ShardHeader, stripe: [[UInt8]], disagreeing: [Int])?
        // Keys that cannot be had now (locked, their service away) leave the scrub where it is without them.
        var keysAnswered = keys.segmentKeys != nil
        if let opener = keys.segmentKeys {
            for header in read.candidates {
                let decoded: SegmentCodec.AuthenticatedSegment
                do {
                    decoded = try codec.openAuthenticated(read.shards(carrying: header), header: header, opener: opener)
                } catch {
                    if error.kind == .configuration { keysAnswered = false }
                    continue
                }
                verified = (header, decoded.stripe, (read.disagreeing(with: header) + decoded.disagreeing).sorted())
                break
            }
        }
        if verified == nil, !keysAnswered, read.candidates.count == 1, let header = read.header,
            let stripe = codec.decodeConsistently(read.shards(carrying: header))
        {
            verified = (header, stripe, read.disagreeing(with: header))
        }
        guard let verified else {
            let header = read.header
            let usable = read.shards(carrying: header).compactMap { $0 }.count
            report.shardsDamaged += onPresentMembers.filter { read.intact[$0]?.header != header }.count
            if !keysAnswered && usable >= geometry.dataShards {
                report.unverified.append(name)
            } else {
                report.unrepairable.append(name)
            }
            return
        }
        let rewrite = onPresentMembers.filter { read.intact[$0] == nil || verified.disagreeing.contains($0) }
        report.shardsDamaged += rewrite.count
        report.shardsDisagreeing += verified.disagreeing.map { "\(name) shard \($0)" }
        guard !rewrite.isEmpty, repairing else { return }
        do {
            report.shardsRepaired += try rewriteShards(
                stream: stream, segment: segment, stripe: verified.stripe, header: verified.header, indices: rewrite
            ).count
        } catch {
            report.unrepairable.append(name)
        }
    }

    /// Segment indices with any shard file on any member.
    func segmentIndices(of stream: String) -> [UInt64] {
        segmentIndicesAndUnrecognisedFiles(of: stream).segments
    }

    /// Segment indices with any shard file on any member, and the files whose names are not ones the engine writes
    /// ("member m: name"; see ``MemberLayout/indices(in:segmentBytes:)``), with any directory that could not be
    /// listed among them: a scrub reports it rather than taking it for an empty one.
    func segmentIndicesAndUnrecognisedFiles(of stream: String) -> (segments: [UInt64], unrecognised: [String]) {
        var indices: Set<UInt64> = []
        var unrecognised: [String] = []
        for (member, root) in members.sorted(by: { $0.key < $1.key }) {
            let names: [String]
            do {
                names = try FileSystemCalls.entries(of: MemberLayout(root: root).streamDirectory(stream))
            } catch {
                unrecognised.append("member \(member): \(stream)/ cannot be listed (\(error))")
                continue
            }
            let found = MemberLayout.indices(in: names, segmentBytes: geometry.segmentBytes)
            indices.formUnion(found.shards)
            unrecognised += found.unrecognised.map { "member \(member): \(stream)/\($0)" }
        }
        return (indices.sorted(), unrecognised)
    }

    /// Shards of a segment that belong on members absent from this assembly: not damage a scrub can see or fix.
    func missingMemberShards(stream: String, segment: UInt64) -> Int {
        (0..<geometry.shardsPerSegment).filter {
            members[placement.member(ofShard: $0, segment: segment, stream: stream)] == nil
        }.count
    }

    /// Makes every present copy of each journal of the stream equal to the longest intact trusted one (copies on
    /// `distrusted` members, which missed writes, are rewritten like damaged ones, see
    /// ``readJournalCopies(stream:segment:distrusted:unreadable:)``); returns the copies rewritten. Nothing while a
    /// member is absent. The caller holds the stream's lock (``lockForMaintenance(_:)``): an appender's copies are its
    /// own.
    func repairJournals(stream: String, distrusted: Set<Int> = []) -> Int {
        guard absentMembers().isEmpty else { return 0 }
        var repaired = 0
        // A directory that cannot be listed names no journal here; the scrub reports it (see
        // segmentIndicesAndUnrecognisedFiles).
        let names = Set(
            members.values.flatMap {
                MemberLayout.indices(
                    in: (try? FileSystemCalls.entries(of: MemberLayout(root: $0).streamDirectory(stream))) ?? [],
                    segmentBytes: geometry.segmentBytes
                )
                .journals
            })
        for segment in names {
            var unreadable: [AbsentMember] = []
            let copies = readJournalCopies(
                stream: stream, segment: segment, distrusted: distrusted, unreadable: &unreadable)
            // Only what authenticated is copied (see readJournalCopies), and only from the bytes it was read from; and
            // nothing while a copy cannot be read, since it may hold more than the longest that can. A source that
            // cannot be read a second time is not copied from.
            guard unreadable.isEmpty, let longest = copies.first, let source = layout(of: longest.member),
                let bytes = try? MemberFile.read(
                    source.journal(stream, segment: segment),
                    limit: JournalHeader.fileLimit(segmentBytes: geometry.segmentBytes), what: "journal file"),
                bytes.count >= longest.validLength
            else { continue }
            let valid = Array(bytes[..<longest.validLength])
            for member in placement.journalMembers(segment: segment, stream: stream) {
                guard let layout = layout(of: member) else { continue }
                let path = layout.journal(stream, segment: segment)
                // Whatever follows a copy's records is never read (see JournalHeader): a copy with the longest one's
                // records is whole.
                let copy = copies.first { $0.member == member }
                if let copy, copy.header == longest.header, copy.validLength == longest.validLength { continue }
                do {
                    try layout.createStreamDirectory(stream)
                    try valid.withUnsafeBytes {
                        try FileSystemCalls.writeAtomically($0, to: path, permissions: MemberLayout.filePermissions)
                    }
                    repaired += 1
                } catch {
                    continue
                }
            }
        }
        return repaired
    }

    /// Takes the stream's appender lock (on every present member, as an appender does), so maintenance and a writer
    /// never touch the same stream at once.
    func lockForMaintenance(_ stream: String) throws(StreamStorageError) -> [FileDescriptor] {
        try ErasureStreamAppender.acquireLock(store: self, stream: stream)
    }
}
