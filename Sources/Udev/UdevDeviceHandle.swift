internal import CLibudev

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Owns one `struct udev_device`.
///
/// Not Sendable: it holds a reference to its context's `struct udev` and must live and die inside
/// ``UdevContext/withUnsafeUdev(_:)``.
final class UdevDeviceHandle {
    private let pointer: OpaquePointer

    /// Opens the device at `sysPath`; nil when it has disappeared since it was listed.
    init?(udev: OpaquePointer, sysPath: String) throws {
        guard let pointer = udev_device_new_from_syspath(udev, sysPath) else {
            let error = errno
            if Self.meansGone(error) { return nil }
            throw UdevError.deviceUnreadable(path: sysPath, errorNumber: error)
        }
        self.pointer = pointer
    }

    /// Opens the device named `sysName` in `subsystem`; nil when there is no such device.
    init?(udev: OpaquePointer, subsystem: String, sysName: String) throws {
        guard let pointer = udev_device_new_from_subsystem_sysname(udev, subsystem, sysName) else {
            let error = errno
            if Self.meansGone(error) { return nil }
            throw UdevError.deviceUnreadable(path: "\(subsystem)/\(sysName)", errorNumber: error)
        }
        self.pointer = pointer
    }

    /// Takes ownership of a device libudev returned with a reference for the caller (as a monitor's receive does).
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        _ = udev_device_unref(pointer)
    }

    func withUnsafeDevice<Result>(_ body: (OpaquePointer) throws -> Result) rethrows -> Result {
        try body(pointer)
    }

    /// libudev reports a missing or vanished device as one of these; anything else is a real failure.
    private static func meansGone(_ error: Int32) -> Bool {
        error == ENODEV || error == ENOENT || error == ENXIO
    }

    /// Copies everything a ``BlockDevice`` holds out of the libudev object.
    func blockDevice() -> BlockDevice {
        withUnsafeDevice { device in
            var attributes: [String: String] = [:]
            for name in BlockDevice.capturedSysAttributes {
                if let value = udev_device_get_sysattr_value(device, name) {
                    attributes[name] = String(cString: value)
                }
            }
            // sysfs "size" counts 512-byte sectors whatever the device's logical block size is.
            let sizeBytes = attributes["size"].flatMap { UInt64($0) }.flatMap { sectors in
                let (bytes, overflow) = sectors.multipliedReportingOverflow(by: 512)
                return overflow ? nil : bytes
            }
            return BlockDevice(
                sysPath: string(udev_device_get_syspath(device)) ?? "",
                sysName: string(udev_device_get_sysname(device)) ?? "",
                devNode: string(udev_device_get_devnode(device)),
                devType: string(udev_device_get_devtype(device)),
                sizeBytes: sizeBytes,
                properties: properties(of: device),
                sysAttributes: attributes
            )
        }
    }

    /// Copies what a monitor's event holds: its action, its sequence number and the device.
    func event() -> UdevEvent {
        withUnsafeDevice { device in
            let action = string(udev_device_get_action(device)).flatMap { UdevEvent.Action(rawValue: $0) } ?? .other
            let sequenceNumber = udev_device_get_seqnum(device)
            return UdevEvent(
                action: action, device: blockDevice(),
                sequenceNumber: sequenceNumber == 0 ? nil : UInt64(sequenceNumber))
        }
    }

    private func properties(of device: OpaquePointer) -> [String: String] {
        var properties: [String: String] = [:]
        var entry = udev_device_get_properties_list_entry(device)
        while let current = entry {
            if let name = udev_list_entry_get_name(current) {
                properties[String(cString: name)] = string(udev_list_entry_get_value(current)) ?? ""
            }
            entry = udev_list_entry_get_next(current)
        }
        return properties
    }

    private func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
