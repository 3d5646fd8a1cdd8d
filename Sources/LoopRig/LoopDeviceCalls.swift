import DurableFiles
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The loop-device ioctls the rig needs (linux/loop.h, which Swift does not import), and the attached loop devices
/// as sysfs lists them.
enum LoopDeviceCalls {
    /// An attached loop device: its node and the file it reads.
    struct Attached: Equatable {
        var node: String
        var backingFile: String
    }

    // linux/loop.h: ioctl numbers are 0x4C ('L') << 8 | n.
    private static let clearDescriptor: UInt = 0x4C01  // LOOP_CLR_FD
    private static let setStatus: UInt = 0x4C04  // LOOP_SET_STATUS64
    private static let getStatus: UInt = 0x4C05  // LOOP_GET_STATUS64

    /// sizeof(struct loop_info64): five u64 (device, inode, rdevice, offset, sizelimit), four u32 (number,
    /// encrypt_type, encrypt_key_size, flags), file_name[64], crypt_name[64], encrypt_key[32], init[2] (u64).
    private static let statusSize = 232
    /// offsetof(struct loop_info64, lo_offset).
    private static let offsetField = 24

    /// Every attached loop device, read from /sys/block/loopN/loop/backing_file (present only while attached). A
    /// device detached during the scan is left out.
    static func attached() -> [Attached] {
        let names = (try? FileSystemCalls.entries(of: "/sys/block")) ?? []
        return names.filter { $0.hasPrefix("loop") }.sorted().compactMap { name in
            guard let bytes = try? FileSystemCalls.readAll(FilePath("/sys/block/\(name)/loop/backing_file")) else {
                return nil
            }
            var path = String(decoding: bytes, as: UTF8.self)
            while path.last == "\n" { path.removeLast() }
            return path.isEmpty ? nil : Attached(node: "/dev/\(name)", backingFile: path)
        }
    }

    /// What a hot-pull does to a disk: moves the device's start to the end of its file (LOOP_SET_STATUS64 with
    /// lo_offset = `fileSize`), so its capacity drops to 0 at once, the kernel announces a change, and every I/O
    /// fails with EIO, under a mounted file system too; then LOOP_CLR_FD, which frees the device once its last
    /// opener (a mount) closes it.
    static func pull(node: String, fileSize: UInt64) throws(LoopRigError) {
        let device = try open(node)
        defer { FileSystemCalls.release(device) }
        var status = [UInt8](repeating: 0, count: statusSize)
        try control(device, getStatus, &status, name: "LOOP_GET_STATUS64", node: node)
        status.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: fileSize.littleEndian, toByteOffset: offsetField, as: UInt64.self)
        }
        try control(device, setStatus, &status, name: "LOOP_SET_STATUS64", node: node)
        try clear(device, node: node)
    }

    /// Detaches `node` (LOOP_CLR_FD): at once when nothing else has it open, else when its last opener closes it.
    static func detach(node: String) throws(LoopRigError) {
        let device = try open(node)
        defer { FileSystemCalls.release(device) }
        try clear(device, node: node)
    }

    /// Opens a loop device read-only: the loop ioctls need no write access from root, and a mounted device may refuse
    /// a writer (CONFIG_BLK_DEV_WRITE_MOUNTED).
    private static func open(_ node: String) throws(LoopRigError) -> FileDescriptor {
        do {
            return try FileSystemCalls.open(FilePath(node), .readOnly, options: [.closeOnExec])
        } catch {
            throw .systemCall("open", node, error)
        }
    }

    private static func clear(_ device: FileDescriptor, node: String) throws(LoopRigError) {
        while ioctl(device.rawValue, clearDescriptor) != 0 {
            let error = Errno(rawValue: errno)
            if error == .interrupted { continue }
            // ENXIO: not attached (any more); a pulled device may be freed by the time it is detached again.
            if error == .noSuchAddressOrDevice { return }
            throw .systemCall("LOOP_CLR_FD", node, error)
        }
    }

    private static func control(
        _ device: FileDescriptor, _ request: UInt, _ status: inout [UInt8], name: String, node: String
    ) throws(LoopRigError) {
        while true {
            let result = status.withUnsafeMutableBytes { ioctl(device.rawValue, request, $0.baseAddress!) }
            if result == 0 { return }
            let error = Errno(rawValue: errno)
            if error != .interrupted { throw .systemCall(name, node, error) }
        }
    }
}
