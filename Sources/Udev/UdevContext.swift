internal import CLibudev
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A libudev context: the entry point to read block devices from sysfs and the udev database.
///
/// It is `Sendable` because libudev is not thread-safe and so every use of the `struct udev` and of every object
/// derived from it (enumerations, devices and monitors, which keep references to the context) happens under one lock
/// and ends before the lock is released; only plain values such as ``BlockDevice`` leave it.
public final class UdevContext: Sendable {
    /// What the lock guards: the context and the monitors made from it (see ``UdevMonitor``), which live here rather
    /// than in their own objects so that no libudev pointer ever has to leave the lock.
    struct State {
        let udev: OpaquePointer
        var monitors: [Int: OpaquePointer] = [:]
        var nextMonitor = 0
    }

    private let handle: Mutex<State>

    /// Creates a context; it reads sysfs and /run/udev at the moment of each query, not at creation.
    ///
    /// - Throws: ``UdevError`` when libudev cannot allocate the context.
    public init() throws {
        guard let udev = udev_new() else {
            throw UdevError.contextUnavailable(errorNumber: errno)
        }
        handle = Mutex(State(udev: udev))
    }

    deinit {
        handle.withLock { state in
            // Every monitor holds the context, so none is left by now; unreferencing is harmless all the same.
            for monitor in state.monitors.values {
                _ = udev_monitor_unref(monitor)
            }
            _ = udev_unref(state.udev)
        }
    }

    /// Runs `body` with the raw context while holding the lock; `body` must not let the pointer, or any libudev
    /// object made from it, escape.
    func withUnsafeUdev<Result: Sendable>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        try handle.withLock { state in
            try body(state.udev)
        }
    }

    /// Runs `body` with the whole locked state, to create, use or drop a monitor.
    func withUnsafeState<Result: Sendable>(_ body: (inout State) throws -> Result) throws -> Result {
        try handle.withLock { state in
            try body(&state)
        }
    }
}

extension UdevContext {
    /// Every block device the kernel currently exposes (disks and partitions), read from sysfs and the udev
    /// database; devices that disappear during the scan are left out.
    ///
    /// Works without privileges; without a running systemd-udevd the udev database is empty and only the kernel's
    /// own properties (DEVNAME, DEVTYPE, MAJOR, MINOR, …) are present.
    ///
    /// - Throws: ``UdevError`` when sysfs cannot be scanned.
    public func blockDevices() throws -> [BlockDevice] {
        try withUnsafeUdev { udev in
            let enumerator = try UdevEnumerateHandle(udev: udev)
            try enumerator.matchSubsystem("block")
            return try enumerator.scanSysPaths().compactMap { sysPath in
                try UdevDeviceHandle(udev: udev, sysPath: sysPath)?.blockDevice()
            }
        }
    }

    /// The block device with this kernel name (e.g. `loop3`, `sda1`), or nil when there is none.
    ///
    /// - Throws: ``UdevError`` when the device exists but cannot be read.
    public func blockDevice(sysName: String) throws -> BlockDevice? {
        try withUnsafeUdev { udev in
            try UdevDeviceHandle(udev: udev, subsystem: "block", sysName: sysName)?.blockDevice()
        }
    }
}
