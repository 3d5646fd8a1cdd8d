import Foundation
import StoreFormat
import StreamStore

/// The segments of a rebuild, shared by its reader threads: each takes the next segment to examine and adds what it
/// did to the tallies; the first failure stops them all.
final class RebuildWork: Sendable {
    /// What examining one segment did.
    enum Outcome {
        /// No shard of the segment belongs on the member.
        case elsewhere
        /// The member's shard is there and intact.
        case intact
        /// The member's shard was reconstructed and written.
        case written
        /// Fewer than k intact shards agree: the segment cannot be rebuilt.
        case unrepairable
    }

    private struct Progress {
        var next = 0
        var examined = 0
        var tally = RebuildReport(
            shardsWritten: 0, shardsAlreadyIntact: 0, shardsRead: 0, journalsWritten: 0, unrepairable: [])
        var failure: StreamStorageError?
        var lost: [(stream: String, segment: UInt64)] = []
    }

    let segments: [(stream: String, segment: UInt64)]
    /// Members that missed writes (``MissedWrites``), the rebuilt one among them if it did.
    let distrusted: Set<Int>
    private let progress = Guarded(Progress())

    init(segments: [(stream: String, segment: UInt64)], distrusted: Set<Int> = []) {
        self.segments = segments
        self.distrusted = distrusted
    }

    /// Shards found intact on the member so far.
    var shardsAlreadyIntact: Int { progress.withLock(waking: .none) { $0.tally.shardsAlreadyIntact } }

    /// The next segment to examine, or nil when none is left or a reader has failed.
    func take() -> (stream: String, segment: UInt64)? {
        progress.withLock { progress in
            guard progress.failure == nil, progress.next < segments.count else { return nil }
            progress.next += 1
            return segments[progress.next - 1]
        }
    }

    /// Records what examining `segment` did, having read `shardsRead` shard files; returns the segments examined.
    func record(_ outcome: Outcome, stream: String, segment: UInt64, shardsRead: Int) -> Int {
        progress.withLock { progress in
            progress.examined += 1
            progress.tally.shardsRead += shardsRead
            switch outcome {
            case .elsewhere: break
            case .intact: progress.tally.shardsAlreadyIntact += 1
            case .written: progress.tally.shardsWritten += 1
            case .unrepairable:
                progress.tally.unrepairable.append("\(stream) segment \(segment)")
                progress.lost.append((stream, segment))
            }
            return progress.examined
        }
    }

    /// The segments found unrepairable.
    var unrepairableSegments: [(stream: String, segment: UInt64)] { progress.withLock(waking: .none) { $0.lost } }

    func fail(_ error: StreamStorageError) {
        progress.withLock { if $0.failure == nil { $0.failure = error } }
    }

    /// The tallies, in segment order, and the first failure.
    var result: (report: RebuildReport, failure: StreamStorageError?) {
        let (tally, failure) = progress.withLock { ($0.tally, $0.failure) }
        var report = tally
        // Readers finish out of order; a report lists segments in order.
        let order = Dictionary(
            segments.enumerated().map { ("\($0.element.stream) segment \($0.element.segment)", $0.offset) },
            uniquingKeysWith: { first, _ in first })
        report.unrepairable.sort { order[$0, default: 0] < order[$1, default: 0] }
        return (report, failure)
    }
}

extension ErasureCodedStore {
    /// Examines segments taken from `work` until none is left, rebuilding the shard of each that belongs on `member`
    /// and is not intact there; `examined` is called after each with the count examined by all readers.
    func rebuildSegments(
        member: Int, work: RebuildWork, writer: RebuildWriter, throttle: RebuildThrottle?,
        examined: (Int) -> Void = { _ in }
    ) {
        let distrusted = work.distrusted
        // One stripe per reader, reused for every segment it examines.
        let stripe = RebuildStripe(geometry: geometry)
        while let (stream, segment) = work.take() {
            var read = 0
            do {
                let outcome = try rebuildSegment(
                    stream: stream, segment: segment, member: member, stripe: stripe, writer: writer,
                    distrusted: distrusted, read: &read)
                if outcome == .written { throttle?.wrote(bytes: geometry.shardFileBytes) }
                examined(work.record(outcome, stream: stream, segment: segment, shardsRead: read))
            } catch {
                work.fail(error)
            }
        }
    }

    /// Rebuilds the shard of one segment that belongs on `member`, unless it is there and intact: reads only the k
    /// other shards it needs, reconstructs it and writes it. `read` counts the shard files read.
    private func rebuildSegment(
        stream: String, segment: UInt64, member: Int, stripe: RebuildStripe, writer: RebuildWriter,
        distrusted: Set<Int>, read: inout Int
    ) throws(StreamStorageError) -> RebuildWork.Outcome {
        guard
            let index = (0..<geometry.shardsPerSegment).first(where: {
                placement.member(ofShard: $0, segment: segment, stream: stream) == member
            }), let target = layout(of: member)
        else { return .elsewhere }
        // A resumed rebuild verifies what an earlier run wrote, and a member back from an absence what it held: a torn,
        // damaged or old file (another write's header) is rewritten like a missing one.
        let path = target.shard(stream, segment: segment)
        let existing = RebuildShardFile(
            path, arrayID: arrayID, stream: stream, segment: segment, index: index, geometry: geometry
        ) { self.reportMemberError(member, path: path, $0, "read") }
        defer { existing?.close() }
        switch reconstructShard(
            stream: stream, segment: segment, target: index, into: stripe, read: &read, distrusted: distrusted,
            existing: existing)
        {
        case .intact:
            return .intact
        case .unrepairable:
            return .unrepairable
        case .reconstructed(let header):
            try writer.write(stripe, header: header, index: index, stream: stream, segment: segment)
            return .written
        }
    }
}

/// Holds a rebuild to a rate: after each shard a reader waits until the bytes written so far are due.
final class RebuildThrottle: Sendable {
    private let bytesPerSecond: Int
    private let start: ContinuousClock.Instant
    private let written = Guarded(0)

    init?(bytesPerSecond: Int?, start: ContinuousClock.Instant) {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return nil }
        self.bytesPerSecond = bytesPerSecond
        self.start = start
    }

    func wrote(bytes: Int) {
        let total = written.withLock { written in
            written += bytes
            return written
        }
        let due = Double(total) / Double(bytesPerSecond) - Self.seconds(since: start)
        if due > 0 { Self.sleep(seconds: due) }
    }

    /// Seconds from `start` to now.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = start.duration(to: .now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private static func sleep(seconds: Double) {
        Thread.sleep(forTimeInterval: seconds)
    }
}
