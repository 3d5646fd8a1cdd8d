import Foundation
import StoreFormat
import StreamStore
import Testing

@testable import ErasureStore

@Suite("The store's executor")
struct StoreExecutorTests {
    /// The names of this process's threads, from procfs (the kernel keeps 15 bytes of each).
    private static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    private static func uniqueName() -> String { "t" + String(UInt32.random(in: 0...UInt32.max), radix: 36) }

    @Test("runAll runs its jobs side by side: four jobs that each wait for all four to start finish")
    func runAllIsParallel() throws {
        let lane = WorkerLane<Void>(name: Self.uniqueName(), workerLimit: 8)
        defer { lane.shutdown() }
        let started = Guarded(0)
        let allStarted = Guarded(true)
        try lane.runAll(
            (0..<4).map { _ in
                {
                    started.withLock { $0 += 1 }
                    // One after another, the first job would wait here for ever; the timeout turns that into a failure.
                    let met = started.wait(until: { $0 == 4 }, timeout: .seconds(30)) { _, ready in ready }
                    if !met { allStarted.withLock { $0 = false } }
                }
            })
        #expect(allStarted.withLock { $0 })
    }

    @Test("runAll throws the first failure, and only after every job has finished")
    func runAllFailure() {
        let lane = WorkerLane<Void>(name: Self.uniqueName(), workerLimit: 4)
        defer { lane.shutdown() }
        let finished = Guarded(0)
        let failing = { () throws in
            finished.withLock { $0 += 1 }
            throw StreamStorageError(kind: .io, message: "member 3 failed")
        }
        let slow = { () throws in
            Guarded(false).wait(until: { $0 }, timeout: .milliseconds(200)) { _, _ in }
            finished.withLock { $0 += 1 }
        }
        #expect(throws: StreamStorageError.self) { try lane.runAll([failing, slow, slow, slow]) }
        #expect(finished.withLock { $0 } == 4)
        do {
            try lane.runAll([slow, failing])
            Issue.record("a failing job must fail runAll")
        } catch {
            #expect("\(error)".contains("member 3 failed"))
        }
    }

    @Test("Shutdown runs every queued job, ends every worker, and jobs submitted later run on the caller's thread")
    func shutdown() {
        let name = Self.uniqueName()
        let lane = WorkerLane<Void>(name: name, workerLimit: 2, queueCapacity: 4)
        let gate = Guarded(false)
        let ran = Guarded<[Int]>([])
        for index in 0..<6 {
            lane.submit { _ in
                gate.wait(until: { $0 }) { _, _ in }
                ran.withLock { $0.append(index) }
            }
        }
        // The workers name themselves once running; they wait at the gate meanwhile.
        let threadName = String("saatkond.\(name)".prefix(15))
        let deadline = ContinuousClock.now + .seconds(30)
        while !Self.threadNames().contains(threadName) && ContinuousClock.now < deadline {
            Guarded(false).wait(until: { $0 }, timeout: .milliseconds(10)) { _, _ in }
        }
        #expect(Self.threadNames().filter { $0 == threadName }.count == 2, "a lane of two workers")
        gate.withLock { $0 = true }
        lane.shutdown()
        #expect(ran.withLock { $0 }.sorted() == Array(0..<6))
        // Every worker has left its loop when shutdown returns; its thread then ends within moments.
        let exitDeadline = ContinuousClock.now + .seconds(30)
        while Self.threadNames().contains(threadName) && ContinuousClock.now < exitDeadline {
            Guarded(false).wait(until: { $0 }, timeout: .milliseconds(10)) { _, _ in }
        }
        #expect(!Self.threadNames().contains(threadName), "a worker outlived shutdown")
        let caller = pthread_self()
        let ranOn = Guarded<Bool?>(nil)
        lane.submit { _ in ranOn.withLock { $0 = pthread_equal(pthread_self(), caller) != 0 } }
        #expect(ranOn.withLock { $0 } == true)
    }

    @Test("A full queue holds its submitter until a worker takes a job")
    func boundedQueue() {
        let lane = WorkerLane<Void>(name: Self.uniqueName(), workerLimit: 1, queueCapacity: 1)
        defer { lane.shutdown() }
        let gate = Guarded(false)
        let submitted = Guarded(0)
        // One job runs (held at the gate), one waits in the queue; the third submit must wait for room.
        Thread.detachNewThread {
            for _ in 0..<3 {
                lane.submit { _ in gate.wait(until: { $0 }) { _, _ in } }
                submitted.withLock { $0 += 1 }
            }
        }
        let two = submitted.wait(until: { $0 >= 2 }, timeout: .seconds(30)) { count, _ in count }
        #expect(two == 2)
        // The third submit cannot have returned: the worker is held and the queue is full.
        let third = submitted.wait(until: { $0 >= 3 }, timeout: .milliseconds(300)) { count, _ in count }
        #expect(third == 2)
        gate.withLock { $0 = true }
        let all = submitted.wait(until: { $0 >= 3 }, timeout: .seconds(30)) { count, _ in count }
        #expect(all == 3)
    }

    @Test("An appender dropped without close returns at once; the stream reopens with every acknowledged byte")
    func droppedAppender() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        defer { store.shutdown() }
        let stream = try StreamName("ee.dropped")
        var generator = PatternGenerator(seed: 7)
        let segment = fixture.geometry.segmentBytes
        let bytes = generator.bytes(5 * segment + 1000)
        let acknowledged = try Self.appendThenDrop(
            bytes, acknowledging: 3 * segment + 1000, store: store, stream: stream)
        let appender = try Self.reopen(stream, store: store)
        defer { appender.close() }
        #expect(appender.durableLength >= acknowledged)
        #expect(appender.durableLength <= UInt64(bytes.count))
        let reader = try store.openReader(for: stream)
        #expect(try reader.readAll() == Array(bytes[..<Int(reader.length)]))
    }

    /// Appends `bytes`, acknowledging the first `count`, and drops the appender while the rest (whole segments) are
    /// still with the writers.
    private static func appendThenDrop(
        _ bytes: [UInt8], acknowledging count: Int, store: ErasureCodedStore, stream: StreamName
    ) throws -> UInt64 {
        let appender = try store.openAppender(for: stream)
        try appender.append(Array(bytes[..<count]))
        let acknowledged = try appender.makeDurable()
        try appender.append(Array(bytes[count...]))
        return acknowledged
    }

    /// Opens the stream's appender once the dropped one's writes have ended and released its lock.
    private static func reopen(_ stream: StreamName, store: ErasureCodedStore) throws -> any StreamAppender {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let opened = Result { () throws(StreamStorageError) in try store.openAppender(for: stream) }
            guard case .failure(let error) = opened, error.kind == .streamBusy, ContinuousClock.now < deadline else {
                return try opened.get()
            }
            Guarded(false).wait(until: { $0 }, timeout: .milliseconds(10)) { _, _ in }
        }
    }

    @Test("A store's shutdown leaves none of its workers running")
    func storeShutdown() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let appender = try store.openAppender(for: try StreamName("ee.shutdown"))
        var generator = PatternGenerator(seed: 9)
        try appender.append(generator.bytes(5 * fixture.geometry.segmentBytes + 10))
        _ = try appender.makeDurable()
        appender.close()
        #expect(store.executor.workerCount > 0, "the appends ran on no worker")
        store.shutdown()
        #expect(store.executor.workerCount == 0)
    }
}
