import Foundation
import TestSupport
import Testing

/// A loop device attached by a test; call ``detach()`` in a `defer`.
struct LoopDevice {
    /// The device node losetup reported, e.g. `/dev/loop3`.
    let node: String

    /// The kernel name, e.g. `loop3`.
    var sysName: String { (node as NSString).lastPathComponent }

    /// Attaches `file` to the first free loop device; a fresh attach makes the kernel announce the device anew.
    static func attach(_ file: String) throws -> LoopDevice {
        LoopDevice(node: try Command.run("losetup", ["--find", "--show", file]))
    }

    /// Detaches exactly this device, never any other.
    func detach() {
        do {
            try Command.run("losetup", ["-d", node])
        } catch {
            Issue.record("could not detach \(node): \(error)")
        }
    }
}
