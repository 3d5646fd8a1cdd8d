/// A snapshot of one block device as udev sees it: sysfs identity, the udev properties and a few sysfs attributes.
///
/// It is a value read at one moment; a device that changes afterwards (resized, re-probed, detached) is not
/// reflected until it is read again through ``UdevContext``.
public struct BlockDevice: Sendable, Equatable {
    /// The device's directory in sysfs, e.g. `/sys/devices/virtual/block/loop3`.
    public var sysPath: String

    /// The kernel name, e.g. `loop3` or `sda1`.
    public var sysName: String

    /// The device node, e.g. `/dev/loop3`; nil for a device without one.
    public var devNode: String?

    /// `disk` or `partition`.
    public var devType: String?

    /// The size in bytes: sysfs reports `size` in 512-byte sectors regardless of the logical block size.
    public var sizeBytes: UInt64?

    /// Every udev property: the kernel's uevent variables, plus the udev database entries (ID_FS_TYPE, ID_SERIAL,
    /// …) once systemd-udevd has processed the device.
    public var properties: [String: String]

    /// The sysfs attributes that were readable, keyed by their path relative to ``sysPath``:
    /// `size`, `ro`, `removable`, `queue/logical_block_size`, `queue/physical_block_size`, `queue/rotational`.
    /// A partition has no `queue/` attributes.
    public var sysAttributes: [String: String]

    /// Creates a snapshot from already-read values.
    public init(
        sysPath: String,
        sysName: String,
        devNode: String?,
        devType: String?,
        sizeBytes: UInt64?,
        properties: [String: String],
        sysAttributes: [String: String]
    ) {
        self.sysPath = sysPath
        self.sysName = sysName
        self.devNode = devNode
        self.devType = devType
        self.sizeBytes = sizeBytes
        self.properties = properties
        self.sysAttributes = sysAttributes
    }

    /// The sysfs attributes copied into ``sysAttributes``; a fixed list because reading every attribute of a
    /// device can be slow or wake a sleeping disk.
    static let capturedSysAttributes = [
        "size", "ro", "removable", "queue/logical_block_size", "queue/physical_block_size", "queue/rotational",
    ]
}

extension BlockDevice {
    /// `ID_PATH`: where the device is attached (controller, port), stable across reboots; nil until udevd ran.
    public var idPath: String? { properties["ID_PATH"] }

    /// `ID_SERIAL`: the model and serial number reported by the device; nil when absent.
    public var idSerial: String? { properties["ID_SERIAL"] }

    /// `ID_WWN`: the World Wide Name, the preferred disk identity; nil when the device has none.
    public var idWWN: String? { properties["ID_WWN"] }

    /// `ID_FS_TYPE`: the file system blkid found on the device (e.g. `xfs`); nil when none or not yet probed.
    public var idFSType: String? { properties["ID_FS_TYPE"] }
}
