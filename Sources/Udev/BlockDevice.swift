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
    /// `size`, `ro`, `removable`, `queue/logical_block_size`, `queue/physical_block_size`, `queue/rotational`,
    /// `diskseq`, and `loop/backing_file` for a loop device while it is attached. A partition has no `queue/` or
    /// `diskseq` attributes.
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
        "diskseq", "loop/backing_file",
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

    /// `DISKSEQ`: the kernel's sequence number of the medium, new each time a disk appears or a loop device is
    /// attached, never reused until reboot; it tells a re-inserted disk from the one seen before under the same name.
    public var diskSequence: UInt64? { properties["DISKSEQ"].flatMap { UInt64($0) } }

    /// The sysfs attribute `diskseq`: the medium's sequence number when the attributes were read. In an event it can
    /// differ from ``diskSequence`` (the event's own): the event is then about a medium the device no longer holds,
    /// handled by udevd after the device changed again (a reused loop node, a disk swapped quickly).
    public var currentDiskSequence: UInt64? { sysAttributes["diskseq"].flatMap { UInt64($0) } }

    /// The file a loop device is attached to (sysfs `loop/backing_file`), nil for any other device or a detached
    /// loop device. The kernel shows the file's present path, so it follows a rename of the file.
    public var loopBackingFile: String? { sysAttributes["loop/backing_file"] }
}
