import DurableFiles
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A chassis whose bays are loop devices: the test rig of tests, of `saatkond dev --loop-bays N` and of humans trying
/// the appliance without disks.
///
/// A disk is a sparse image file named after its serial (`SERIAL.img`, or `SERIAL@wwn-0xHEX.img` for a disk with a
/// WWN). It waits in `<dir>/disks/`; inserting it moves it into `<dir>/bays/NN/` and attaches it to a loop device,
/// where the rig's udev rules (hardware/test-rig, installed with ``installRules(from:)``) give it the bay, the serial
/// and the WWN as udev properties, as the chassis's rules and the disk's firmware would. Pulling it does to the device
/// what a hot-pull does (its capacity drops to 0 at once and every I/O fails) and moves the image back to `disks/`.
///
/// Everything the rig knows is on disk and in sysfs (which loop device reads which file), so a rig directory can be
/// picked up again by another process, and ``detachAll()`` finds every device it attached.
public final class LoopRig: Sendable {
    /// The rig's directory, absolute with symbolic links resolved, as sysfs shows the loop devices' files.
    public let directory: FilePath

    /// How many bays the rig has, numbered from 1.
    public let bays: Int

    /// Opens the rig in `directory`, creating `bays/01` … `bays/NN`, `disks/` and `leds/` as needed.
    ///
    /// - Throws: ``LoopRigError`` when the directory's last component does not start with `saatkond-rig` (the rig's
    ///   udev rules only act on files under such a directory), when `bays` is not 1 to 99, or when the directories
    ///   cannot be created.
    public init(directory: FilePath, bays: Int) throws {
        guard let name = directory.lastComponent?.string, name.hasPrefix("saatkond-rig") else {
            throw LoopRigError.directoryName(directory)
        }
        guard (1...99).contains(bays) else { throw LoopRigError.bayCount(bays) }
        let subdirectories = ["disks", "leds"] + (1...bays).map { "bays/\(Self.bayName($0))" }
        for subdirectory in subdirectories {
            let path = directory.appending(subdirectory)
            do {
                try FileSystemCalls.createDirectories(path)
            } catch {
                throw LoopRigError.systemCall("mkdir", path.string, error)
            }
        }
        guard let resolved = realpath(directory.string, nil) else {
            throw LoopRigError.systemCall("realpath", directory.string, Errno(rawValue: errno))
        }
        defer { free(resolved) }
        self.directory = FilePath(String(cString: resolved))
        self.bays = bays
    }

    /// Where disks wait while they are in no bay.
    public var disksDirectory: FilePath { directory.appending("disks") }

    /// The directory of bay `bay`: `bays/NN`, two digits.
    public func bayDirectory(_ bay: Int) -> FilePath {
        directory.appending("bays").appending(Self.bayName(bay))
    }

    /// The state file of bay `bay`'s lights (`leds/NN`), for the bay map's `indicator = rig`: whoever drives the
    /// lights writes it, tests and humans read it.
    public func indicatorFile(bay: Int) -> FilePath {
        directory.appending("leds").appending(Self.bayName(bay))
    }

    /// Makes a blank disk: a sparse image of `bytes` bytes in `disks/`, named after its serial (and WWN).
    ///
    /// - Parameters:
    ///   - serial: 1 to 40 letters, digits, `.`, `_`, `-`; unique in the rig.
    ///   - wwn: `0x` and 1 to 32 hexadecimal digits (a bare hexadecimal number is taken too), or nil.
    ///   - bytes: a positive multiple of 512.
    /// - Returns: the image's path.
    public func makeDisk(serial: String, wwn: String? = nil, bytes: UInt64) throws -> FilePath {
        guard Self.isValidSerial(serial) else { throw LoopRigError.invalidSerial(serial) }
        var normalisedWWN: String?
        if let wwn {
            guard let normalised = Self.normalisedWWN(wwn) else { throw LoopRigError.invalidWWN(wwn) }
            normalisedWWN = normalised
        }
        guard bytes > 0, bytes % 512 == 0, bytes <= UInt64(Int64.max) else { throw LoopRigError.invalidSize(bytes) }
        if let existing = try image(serial: serial) {
            throw LoopRigError.diskExists(serial, at: existing.string)
        }
        let name = normalisedWWN.map { "\(serial)@wwn-\($0).img" } ?? "\(serial).img"
        let path = disksDirectory.appending(name)
        do {
            let descriptor = try FileSystemCalls.open(
                path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: [.ownerReadWrite])
            defer { FileSystemCalls.release(descriptor) }
            try FileSystemCalls.resize(descriptor, to: Int64(bytes))
        } catch {
            throw LoopRigError.systemCall("create", path.string, error)
        }
        return path
    }

    /// Inserts the disk `serial` into bay `bay`: moves its image from `disks/` into `bays/NN/` and attaches it with
    /// `losetup --find --show`. The kernel announces the device (a fresh node: `add`; a reused one: `change`), and
    /// udevd tags it as the rig's rules say.
    ///
    /// - Returns: the loop device's node, e.g. `/dev/loop3`.
    /// - Throws: ``LoopRigError`` when the bay holds a disk already, when no such disk waits in `disks/`, or when
    ///   losetup fails (the image is moved back then).
    public func insert(serial: String, bay: Int) throws -> String {
        try checkBay(bay)
        if let occupant = try occupant(of: bay) {
            throw LoopRigError.bayOccupied(bay, by: occupant)
        }
        guard let name = try Self.images(in: disksDirectory).first(where: { Self.serial(ofImage: $0) == serial }) else {
            let detail =
                try image(serial: serial).map { "its image is \($0)" }
                ?? "make it first (makeDisk)"
            throw LoopRigError.diskNotFound(serial, detail: detail)
        }
        let waiting = disksDirectory.appending(name)
        let inserted = bayDirectory(bay).appending(name)
        try move(waiting, to: inserted)
        do {
            return try Tool.run("losetup", ["--find", "--show", inserted.string])
        } catch {
            try? move(inserted, to: waiting)
            throw error
        }
    }

    /// Pulls the disk in bay `bay` as a technician would: its capacity drops to 0 at once (LOOP_SET_STATUS64 moves
    /// its start to the end of its file: the kernel announces a `change`, and every I/O fails with EIO, under a
    /// mounted file system too), then the device is detached (LOOP_CLR_FD: freed once its last opener, a mount,
    /// closes it); the image goes back to `disks/`.
    ///
    /// - Throws: ``LoopRigError`` when the bay is empty or an ioctl fails.
    public func pull(bay: Int) throws {
        try checkBay(bay)
        let directory = bayDirectory(bay)
        let images = try Self.images(in: directory)
        let prefix = directory.string + "/"
        let device = LoopDeviceCalls.attached().first { $0.backingFile.hasPrefix(prefix) }
        guard device != nil || !images.isEmpty else { throw LoopRigError.bayEmpty(bay) }
        if let device {
            if let image = images.first, let size = try? FileSystemCalls.size(at: directory.appending(image)) {
                try LoopDeviceCalls.pull(node: device.node, fileSize: size)
            } else {
                // The image was deleted under the device: nothing to shrink it to, so only detach.
                try LoopDeviceCalls.detach(node: device.node)
            }
        }
        for image in images {
            try move(directory.appending(image), to: disksDirectory.appending(image))
        }
    }

    /// The loop device in bay `bay` (e.g. `/dev/loop3`), or nil when the bay holds no attached disk.
    public func device(inBay bay: Int) -> String? {
        guard (1...bays).contains(bay) else { return nil }
        let prefix = bayDirectory(bay).string + "/"
        return LoopDeviceCalls.attached().first { $0.backingFile.hasPrefix(prefix) }?.node
    }

    /// Detaches every loop device whose file lies in this rig (in a bay, or pulled but still mounted), each by its
    /// node; a mounted one is freed when it is unmounted. For test cleanup: it never throws, and returns the nodes.
    @discardableResult
    public func detachAll() -> [String] {
        let prefix = directory.string + "/"
        var detached: [String] = []
        for device in LoopDeviceCalls.attached() where device.backingFile.hasPrefix(prefix) {
            if (try? LoopDeviceCalls.detach(node: device.node)) != nil {
                detached.append(device.node)
            }
        }
        return detached
    }

    // MARK: - Bays and images

    static func bayName(_ bay: Int) -> String {
        bay < 10 ? "0\(bay)" : "\(bay)"
    }

    private func checkBay(_ bay: Int) throws(LoopRigError) {
        guard (1...bays).contains(bay) else { throw .noSuchBay(bay, bays: bays) }
    }

    /// What is in bay `bay`, described for an error: its loop device, or an image not attached; nil when empty.
    private func occupant(of bay: Int) throws -> String? {
        if let node = device(inBay: bay) { return node }
        return try Self.images(in: bayDirectory(bay)).first.map { "the image \($0) (not attached)" }
    }

    /// Where the image of disk `serial` is, in `disks/` or in a bay; nil when the rig has none.
    private func image(serial: String) throws -> FilePath? {
        let places = [disksDirectory] + (1...bays).map { bayDirectory($0) }
        for place in places {
            if let name = try Self.images(in: place).first(where: { Self.serial(ofImage: $0) == serial }) {
                return place.appending(name)
            }
        }
        return nil
    }

    private static func images(in directory: FilePath) throws -> [String] {
        do {
            return try FileSystemCalls.entries(of: directory).filter { $0.hasSuffix(".img") }.sorted()
        } catch {
            throw LoopRigError.systemCall("list", directory.string, error)
        }
    }

    private func move(_ source: FilePath, to target: FilePath) throws {
        do {
            try FileSystemCalls.rename(source, to: target)
        } catch {
            throw LoopRigError.systemCall("rename", "\(source) to \(target)", error)
        }
    }

    /// The serial an image's name carries: `SERIAL.img` or `SERIAL@wwn-0xHEX.img`.
    static func serial(ofImage name: String) -> String? {
        guard name.hasSuffix(".img") else { return nil }
        let stem = name.dropLast(4)
        return String(stem.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0])
    }

    static func isValidSerial(_ serial: String) -> Bool {
        (1...40).contains(serial.utf8.count)
            && serial.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// `0x` and lowercase hexadecimal digits, as udev writes ID_WWN; nil for anything else.
    static func normalisedWWN(_ wwn: String) -> String? {
        let digits = wwn.hasPrefix("0x") || wwn.hasPrefix("0X") ? wwn.dropFirst(2) : Substring(wwn)
        guard (1...32).contains(digits.utf8.count), digits.allSatisfy(\.isHexDigit) else { return nil }
        return "0x" + digits.lowercased()
    }
}
