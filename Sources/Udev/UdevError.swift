#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A libudev call failed.
///
/// libudev reports failures either as a negative errno return value or as `NULL` with `errno` set; both are turned
/// into this one error type by the factory functions below, so callers match on the error, not on numbers.
public struct UdevError: Error, CustomStringConvertible, Sendable {
    private enum Code: Equatable, Sendable {
        case contextUnavailable
        case enumerationFailed(step: String)
        case deviceUnreadable(path: String)
        case monitorUnavailable(step: String)
        case eventsLost
        case receiveFailed
    }

    private let code: Code

    /// The errno value libudev reported, if it reported one.
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

    /// `udev_new` returned no context.
    static func contextUnavailable(errorNumber: Int32, file: String = #fileID, line: Int = #line) -> Self {
        Self(.contextUnavailable, errorNumber: errorNumber, file: file, line: line)
    }

    /// A step of scanning sysfs through `udev_enumerate` failed.
    static func enumerationFailed(
        step: String, errorNumber: Int32, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.enumerationFailed(step: step), errorNumber: errorNumber, file: file, line: line)
    }

    /// A device exists but could not be read (anything other than "it is gone").
    static func deviceUnreadable(
        path: String, errorNumber: Int32, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.deviceUnreadable(path: path), errorNumber: errorNumber, file: file, line: line)
    }

    /// A step of setting up a ``UdevMonitor`` (creating its netlink socket, filtering, binding) failed.
    static func monitorUnavailable(
        step: String, errorNumber: Int32, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.monitorUnavailable(step: step), errorNumber: errorNumber, file: file, line: line)
    }

    /// The monitor's socket overflowed (ENOBUFS): the kernel dropped events that udevd sent. The devices are still
    /// there; the caller must forget what it believed and list them all again (``UdevContext/blockDevices()``).
    ///
    /// Match it with `error == UdevError.eventsLost()`.
    public static func eventsLost(errorNumber: Int32 = ENOBUFS, file: String = #fileID, line: Int = #line) -> Self {
        Self(.eventsLost, errorNumber: errorNumber, file: file, line: line)
    }

    /// Receiving from the monitor's socket failed for another reason than "nothing pending" or "events lost".
    static func receiveFailed(errorNumber: Int32, file: String = #fileID, line: Int = #line) -> Self {
        Self(.receiveFailed, errorNumber: errorNumber, file: file, line: line)
    }

    /// Says what failed and what to check.
    public var description: String {
        let reason = errorNumber.map { " (\(Self.describe(errno: $0)))" } ?? ""
        switch code {
        case .contextUnavailable:
            return "UdevError: could not create a udev context\(reason); the process may be out of memory "
                + "or file descriptors."
        case .enumerationFailed(let step):
            return "UdevError: scanning block devices failed in \(step)\(reason); check that /sys is mounted "
                + "and readable."
        case .deviceUnreadable(let path):
            return "UdevError: could not read device \(path)\(reason); check that /sys is mounted and readable."
        case .monitorUnavailable(let step):
            return "UdevError: could not listen to udev events: \(step) failed\(reason); the process needs a netlink "
                + "socket (not forbidden by seccomp or a network namespace) and systemd-udevd running."
        case .eventsLost:
            return "UdevError: udev events were lost\(reason): the receive buffer overflowed; list the block devices "
                + "again to learn the present state, and consider a larger receive buffer."
        case .receiveFailed:
            return "UdevError: receiving a udev event failed\(reason)."
        }
    }

    private static func describe(errno value: Int32) -> String {
        guard let text = strerror(value) else { return "errno \(value)" }
        return "\(String(cString: text)), errno \(value)"
    }
}

extension UdevError: Equatable {
    /// Two errors are the same when the same thing failed; errno and location are context, not identity.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code
    }
}
