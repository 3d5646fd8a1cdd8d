internal import CLibsystemd

/// The service manager (systemd) that started this process, reached through the environment it set:
/// NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
///
/// The environment is read at every call and never unset, so a process that was not started by systemd simply gets
/// "not under a service manager" answers, and tests can point these variables at their own sockets.
public enum ServiceManager {
    /// Sends a notification such as `"READY=1"`, `"WATCHDOG=1"` or `"STATUS=…"`; several assignments are separated
    /// by newlines (see sd_notify(3)).
    ///
    /// - Returns: true when it was sent, false when this process is not running under a service manager
    ///   (NOTIFY_SOCKET is unset), which is not an error: the same binary runs outside systemd in tests.
    /// - Throws: ``SystemdError`` when NOTIFY_SOCKET is set but the message could not be delivered.
    @discardableResult
    public static func notify(_ state: String) throws -> Bool {
        let result = sd_notify(0, state)
        if result < 0 {
            throw SystemdError.notifyFailed(errorNumber: -result)
        }
        return result > 0
    }

    /// The watchdog period systemd expects this process to respect (WatchdogSec=), or nil when no watchdog is
    /// set for this process; send `"WATCHDOG=1"` at least every half of it.
    ///
    /// - Throws: ``SystemdError`` when WATCHDOG_USEC or WATCHDOG_PID cannot be parsed.
    public static func watchdogInterval() throws -> Duration? {
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        if result < 0 {
            throw SystemdError.watchdogQueryFailed(errorNumber: -result)
        }
        guard result > 0 else { return nil }
        // A period beyond Int64 microseconds (292 000 years) is no period a service can keep; treat it as unset.
        guard let signed = Int64(exactly: microseconds) else { return nil }
        return .microseconds(signed)
    }
}
