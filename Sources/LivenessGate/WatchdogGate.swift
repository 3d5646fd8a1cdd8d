/// The outcome of one round of a service's own liveness checks.
public enum LivenessResult: Hashable, Sendable {
    /// Every check answered in time.
    case passed
    /// A check failed or missed its deadline; the reason names it.
    case failed(reason: String)
}

/// Decides when a service may pet its systemd watchdog: only after a round of its own checks passed.
///
/// systemd restarts a service whose pets stop, so petting from a timer alone would keep a wedged service alive;
/// petting only on a passed check turns "the process exists" into "the process works". The gate also reports
/// each change of health once, as a `STATUS=` line, rather than on every round.
public struct WatchdogGate: Sendable {
    /// What to tell systemd after a round.
    public struct Action: Hashable, Sendable {
        /// Send `WATCHDOG=1`.
        public var pet: Bool
        /// A new `STATUS=` text, when health changed.
        public var status: String?

        /// Creates an action.
        public init(pet: Bool, status: String? = nil) {
            self.pet = pet
            self.status = status
        }
    }

    /// How often to check and pet, and how long a check may take, for a watchdog timeout.
    public struct Schedule: Hashable, Sendable {
        /// The time between rounds: half the timeout, as sd_watchdog_enabled(3) recommends.
        public var interval: Duration
        /// How long a round's checks may take before they count as failed: a quarter of the timeout, so a
        /// round that started on time still pets before the timeout even when it ran to its deadline.
        public var checkDeadline: Duration

        /// The schedule for `timeout` (systemd's WATCHDOG_USEC).
        public init(timeout: Duration) {
            precondition(timeout > .zero, "a watchdog timeout is positive")
            interval = timeout / 2
            checkDeadline = timeout / 4
        }
    }

    private enum Health: Hashable, Sendable {
        case unknown
        case healthy
        case failing(since: Duration, reason: String)
    }

    private var health: Health = .unknown

    /// Creates a gate that has seen no round yet.
    public init() {}

    /// A round of checks finished at `now` (a monotonic time) with `result`.
    public mutating func roundCompleted(_ result: LivenessResult, at now: Duration) -> Action {
        switch (health, result) {
        case (.healthy, .passed):
            return Action(pet: true, status: nil)
        case (.unknown, .passed), (.failing, .passed):
            health = .healthy
            return Action(pet: true, status: "healthy")
        case (.failing(let since, let previous), .failed(let reason)) where previous == reason:
            // The same failure again: keep withholding, and keep the first time it was seen.
            health = .failing(since: since, reason: reason)
            return Action(pet: false, status: nil)
        case (_, .failed(let reason)):
            if case .failing(let since, _) = health {
                health = .failing(since: since, reason: reason)
            } else {
                health = .failing(since: now, reason: reason)
            }
            return Action(pet: false, status: "unhealthy, watchdog withheld: \(reason)")
        }
    }

    /// Whether the last round passed.
    public var isHealthy: Bool {
        if case .healthy = health { return true }
        return false
    }
}
