import ErasureStore
import Foundation
import StreamStore
import Synchronization
import SystemPackage

/// Small acknowledged appends: each append of a few KiB waits for its own durability. Measured for one writer
/// (append, then makeDurable) and for many writers sharing one stream through a ``GroupCommitter``, against one
/// write of the same size followed by an fdatasync to one file on the same filesystem, with as many samples.
///
/// Half of the baseline's samples are taken before the store's, half after, so a drift in the machine's load
/// affects both sides alike. Ratios are the baseline's latency over the store's (higher is better).
struct SmallAppends {
    /// The work directory.
    let work: String
    /// Acknowledged appends per measurement.
    let samples: Int
    /// Bytes of each append.
    let appendBytes: Int
    /// Concurrent writers of the group-commit measurement.
    let writers: Int

    func run() throws {
        let directory = try WorkDirectory(work: work, name: "small")
        defer { directory.remove() }
        let pool = try RandomPool(pieceBytes: appendBytes)
        Report.line(
            "storage small appends: \(samples) acknowledged appends of \(appendBytes) bytes; baseline: one write "
                + "of \(appendBytes) bytes + fdatasync to one file")
        try directory.condition(bytes: 256 << 20, pool: try RandomPool(pieceBytes: 1 << 20))
        // Each phase starts from a settled filesystem (a sync, untimed), as the other figures' timed phases do: the
        // writeback another phase (or the bulk benchmark before this one) left behind is not charged to this one.
        sync()
        var baseline = try baselineLatencies(samples / 2, path: directory.path.appending("baseline-1"), pool: pool)

        let array = try BenchmarkArray(in: directory.path.appending("array"))
        let store = try array.open()
        sync()
        let single = try Latencies(oneWriter(store: store, pool: pool))
        sync()
        let (grouped, groupedTime) = try manyWriters(store: store, pool: pool)
        array.remove()

        sync()
        baseline += try baselineLatencies(
            samples - samples / 2, path: directory.path.appending("baseline-2"), pool: pool)
        let base = Latencies(baseline)
        let many = Latencies(grouped)
        Report.line("  baseline write+fdatasync: \(base.summary)")
        Report.line("  store, 1 writer (append + makeDurable): \(single.summary)")
        let rate = Report.fixed(Double(samples) / groupedTime.seconds, 0)
        Report.line("  store, \(writers) writers (GroupCommitter): \(many.summary); \(rate) acknowledged appends/s")
        sync()
        let copies = array.geometry.parityShards + 1
        let floor = try JournalFloor(
            directory: directory.path, copies: copies, batchBytes: writers * appendBytes, rounds: samples / 4
        ).measure(pool: pool)
        Report.line(
            "  the device alone, for one commit of \(writers) appends (\(copies) copies of \(writers * appendBytes >> 10) "
                + "KiB written in place and flushed side by side): \(floor.summary); a writer that arrives during a "
                + "commit waits for it and then its own, so about twice that is its floor, against a target p99 of "
                + Report.micro(base.percentile(0.99) * 3))
        for (name, latencies) in [("storage-small", single), ("storage-small\(writers)", many)] {
            for (suffix, fraction) in [("p50", 0.5), ("p99", 0.99)] {
                let ratio = base.percentile(fraction).seconds / latencies.percentile(fraction).seconds
                Report.ratio("\(name)-\(suffix)", ratio, target: 0.33)
            }
        }
    }

    private func baselineLatencies(_ count: Int, path: FilePath, pool: RandomPool) throws -> [Duration] {
        let file = try RawFile(path)
        defer { file.remove() }
        var latencies: [Duration] = []
        latencies.reserveCapacity(count)
        for index in 0..<count {
            latencies.append(
                try Stopwatch.time {
                    try pool.withPiece(index) { try file.write($0) }
                    try file.flush()
                })
        }
        return latencies
    }

    private func oneWriter(store: ErasureCodedStore, pool: RandomPool) throws -> [Duration] {
        let appender = try store.openAppender(for: try StreamName("ee.bench.small"))
        defer { appender.close() }
        var latencies: [Duration] = []
        latencies.reserveCapacity(samples)
        for index in 0..<samples {
            latencies.append(
                try Stopwatch.time {
                    try pool.withPiece(index) { try appender.append($0) }
                    _ = try appender.makeDurable()
                })
        }
        return latencies
    }

    /// Runs `writers` threads that share `samples` appends; returns every append's latency and the wall time.
    private func manyWriters(store: ErasureCodedStore, pool: RandomPool) throws -> ([Duration], Duration) {
        let stream = try StreamName("ee.bench.small-group")
        let committer = GroupCommitter(appender: try store.openAppender(for: stream))
        let collected = Collected()
        let finished = DispatchGroup()
        let wall = Stopwatch.time {
            for writer in 0..<writers {
                // Writer w takes samples w, w + writers, …; the pieces are copied before any timing.
                let pieces = stride(from: writer, to: samples, by: writers).map { pool.piece($0) }
                finished.enter()
                let thread = Thread {
                    for piece in pieces {
                        do {
                            let latency = try Stopwatch.time { _ = try committer.appendDurably(piece) }
                            collected.add(latency)
                        } catch {
                            collected.fail(error)
                            break
                        }
                    }
                    finished.leave()
                }
                thread.name = "bench.writer.\(writer)"
                thread.start()
            }
            finished.wait()
        }
        committer.close()
        // A figure for appends that were lost would mean nothing: the stream must hold every byte appended.
        let expected = samples * appendBytes
        let stored = try store.openReader(for: stream).length
        guard stored == UInt64(expected) else {
            throw BenchmarkFailure("the group-committed stream holds \(stored) bytes, \(expected) were acknowledged")
        }
        return (try collected.latencies(), wall)
    }
}

/// Latencies gathered from many threads, and the first failure among them.
private final class Collected: Sendable {
    private let state = Mutex<(latencies: [Duration], failure: String?)>(([], nil))

    func add(_ latency: Duration) {
        state.withLock { $0.latencies.append(latency) }
    }

    func fail(_ error: any Error) {
        state.withLock { $0.failure = $0.failure ?? "\(error)" }
    }

    func latencies() throws -> [Duration] {
        try state.withLock { state in
            if let failure = state.failure { throw BenchmarkFailure("a writer failed: \(failure)") }
            return state.latencies
        }
    }
}
