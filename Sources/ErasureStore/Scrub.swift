import DurableFiles
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
    /// Streams skipped because an appender held them.
    public var busyStreams: [String] = []
    /// Members absent during the scrub (missing, unlabelled, of another array or unreadable): while there are any,
    /// the scrub only verifies, and repairs nothing.
    public var absentMembers: [Int] = []

    /// A one-line summary.
    public var description: String {
        "checked \(shardsChecked) shards: \(shardsDamaged) damaged, \(shardsRepaired) repaired, "
            + "\(journalsRepaired) journal copies repaired, \(unrepairable.count) unrepairable"
            + (unrepairable.isEmpty ? "" : " (\(unrepairable.joined(separator: ", ")))")
            + (busyStreams.isEmpty ? "" : "; busy, skipped: \(busyStreams.joined(separator: ", "))")
            + (absentMembers.isEmpty
                ? ""
                : "; nothing repaired while members are absent: \(absentMembers.map(String.init).joined(separator: ", "))")
    }
}

extension ErasureCodedStore {
    /// Verifies every shard's CRCs, without any key, and rewrites damaged shards from parity and damaged journal
    /// copies from an intact one. A stream being appended to is skipped and reported, so a scrub never races a
    /// writer.
    public func scrub() -> ScrubReport {
        var report = ScrubReport()
        // What looks damaged or missing may be whole on a member that cannot be seen.
        report.absentMembers = absentMembers().map(\.index)
        let repairs = report.absentMembers.isEmpty
        for stream in streamNames() {
            guard let lock = try? lockForMaintenance(stream.rawValue) else {
                report.busyStreams.append(stream.rawValue)
                continue
            }
            defer { try? lock.close() }
            for segment in segmentIndices(of: stream.rawValue) {
                let (shards, header) = readShards(stream: stream.rawValue, segment: segment)
                let damaged = shards.filter { $0 == nil }.count
                report.shardsChecked += shards.count - missingMemberShards(stream: stream.rawValue, segment: segment)
                report.shardsDamaged += damaged - missingMemberShards(stream: stream.rawValue, segment: segment)
                guard damaged > 0, repairs else { continue }
                guard let header,
                    let repaired = try? repairShards(
                        stream: stream.rawValue, segment: segment, shards: shards, header: header)
                else {
                    report.unrepairable.append("\(stream) segment \(segment)")
                    continue
                }
                report.shardsRepaired += repaired.count
            }
            if repairs { report.journalsRepaired += repairJournals(stream: stream.rawValue) }
        }
        return report
    }

    /// Segment indices with any shard file on any member.
    func segmentIndices(of stream: String) -> [UInt64] {
        var indices: Set<UInt64> = []
        for root in members.values {
            let names = (try? FileSystemCalls.entries(of: MemberLayout(root: root).streamDirectory(stream))) ?? []
            indices.formUnion(MemberLayout.indices(in: names).shards)
        }
        return indices.sorted()
    }

    /// Shards of a segment that belong on members absent from this assembly: not damage a scrub can see or fix.
    func missingMemberShards(stream: String, segment: UInt64) -> Int {
        (0..<geometry.shardsPerSegment).filter {
            members[placement.member(ofShard: $0, segment: segment, stream: stream)] == nil
        }.count
    }

    /// Makes every present copy of the open journal equal to the longest intact one; returns the copies rewritten.
    func repairJournals(stream: String) -> Int {
        guard absentMembers().isEmpty else { return 0 }
        var repaired = 0
        let names = Set(
            members.values.flatMap {
                MemberLayout.indices(
                    in: (try? FileSystemCalls.entries(of: MemberLayout(root: $0).streamDirectory(stream))) ?? []
                )
                .journals
            })
        for segment in names {
            let copies = readJournalCopies(stream: stream, segment: segment)
            guard let longest = copies.first, let source = layout(of: longest.member),
                let bytes = try? FileSystemCalls.readAll(source.journal(stream, segment: segment))
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
                    try valid.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
                    repaired += 1
                } catch {
                    continue
                }
            }
        }
        return repaired
    }

    /// Takes the stream's appender lock, so maintenance and a writer never touch the same stream at once.
    func lockForMaintenance(_ stream: String) throws -> FileDescriptor {
        guard let member = members.keys.min() else { throw StreamStorageError.unavailable("the array has no members") }
        let layout = try requireLayout(member)
        try layout.createStreamDirectory(stream)
        let descriptor = try FileDescriptor.open(
            layout.lock(stream), .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
            try? descriptor.close()
            throw StreamStorageError.streamBusy(try StreamName(stream))
        }
        return descriptor
    }
}
