internal import CLibudev

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Hot-plug events from systemd-udevd (`udev_monitor_new_from_netlink(udev, "udev")`): disks appearing, changing,
/// going away, each with the properties udevd's rules gave it.
///
/// The caller owns the event loop: it waits for ``descriptor`` to become readable (epoll, poll, a NIO or
/// DispatchSource watcher) and then calls ``receive()`` until it returns nil. Events come from udevd, not from the
/// kernel directly, so they arrive after the rules ran and only while udevd runs.
///
/// The `udev_monitor` lives inside its ``UdevContext``'s lock (see ``UdevContext/State``) and is only touched under
/// it, which makes this object `Sendable`: libudev is not thread-safe, and a monitor shares its context's
/// `struct udev` with every device it returns.
public final class UdevMonitor: Sendable {
    private let context: UdevContext
    private let key: Int

    /// The monitor's netlink socket, non-blocking: readable when an event is pending. It stays open as long as this
    /// object lives; the caller must neither read from it nor close it.
    public let descriptor: Int32

    /// The size of the socket's receive buffer the kernel granted, in bytes (it reports twice what was asked for,
    /// and caps what was asked for at `net.core.rmem_max` for a process without CAP_NET_ADMIN).
    public let receiveBufferBytes: Int

    /// Starts listening to udevd's events for `subsystem` (and `devType`, when given; nil for every type).
    ///
    /// Create it while systemd-udevd runs: libudev subscribes to nothing when /run/udev/control is missing and /dev
    /// is not a devtmpfs (a container). Events that happened before it was created are not delivered: after
    /// creating it, list the present devices with ``UdevContext/blockDevices()``, then apply the events.
    ///
    /// - Parameter receiveBufferBytes: room for events between two ``receive()`` calls; a burst of disk events that
    ///   overflows it is reported as ``UdevError/eventsLost(errorNumber:file:line:)``.
    /// - Throws: ``UdevError`` when the netlink socket cannot be created, filtered or bound.
    public init(
        context: UdevContext, subsystem: String = "block", devType: String? = "disk",
        receiveBufferBytes: Int = 4 << 20
    ) throws {
        let (key, descriptor, granted) = try context.withUnsafeState { state in
            guard let monitor = udev_monitor_new_from_netlink(state.udev, "udev") else {
                throw UdevError.monitorUnavailable(step: "udev_monitor_new_from_netlink", errorNumber: errno)
            }
            let opened: (descriptor: Int32, granted: Int)
            do {
                opened = try Self.configure(
                    monitor, subsystem: subsystem, devType: devType, receiveBufferBytes: receiveBufferBytes)
            } catch {
                _ = udev_monitor_unref(monitor)
                throw error
            }
            let key = state.nextMonitor
            state.nextMonitor += 1
            state.monitors[key] = monitor
            return (key, opened.descriptor, opened.granted)
        }
        self.context = context
        self.key = key
        self.descriptor = descriptor
        self.receiveBufferBytes = granted
    }

    deinit {
        let key = self.key
        try? context.withUnsafeState { state in
            if let monitor = state.monitors.removeValue(forKey: key) {
                _ = udev_monitor_unref(monitor)
            }
        }
    }

    /// Filters, sizes and binds a new monitor; returns its socket and the receive buffer granted.
    private static func configure(
        _ monitor: OpaquePointer, subsystem: String, devType: String?, receiveBufferBytes: Int
    ) throws -> (descriptor: Int32, granted: Int) {
        let filtered = udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, devType)
        if filtered < 0 {
            throw UdevError.monitorUnavailable(
                step: "udev_monitor_filter_add_match_subsystem_devtype", errorNumber: -filtered)
        }
        // Not fatal: without CAP_NET_ADMIN the kernel caps the size at net.core.rmem_max, and an overflow is still
        // reported (as eventsLost), so the caller can rescan; refusing to start would help no one.
        _ = udev_monitor_set_receive_buffer_size(monitor, Int32(clamping: receiveBufferBytes))
        let enabled = udev_monitor_enable_receiving(monitor)
        if enabled < 0 {
            throw UdevError.monitorUnavailable(step: "udev_monitor_enable_receiving", errorNumber: -enabled)
        }
        let descriptor = udev_monitor_get_fd(monitor)
        if descriptor < 0 {
            throw UdevError.monitorUnavailable(step: "udev_monitor_get_fd", errorNumber: -descriptor)
        }
        // libudev opens the socket non-blocking already; receive() relies on it, so make sure.
        let flags = fcntl(descriptor, F_GETFL)
        if flags < 0 || fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) < 0 {
            throw UdevError.monitorUnavailable(step: "fcntl O_NONBLOCK", errorNumber: errno)
        }
        var granted: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &granted, &length) != 0 {
            granted = 0
        }
        return (descriptor, Int(granted))
    }

    /// The next pending event, or nil when none is pending (the socket would block).
    ///
    /// - Throws: ``UdevError/eventsLost(errorNumber:file:line:)`` when the receive buffer overflowed and events
    ///   were dropped (the monitor keeps working; list the devices again), ``UdevError`` for any other failure.
    public func receive() throws -> UdevEvent? {
        let key = self.key
        return try context.withUnsafeState { state in
            guard let monitor = state.monitors[key] else {
                fatalError("UdevMonitor: its monitor is gone from the context while the object lives")
            }
            while true {
                errno = 0
                if let device = udev_monitor_receive_device(monitor) {
                    return UdevDeviceHandle(taking: device).event()
                }
                let error = errno
                switch error {
                case EINTR:
                    continue
                case 0, EAGAIN:
                    return nil
                case ENOBUFS:
                    throw UdevError.eventsLost(errorNumber: error)
                default:
                    throw UdevError.receiveFailed(errorNumber: error)
                }
            }
        }
    }
}
