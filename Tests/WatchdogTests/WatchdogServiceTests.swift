import CustodyLog
import DurableFiles
import Foundation
import LivenessGate
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemPackage
import TestSupport
import Testing
import Watchdog

/// A real event loop, really wedged: the watchdog must stop petting while it is stuck and start again after.
@Suite("Watchdog service")
struct WatchdogServiceTests {
    @Test("a free event loop answers the probe; a wedged one does not")
    func eventLoopCheck() async throws {
        try await withEventLoopGroup(threads: 2) { group in try await checkFreeThenWedged(group) }
    }

    private func checkFreeThenWedged(_ group: MultiThreadedEventLoopGroup) async throws {
        let check = EventLoopLivenessCheck(group: group)
        #expect(await check.check(deadline: .milliseconds(500)) == .passed)

        let release = ConditionLock(value: 0)
        let loop = group.next()
        loop.execute {
            release.lock(whenValue: 1); release.unlock()
        }
        defer { release.lock(); release.unlock(withValue: 1) }
        guard case .failed(let reason) = await check.check(deadline: .milliseconds(200)) else {
            Issue.record("a wedged loop passed the check")
            return
        }
        #expect(reason.contains("did not answer"))
    }

    @Test("petting stops while the event loop is wedged and resumes once it is free")
    func petsOnlyWhileHealthy() async throws {
        try await withEventLoopGroup(threads: 1) { group in try await petThroughAWedge(group) }
    }

    private func petThroughAWedge(_ group: MultiThreadedEventLoopGroup) async throws {
        let notifications = NotificationRecorder()
        let service = WatchdogService(
            checks: [EventLoopLivenessCheck(group: group)], timeout: .milliseconds(400),
            logger: Logger(label: "test"), notify: notifications.record)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await service.run() }

            try await notifications.waitFor(count: 2, pattern: "WATCHDOG=1")
            #expect(notifications.all.first == "WATCHDOG=1\nSTATUS=healthy")

            // Wedge the only loop for 1.2 s (three watchdog intervals).
            let wedgeStarted = ConditionLock(value: 0)
            group.next().execute {
                wedgeStarted.lock()
                wedgeStarted.unlock(withValue: 1)
                Thread.sleep(forTimeInterval: 1.2)
            }
            wedgeStarted.lock(whenValue: 1)
            wedgeStarted.unlock()
            let petsBefore = notifications.count(of: "WATCHDOG=1")
            try await Task.sleep(for: .milliseconds(900))
            // At most one round may have started just before the wedge and pet after it.
            #expect(notifications.count(of: "WATCHDOG=1") <= petsBefore + 1)
            #expect(notifications.all.contains { $0.contains("STATUS=unhealthy, watchdog withheld: event loop") })

            try await notifications.waitFor(count: petsBefore + 3, pattern: "WATCHDOG=1")
            #expect(notifications.all.last(where: { $0.contains("STATUS=") })?.contains("healthy") == true)
            tasks.cancelAll()
        }
    }

    @Test("the start, each change of the checks, and the stop are recorded in the custody log's history")
    func historyIsRecorded() async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-watchdog-history")
        defer { scratch.remove() }
        let log = try CustodyLog(path: FilePath("\(scratch.path)/custody.log"))
        defer { log.close() }
        let failing = NIOLockedValueBox(false)
        let check = ToggledCheck(failing: failing)
        let notifications = NotificationRecorder()
        let history = WatchdogHistory(service: "ingest", recorder: CustodyLogRecorder(log: log))
        // A run that ended without stopping (a kill -9 before this one), then this run.
        try log.append(CustodyEvent("service.started", ["service": "ingest", "boot-id": BootIdentity.current]))
        let service = WatchdogService(
            checks: [check], timeout: .milliseconds(200), logger: Logger(label: "test"), history: history,
            notify: notifications.record)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await service.run() }
            try await notifications.waitFor(count: 2, pattern: "WATCHDOG=1")
            failing.withLockedValue { $0 = true }
            try await notifications.waitFor(count: 1, pattern: "withheld: the probe says no")
            failing.withLockedValue { $0 = false }
            try await notifications.waitFor(count: 2, pattern: "STATUS=healthy")
            try await Task.sleep(for: .milliseconds(300))
            tasks.cancelAll()
        }
        let events = try CustodyLog.verify(try FileSystemCalls.readAll(FilePath("\(scratch.path)/custody.log")))
            .map(\.event)
        #expect(
            events == [
                "service.started", "service.started", "watchdog.check-failed", "watchdog.check-passed",
                "service.stopped",
            ], "\(events)")
        let summary = log.serviceHistory
        #expect(summary.starts == 2 && summary.restarts == 1 && summary.checkFailures == 1 && summary.boots == 1)
        #expect(summary.lastReason?.contains("ingest: the probe says no") == true, "\(summary)")
    }

    @Test("without a systemd watchdog the service only waits")
    func noWatchdog() async throws {
        let notifications = NotificationRecorder()
        let service = WatchdogService(
            checks: [], timeout: nil, logger: Logger(label: "test"), notify: notifications.record)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await service.run() }
            try await Task.sleep(for: .milliseconds(100))
            tasks.cancelAll()
        }
        #expect(notifications.all.isEmpty)
    }
}

/// Runs `body` with a fresh event loop group and shuts the group down afterwards, even when `body` throws.
func withEventLoopGroup(
    threads: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> Void
) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    do {
        try await body(group)
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
    try await group.shutdownGracefully()
}

/// Collects what the service would have sent to systemd.
final class NotificationRecorder: Sendable {
    private let notifications = NIOLockedValueBox<[String]>([])

    var record: @Sendable (String) -> Void {
        { [notifications] text in notifications.withLockedValue { $0.append(text) } }
    }

    var all: [String] { notifications.withLockedValue { $0 } }

    func count(of pattern: String) -> Int { all.filter { $0.contains(pattern) }.count }

    func waitFor(count: Int, pattern: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while self.count(of: pattern) < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(self.count(of: pattern)) of \(count) \(pattern) in \(timeout): \(all)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A check that fails while `failing` is set.
struct ToggledCheck: LivenessCheck {
    let failing: NIOLockedValueBox<Bool>

    func check(deadline: Duration) async -> LivenessResult {
        failing.withLockedValue { $0 } ? .failed(reason: "the probe says no") : .passed
    }
}

/// Records into a custody log directly, as the disks service does into its own.
struct CustodyLogRecorder: ServiceEventRecorder {
    let log: CustodyLog

    func record(_ event: String, _ fields: [String: String]) throws {
        try log.append(CustodyEvent(event, fields))
    }
}
