#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A libsystemd call failed, or a request was rejected before it reached libsystemd.
///
/// libsystemd returns failures as negative errno values; the factory functions below are the one place that turns
/// them into errors, so callers match on the error, not on numbers.
public struct SystemdError: Error, CustomStringConvertible, Sendable {
    private enum Code: Equatable, Sendable {
        case notifyFailed
        case watchdogQueryFailed
        case journalSendFailed
        case invalidFieldName(String)
    }

    private let code: Code

    /// The errno value libsystemd reported; nil for errors found before calling it.
    public let errorNumber: Int32?

    /// Where the failing call was made, to find it in a log.
    public let file: String

    /// The line of `file` where the failing call was made.
    public let line: Int

    private init(_ code: Code, errorNumber: Int32?, file: String, line: Int) {
        self.code = code
        self.errorNumber = errorNumber
        self.file = file
        self.line = line
    }

    /// `sd_notify` returned `-errorNumber`.
    static func notifyFailed(errorNumber: Int32, file: String = #fileID, line: Int = #line) -> Self {
        Self(.notifyFailed, errorNumber: errorNumber, file: file, line: line)
    }

    /// `sd_watchdog_enabled` returned `-errorNumber`.
    static func watchdogQueryFailed(errorNumber: Int32, file: String = #fileID, line: Int = #line) -> Self {
        Self(.watchdogQueryFailed, errorNumber: errorNumber, file: file, line: line)
    }

    /// `sd_journal_sendv` returned `-errorNumber`.
    static func journalSendFailed(errorNumber: Int32, file: String = #fileID, line: Int = #line) -> Self {
        Self(.journalSendFailed, errorNumber: errorNumber, file: file, line: line)
    }

    /// A journal field name that journald would reject or that collides with a field the wrapper sets itself.
    public static func invalidFieldName(_ name: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidFieldName(name), errorNumber: nil, file: file, line: line)
    }

    /// Says what failed and what to do about it.
    public var description: String {
        let reason = errorNumber.map { " (\(Self.describe(errno: $0)))" } ?? ""
        switch code {
        case .notifyFailed:
            return "SystemdError: sd_notify could not reach the service manager\(reason); check NOTIFY_SOCKET and "
                + "that the unit is Type=notify with NotifyAccess covering this process."
        case .watchdogQueryFailed:
            return "SystemdError: sd_watchdog_enabled rejected the environment\(reason); WATCHDOG_USEC and "
                + "WATCHDOG_PID must be decimal numbers as systemd sets them."
        case .journalSendFailed:
            return "SystemdError: sd_journal_sendv could not write to the journal\(reason); check that "
                + "systemd-journald is running and the entry is not larger than the journal accepts."
        case .invalidFieldName(let name):
            return "SystemdError: \(String(reflecting: name)) is not a usable journal field name; use 1 to 64 "
                + "uppercase letters, digits and underscores, not starting with an underscore or digit, and pass "
                + "MESSAGE and PRIORITY through their own parameters."
        }
    }

    private static func describe(errno value: Int32) -> String {
        guard let text = strerror(value) else { return "errno \(value)" }
        return "\(String(cString: text)), errno \(value)"
    }
}

extension SystemdError: Equatable {
    /// Two errors are the same when the same thing failed; errno and location are context, not identity.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code
    }
}
