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
/// derived from it (enumerations, devices, which keep references to the context) happens under one lock and ends
/// before the lock is released; only plain values such as ``BlockDevice`` leave it.
public final class UdevContext: Sendable {
    private let handle: Mutex<OpaquePointer>

    /// Creates a context; it reads sysfs and /run/udev at the moment of each query, not at creation.
    ///
    /// - Throws: ``UdevError`` when libudev cannot allocate the context.
    public init() throws {
        guard let udev = udev_new() else {
            throw UdevError.contextUnavailable(errorNumber: errno)
        }
        handle = Mutex(udev)
    }

    deinit {
        handle.withLock { udev in
            _ = udev_unref(udev)
        }
    }

    /// Runs `body` with the raw context while holding the lock; `body` must not let the pointer, or any libudev
    /// object made from it, escape.
    func withUnsafeUdev<Result: Sendable>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        try handle.withLock { udev in
            try body(udev)
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
