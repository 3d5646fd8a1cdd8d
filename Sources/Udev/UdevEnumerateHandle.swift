internal import CLibudev

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Owns one `struct udev_enumerate`.
///
/// Not Sendable: it holds a reference to its context's `struct udev` and must live and die inside
/// ``UdevContext/withUnsafeUdev(_:)``.
final class UdevEnumerateHandle {
    private let pointer: OpaquePointer

    /// Creates an empty enumeration on `udev`, which must be held under the context's lock.
    init(udev: OpaquePointer) throws {
        guard let pointer = udev_enumerate_new(udev) else {
            throw UdevError.enumerationFailed(step: "udev_enumerate_new", errorNumber: errno)
        }
        self.pointer = pointer
    }

    deinit {
        _ = udev_enumerate_unref(pointer)
    }

    func withUnsafeEnumerate<Result>(_ body: (OpaquePointer) throws -> Result) rethrows -> Result {
        try body(pointer)
    }

    /// Restricts the scan to one subsystem, e.g. `block`.
    func matchSubsystem(_ subsystem: String) throws {
        let result = withUnsafeEnumerate { udev_enumerate_add_match_subsystem($0, subsystem) }
        if result < 0 {
            throw UdevError.enumerationFailed(step: "udev_enumerate_add_match_subsystem", errorNumber: -result)
        }
    }

    /// Scans sysfs and returns the syspaths of the matching devices, in libudev's (sorted) order.
    func scanSysPaths() throws -> [String] {
        try withUnsafeEnumerate { enumerate in
            let result = udev_enumerate_scan_devices(enumerate)
            if result < 0 {
                throw UdevError.enumerationFailed(step: "udev_enumerate_scan_devices", errorNumber: -result)
            }
            var paths: [String] = []
            var entry = udev_enumerate_get_list_entry(enumerate)
            while let current = entry {
                if let name = udev_list_entry_get_name(current) {
                    paths.append(String(cString: name))
                }
                entry = udev_list_entry_get_next(current)
            }
            return paths
        }
    }
}
