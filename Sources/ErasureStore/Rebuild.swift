import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// How far a rebuild has come.
public struct RebuildProgress: Sendable, Hashable {
    /// Segments examined so far.
    public var segmentsDone: Int
    /// Segments to examine in all.
    public var segmentsTotal: Int
    /// Shard bytes written and flushed so far: a shard counts once it is durable on the member.
    public var bytesWritten: Int
    /// Bytes written and flushed per second since the rebuild started.
    public var bytesPerSecond: Double
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
}

extension ErasureCodedStore {
    /// Labels a blank directory as member `index` of this array: the first step of replacing a failed disk.
    /// Refused when the directory carries any label, so a foreign disk is never wiped by mistake.
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
            return
        }
        do {
            try layout.writeLabel(MemberIdentity(arrayID: arrayID, index: index, geometry: geometry))
        } catch {
            throw .io("labelling the replacement", path: root.string, error: error)
        }
    }

    /// Reconstructs every shard and journal copy that belongs on member `index` from the other members, without
    /// any key, and flushes them. Resumable: shards already on the member are verified, intact ones kept, torn or
    /// damaged ones rewritten. `bytesPerSecond` throttles the writes.
    ///
    /// For each segment only the k other shards reconstruction needs are read (more when some are missing or
    /// damaged). Two readers share the segments; each writes the shards it rebuilds without a flush of its own, and
    /// they are flushed in batches (``RebuildBatch``); `progress` counts a shard's bytes once they are flushed. A
    /// failure to write to the member throws; a segment with more than m lost shards is reported as unrepairable and
    /// the rebuild goes on.
    public func rebuild(
        member index: Int, bytesPerSecond: Int? = nil, progress: (RebuildProgress) -> Void = { _ in }
    ) throws(StreamStorageError) -> RebuildReport {
        guard let target = layout(of: index) else {
            throw .configuration("member \(index) is not part of this assembly; adopt the replacement first")
        }
        // Other members may be absent: a rebuild writes only to its target, from k intact shards that agree, and
        // never acts on a shard it cannot see. The target itself must be there and labelled as itself.
        if let absent = absentMembers().first(where: { $0.index == index }) {
            throw Self.refusal("to rebuild member \(index)", absent: [absent])
        }
        let work = RebuildWork(
            segments: streamNames().flatMap { stream in
                segmentIndices(of: stream.rawValue).map { (stream.rawValue, $0) }
            })
        let start = ContinuousClock.now
        let throttle = RebuildThrottle(bytesPerSecond: bytesPerSecond, start: start)
        let readers = Self.rebuildReaders
        let writer = RebuildWriter(store: self, member: index)
        func report(examined: Int, to progress: (RebuildProgress) -> Void) {
            let seconds = RebuildThrottle.seconds(since: start)
            let flushed = writer.flushedBytes
            progress(
                RebuildProgress(
                    segmentsDone: examined, segmentsTotal: work.segments.count, bytesWritten: flushed,
                    bytesPerSecond: seconds > 0 ? Double(flushed) / seconds : 0))
        }
        // The first reader is the caller's thread, which alone reports progress (runAll returns only after every
        // reader has ended); the others run on the background lane. Failures are in `work`.
        try withoutActuallyEscaping(progress) { progress throws(StreamStorageError) in
            try executor.background.runAll(
                [
                    {
                        self.rebuildSegments(member: index, work: work, writer: writer, throttle: throttle) {
                            report(examined: $0, to: progress)
                        }
                    }
                ]
                    + (1..<readers).map { _ in
                        { self.rebuildSegments(member: index, work: work, writer: writer, throttle: throttle) }
                    })
        }
        var (result, failure) = work.result
        if let failure {
            writer.abandon()
            throw failure
        }
        try writer.finish()
        report(examined: work.segments.count, to: progress)
        // Journal copies are rewritten on any member, so only while every member is present (repairJournals
        // checks): the rebuild of the last replacement writes them.
        for stream in streamNames() {
            let before = journalCopiesPresent(stream: stream.rawValue, on: target)
            _ = repairJournals(stream: stream.rawValue)
            result.journalsWritten += journalCopiesPresent(stream: stream.rawValue, on: target) - before
        }
        return result
    }

    /// Reader threads of a rebuild, each reading, checking and reconstructing a segment's shard, then writing it. Two
    /// keep two cores busy, and two reads in flight keep the disk busier than one.
    static var rebuildReaders: Int { min(2, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    /// Only a count for the report: a directory that cannot be listed counts none, and the rebuild's own writes to it
    /// have reported their errors already.
    private func journalCopiesPresent(stream: String, on layout: MemberLayout) -> Int {
        MemberLayout.indices(
            in: (try? FileSystemCalls.entries(of: layout.streamDirectory(stream))) ?? [],
            segmentBytes: geometry.segmentBytes
        ).journals.count
    }
}
