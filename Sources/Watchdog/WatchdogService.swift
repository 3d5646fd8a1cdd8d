import LivenessGate
import Logging
import ServiceLifecycle
import Systemd

/// Pets the systemd watchdog at half its timeout, but only while the service's own checks pass.
///
/// Register it first in the service group so that it stops last: during a graceful shutdown the other services
/// are still draining, and a hung drain should still be caught by the watchdog.
public final class WatchdogService: Service {
    private let checks: [any LivenessCheck]
    private let timeout: Duration?
    private let notify: @Sendable (String) -> Void
    private let logger: Logger
    private let events: ServiceEventSender?
    private let recordsStartAndStop: Bool
    private let startFields: [String: String]

    /// Creates the service.
    /// - Parameters:
    ///   - timeout: the watchdog timeout; nil means systemd asked for no watchdog, and the service only waits.
    ///   - notify: sends a notification to the service manager (`ServiceManager.notify` in production).
    ///   - history: where the service's start, stop and each change of its checks are recorded (the watchdog
    ///     history home reads in reports); nil records nothing.
    public init(
        checks: [any LivenessCheck], timeout: Duration?, logger: Logger, history: WatchdogHistory? = nil,
        notify: @escaping @Sendable (String) -> Void
    ) {
        self.checks = checks
        self.timeout = timeout
        self.notify = notify
        self.logger = logger
        recordsStartAndStop = history?.recordsStartAndStop ?? false
        startFields = WatchdogHistory.startFields(configurationText: history?.configurationText)
        events = history.map { history in
            ServiceEventSender(recorder: history.recorder, service: history.service) { event, error in
                logger.warning(
                    "the watchdog history could not be recorded", metadata: ["event": "\(event)", "error": "\(error)"])
            }
        }
    }

    /// Creates the service for the watchdog systemd configured through `WATCHDOG_USEC`, notifying it through
    /// `sd_notify`.
    public convenience init(
        checks: [any LivenessCheck], logger: Logger, history: WatchdogHistory? = nil
    ) throws {
        let logger = logger
        self.init(
            checks: checks, timeout: try ServiceManager.watchdogInterval(), logger: logger, history: history
        ) { state in
            do {
                _ = try ServiceManager.notify(state)
            } catch {
                logger.error("cannot notify systemd", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs rounds of checks until graceful shutdown.
    public func run() async throws {
        if recordsStartAndStop {
            await events?.recordAndWait("service.started", startFields)
        }
        try await watch()
        // A graceful end: the next start is not a restart. (A run killed by its watchdog never gets here.)
        if recordsStartAndStop { await events?.recordAndWait("service.stopped") }
    }

    private func watch() async throws {
        guard let timeout else {
            logger.debug("no systemd watchdog configured")
            try? await gracefulShutdown()
            return
        }
        let schedule = WatchdogGate.Schedule(timeout: timeout)
        logger.info("petting the systemd watchdog", metadata: ["interval": "\(schedule.interval)"])
        var gate = WatchdogGate()
        var failedBefore = false
        let clock = ContinuousClock()
        let start = clock.now
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let result = await runChecks(deadline: schedule.checkDeadline)
                let wasHealthy = gate.isHealthy
                let action = gate.roundCompleted(result, at: start.duration(to: clock.now))
                execute(action)
                if action.status != nil {
                    switch result {
                    case .failed(let reason): events?.record("watchdog.check-failed", ["reason": reason])
                    case .passed where !wasHealthy && failedBefore: events?.record("watchdog.check-passed")
                    case .passed: break
                    }
                    if case .failed = result { failedBefore = true }
                }
                try? await Task.sleep(for: schedule.interval)
            }
        } onGracefulShutdown: {
            // The loop notices at its next wake-up; petting continues until then, as it should.
        }
    }

    private func runChecks(deadline: Duration) async -> LivenessResult {
        for check in checks {
            let result = await check.check(deadline: deadline)
            if case .failed = result { return result }
        }
        return .passed
    }

    private func execute(_ action: WatchdogGate.Action) {
        if let status = action.status {
            if action.pet {
                logger.info("liveness checks pass", metadata: ["status": "\(status)"])
            } else {
                logger.error("liveness check failed; withholding the watchdog", metadata: ["status": "\(status)"])
            }
        }
        var lines: [String] = []
        if action.pet { lines.append("WATCHDOG=1") }
        if let status = action.status { lines.append("STATUS=\(status)") }
        if !lines.isEmpty { notify(lines.joined(separator: "\n")) }
    }
}
