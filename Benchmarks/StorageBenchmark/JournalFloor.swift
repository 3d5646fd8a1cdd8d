import DurableFiles
import Foundation
import SystemPackage

/// What the device alone needs for one group commit of small appends: `copies` journal copies of `batchBytes`
/// each, written over blocks their files already own and flushed side by side, as the store writes them, with no
/// encryption, hashing or waiting on other appends. A line of information for the 16-writer figure: a writer that
/// arrives while a commit is in flight waits for that one and then its own, so its latency is at least about twice
/// this, whatever the store does.
struct JournalFloor {
    let directory: FilePath
    let copies: Int
    let batchBytes: Int
    let rounds: Int

    func measure(pool: RandomPool) throws -> Latencies {
        let fileBytes = 8 << 20
        var files: [FileDescriptor] = []
        defer {
            for (index, file) in files.enumerated() {
                try? file.close()
                try? FileSystemCalls.remove(directory.appending("floor-\(index)"))
            }
        }
        let zeros = [UInt8](repeating: 0, count: fileBytes)
        for index in 0..<copies {
            let file = try FileDescriptor.open(
                directory.appending("floor-\(index)"), .writeOnly, options: [.create, .truncate],
                permissions: [.ownerReadWrite])
            files.append(file)
            _ = try zeros.withUnsafeBytes { try file.writeAll(toAbsoluteOffset: 0, $0) }
            try FileSystemCalls.synchronise(file)
        }
        let batch = (0..<(batchBytes / pool.pieceBytes)).flatMap { pool.piece($0) }
        let workers = files.map { FlushWorker(file: $0, batch: batch) }
        defer { for worker in workers { worker.stop() } }
        var latencies: [Duration] = []
        latencies.reserveCapacity(rounds)
        for round in 0..<rounds {
            let offset = Int64((round * batch.count) % (fileBytes - batch.count))
            latencies.append(
                try Stopwatch.time {
                    for worker in workers { worker.start(at: offset) }
                    for worker in workers { try worker.finish() }
                })
        }
        return Latencies(latencies)
    }
}

/// A thread that writes one batch at a given offset and flushes it, each time it is started.
private final class FlushWorker: @unchecked Sendable {
    // @unchecked: `offset` and `failure` are written before a semaphore is signalled and read after it is waited on.
    private let file: FileDescriptor
    private let batch: [UInt8]
    private let started = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private var offset: Int64 = -1
    private var failure: (any Error)?

    init(file: FileDescriptor, batch: [UInt8]) {
        self.file = file
        self.batch = batch
        Thread.detachNewThread { [self] in
            while true {
                started.wait()
                guard offset >= 0 else { return }
                do {
                    _ = try batch.withUnsafeBytes { try file.writeAll(toAbsoluteOffset: offset, $0) }
                    try FileSystemCalls.synchroniseData(file)
                } catch {
                    failure = error
                }
                done.signal()
            }
        }
    }

    func start(at offset: Int64) {
        self.offset = offset
        started.signal()
    }

    func finish() throws {
        done.wait()
        if let failure { throw failure }
    }

    func stop() {
        offset = -1
        started.signal()
    }
}
