import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// How far a rebuild has come.
public struct RebuildProgress: Sendable, Hashable {
    /// Segments examined so far.
    public var segmentsDone: Int
    /// Segments to examine in all (it grows when segments written since the start are examined too).
    public var segmentsTotal: Int
    /// Shard bytes written and flushed so far: a shard counts once it is durable on the member.
    public var bytesWritten: Int
    /// Bytes written and flushed per second since the rebuild started.
    public var bytesPerSecond: Double
    /// Shards found intact on the member so far (a resumed rebuild's earlier work, or what a member back from an
    /// absence still held), and so not written.
    public var shardsAlreadyIntact: Int = 0
    /// The bytes of those shard files.
    public var bytesAlreadyIntact: Int = 0
}

/// What a rebuild did.
public struct RebuildReport: Sendable, Hashable {
    /// Shards written to the replaced member.
    public var shardsWritten: Int
    /// Shards already intact on it (a resumed rebuild finds its earlier work here).
    public var shardsAlreadyIntact: Int
    /// Shard files read from the other members to reconstruct the shards written.
    public var shardsRead: Int
    /// Journal copies written to it.
    public var journalsWritten: Int
    /// Segments that could not be rebuilt because more than m of their shards are lost.
    public var unrepairable: [String]
    /// Journal copies the rebuild could not bring up to date ("stream segment s: why"): a stream being appended to
    /// whose appender has not yet given the member its journal back, or a journal whose trusted copies are all on
    /// absent members. Rebuild again later.
    public var journalsBehind: [String] = []
    /// Whether the member is caught up: every shard (of every segment within its stream: a torn write beyond its
    /// end is none) and journal copy that belongs on it is verified or rewritten, and the records that it missed
    /// writes (seen when the rebuild started) are removed, so its copies count as any member's again.
    public var caughtUp = false
}

extension ErasureCodedStore {
    /// Labels a blank directory as member `index` of this array: the first step of replacing a failed disk.
    /// Refused when the directory carries any label, so a foreign disk is never wiped by mistake (one labelled as this
    /// very position of this array is taken as it is). Where the position is absent, this store uses the directory for
    /// it at once; other stores find it when they next look for absent members (``MemberDirectories``).
    public func adoptReplacement(_ root: FilePath, as index: Int) throws(StreamStorageError) {
        guard (0..<geometry.memberCount).contains(index) else {
            throw .configuration("member index \(index) is outside 0..<\(geometry.memberCount)")
        }
        let layout = MemberLayout(root: root)
        // A label that cannot be read refuses the adoption (it throws): an unreadable disk is never taken for a
        // blank one.
        if let bytes = try MemberFile.readIfPresent(layout.identity, limit: MemberFile.labelLimit, what: "member label")
        {
            let identity = try? MemberIdentity(decoding: bytes)
            guard identity?.arrayID == arrayID && identity?.index == index else {
                throw .configuration("\(root) carries another label; it is not blank, refusing to adopt it")
            }
        } else {
            do {
                try layout.writeLabel(MemberIdentity(arrayID: arrayID, index: index, geometry: geometry))
            } catch {
                throw .io("labelling the replacement", path: root.string, error: error)
            }
        }
        // This store uses it at once where the position is absent (other stores find it when they look again).
        if absentMembers().contains(where: { $0.index == index }) { directories.assign(root, as: index) }
    }

    /// Reconstructs every shard and journal copy that belongs on member `index` from the other members, without
    /// any key, and flushes them. Resumable: shards already on the member are verified, intact ones kept, torn or
    /// damaged ones rewritten. `bytesPerSecond` throttles the writes.
    ///
    /// A member back from an absence during which others took writes (``MissedWrites``) is caught up the same way:
    /// each of its shards is kept only if it carries the header the others vote for, and each of its journal copies
    /// only if it is the trusted copies' journal; the rest is rewritten, and an old journal no trusted member holds is
    /// removed. Segments written since the rebuild started are examined too, so a rebuild may run while another
    /// process appends (which writes its new segments to the member already). Once everything is verified, the
    /// records that the member missed writes are removed (``RebuildReport/caughtUp``).
    ///
    /// For each segment only the k other shards reconstruction needs are read (more when some are missing or
    /// damaged). Two readers share the segments; each writes the shards it rebuilds without a flush of its own, and
    /// they are flushed in batches (``RebuildBatch``); `progress` counts a shard's bytes once they are flushed. A
    /// failure to write to the member throws; a segment with more than m lost shards is reported as unrepairable and
    /// the rebuild goes on.
    public func rebuild(
        member index: Int, bytesPerSecond: Int? = nil, progress: (RebuildProgress) -> Void = { _ in }
    ) throws(StreamStorageError) -> RebuildReport {
        // Other members may be absent: a rebuild writes only to its target, from k intact shards that agree, and
        // never acts on a shard it cannot see. The target itself must be there and labelled as itself (looking
        // for absent members also finds a replacement adopted since, see MemberDirectories).
        let absentNow = absentMembers(forcingRescan: true)
        guard let target = layout(of: index) else {
            throw .configuration("member \(index) is not part of this assembly; adopt the replacement first")
        }
        if let absent = absentNow.first(where: { $0.index == index }) {
            throw Self.refusal("to rebuild member \(index)", absent: [absent])
        }
        // The records seen now are the ones a complete rebuild may remove: one made later (the member went away
        // again while another process appended) stays.
        let records = missedWrites()
        let start = ContinuousClock.now
        let throttle = RebuildThrottle(bytesPerSecond: bytesPerSecond, start: start)
        let writer = RebuildWriter(store: self, member: index)
        var result = RebuildReport(
            shardsWritten: 0, shardsAlreadyIntact: 0, shardsRead: 0, journalsWritten: 0, unrepairable: [])
        var examined: Set<String> = []
        var lost: [(stream: String, segment: UInt64)] = []
        var pending = segmentsToRebuild()
        var done = 0
        var total = pending.count
        func report(examined: Int, intact: Int, to progress: (RebuildProgress) -> Void) {
            let seconds = RebuildThrottle.seconds(since: start)
            let flushed = writer.flushedBytes
            progress(
                RebuildProgress(
                    segmentsDone: examined, segmentsTotal: total, bytesWritten: flushed,
                    bytesPerSecond: seconds > 0 ? Double(flushed) / seconds : 0, shardsAlreadyIntact: intact,
                    bytesAlreadyIntact: intact * geometry.shardFileBytes))
        }
        // The segments listed at the start, then those written since (at most a few passes: an appender writes its
        // new segments to the member itself, so only those begun before it came back are left to catch).
        for _ in 0..<Self.rebuildPasses where !pending.isEmpty {
            let work = RebuildWork(segments: pending, distrusted: records.members)
            let before = (done, result.shardsAlreadyIntact)
            // The first reader is the caller's thread, which alone reports progress (runAll returns only after every
            // reader has ended); the others run on the background lane. Failures are in `work`.
            try withoutActuallyEscaping(progress) { progress throws(StreamStorageError) in
                try executor.background.runAll(
                    [
                        {
                            self.rebuildSegments(member: index, work: work, writer: writer, throttle: throttle) {
                                report(
                                    examined: before.0 + $0, intact: before.1 + work.shardsAlreadyIntact, to: progress)
                            }
                        }
                    ]
                        + (1..<Self.rebuildReaders).map { _ in
                            { self.rebuildSegments(member: index, work: work, writer: writer, throttle: throttle) }
                        })
            }
            let (pass, failure) = work.result
            if let failure {
                writer.abandon()
                throw failure
            }
            result.shardsWritten += pass.shardsWritten
            result.shardsAlreadyIntact += pass.shardsAlreadyIntact
            result.shardsRead += pass.shardsRead
            result.unrepairable += pass.unrepairable
            lost += work.unrepairableSegments
            done += pending.count
            examined.formUnion(pending.map { "\($0.stream) \($0.segment)" })
            pending = segmentsToRebuild().filter { !examined.contains("\($0.stream) \($0.segment)") }
            total = done + pending.count
        }
        // A segment found unrepairable may only have been in flight: an appender writing its shards as the rebuild
        // looked, fewer than k of them there yet. Looked at once more before it is reported.
        if !lost.isEmpty {
            let again = RebuildWork(segments: lost, distrusted: records.members)
            rebuildSegments(member: index, work: again, writer: writer, throttle: throttle)
            let (pass, failure) = again.result
            if let failure {
                writer.abandon()
                throw failure
            }
            result.shardsWritten += pass.shardsWritten
            result.shardsAlreadyIntact += pass.shardsAlreadyIntact
            result.shardsRead += pass.shardsRead
            result.unrepairable = pass.unrepairable
            lost = again.unrepairableSegments
        }
        try writer.finish()
        report(examined: done, intact: result.shardsAlreadyIntact, to: progress)
        let absent = Set(absentMembers().map(\.index))
        for stream in streamNames() {
            let journals = catchUpJournals(
                stream: stream.rawValue, target: index, distrusted: records.members, absent: absent, on: target)
            result.journalsWritten += journals.written
            result.journalsBehind += journals.behind
        }
        // A segment lost beyond where its stream ends is a torn write (an appender's recovery removes it): the
        // member's shard of it is no data, and does not keep it from being caught up. One within the stream does.
        var ends: [String: UInt64?] = [:]
        let lostWithin = lost.filter { stream, segment in
            if ends[stream] == nil { ends[stream] = .some((try? StreamRecovery.scan(self, stream: stream))?.committed) }
            guard let end = ends[stream]! else { return true }
            return segment < end
        }
        result.caughtUp = pending.isEmpty && lostWithin.isEmpty && result.journalsBehind.isEmpty
        if result.caughtUp, let tokens = records.tokens[index] { clearMissedWrites(of: index, tokens: tokens) }
        return result
    }

    /// At most this many passes over the segments: the first over those listed at the start, the others over the
    /// segments written meanwhile.
    static let rebuildPasses = 3

    private func segmentsToRebuild() -> [(stream: String, segment: UInt64)] {
        streamNames().flatMap { stream in segmentIndices(of: stream.rawValue).map { (stream.rawValue, $0) } }
    }

    /// Brings the copies on `target` of every journal of `stream` up to date with the trusted copies (those on
    /// members that did not miss writes): a copy that differs is rewritten to the longest trusted one, and a copy of
    /// a journal no trusted member holds (all of them present) is an old one, and is removed. Only while no appender
    /// holds the stream: its journal's copies are its own, and an appender gives a member that is back its journal
    /// itself (``JournalWriter/rejoinReturnedMembers()``); then the copy is only checked. Returns the copies written
    /// or removed, and those it could not bring up to date.
    private func catchUpJournals(
        stream: String, target: Int, distrusted: Set<Int>, absent: Set<Int>, on layout: MemberLayout
    ) -> (written: Int, behind: [String]) {
        // With more members absent than appends go on without, the members locked may miss those an appender of
        // another process locked: the copies are then only checked.
        let lock = absent.count <= absentWriteLimit ? try? lockForMaintenance(stream) : nil
        defer { for descriptor in lock ?? [] { FileSystemCalls.release(descriptor) } }
        let busy = lock == nil
        var segments: Set<UInt64> = []
        for root in members.values {
            let names = (try? FileSystemCalls.entries(of: MemberLayout(root: root).streamDirectory(stream))) ?? []
            segments.formUnion(MemberLayout.indices(in: names, segmentBytes: geometry.segmentBytes).journals)
        }
        var written = 0
        var behind: [String] = []
        for segment in segments.sorted() {
            let placed = placement.journalMembers(segment: segment, stream: stream)
            guard placed.contains(target) else { continue }
            let name = "\(stream) segment \(segment)"
            var unreadable: [AbsentMember] = []
            // The target's own copy counts only if it did not miss writes (a resumed rebuild's earlier work).
            let trusted = readJournalCopies(
                stream: stream, segment: segment, distrusted: distrusted, unreadable: &unreadable
            ).filter { !distrusted.contains($0.member) }
            let own = readJournalCopies(stream: stream, segment: segment).first { $0.member == target }
            let path = layout.journal(stream, segment: segment)
            let unseen = absent.union(unreadable.map(\.index))
            let others = placed.filter { !distrusted.contains($0) && $0 != target }
            guard let longest = trusted.first else {
                if others.isEmpty || others.contains(where: unseen.contains) {
                    if own != nil { behind.append("\(name): no trusted copy can be seen to check it against") }
                } else if FileSystemCalls.exists(path) {
                    if busy {
                        behind.append("\(name): the stream is being appended to (or could not be locked)")
                    } else {
                        // An old journal: every trusted member of its placement is present and holds none.
                        _ = JournalPool.wipeHeader(
                            path, bytes: JournalHeader.encodedCount(nameBytes: stream.utf8.count))
                        if (try? FileSystemCalls.remove(path)) != nil { written += 1 }
                    }
                }
                continue
            }
            if let own, own.header == longest.header, busy || own.validLength == longest.validLength { continue }
            if busy {
                behind.append(
                    "\(name): the stream is being appended to (or could not be locked), and its appender has not "
                        + "given the member the journal back yet")
                continue
            }
            guard let source = self.layout(of: longest.member),
                let bytes = try? MemberFile.read(
                    source.journal(stream, segment: segment),
                    limit: JournalHeader.fileLimit(segmentBytes: geometry.segmentBytes), what: "journal file"),
                bytes.count >= longest.validLength
            else {
                behind.append("\(name): the trusted copy on member \(longest.member) cannot be read again")
                continue
            }
            do {
                try layout.createStreamDirectory(stream)
                try Array(bytes[..<longest.validLength]).withUnsafeBytes {
                    try FileSystemCalls.writeAtomically($0, to: path, permissions: MemberLayout.filePermissions)
                }
                written += 1
            } catch {
                reportMemberError(target, path: path, error, "rewrite")
                behind.append("\(name): \(error)")
            }
        }
        return (written, behind)
    }

    /// Reader threads of a rebuild, each reading, checking and reconstructing a segment's shard, then writing it. Two
    /// keep two cores busy, and two reads in flight keep the disk busier than one.
    static var rebuildReaders: Int { min(2, max(1, ProcessInfo.processInfo.activeProcessorCount)) }
}
