import Foundation
import TestSupport

/// Facts about the machine the tests run on, for `.enabled(if:)` traits.
enum TestEnvironment {
    /// Attaching loop devices and running systemd-udevd need root.
    static var isRoot: Bool { geteuid() == 0 }

    /// Where Debian installs the udev daemon.
    static let udevdPath = "/lib/systemd/systemd-udevd"

    static var hasUdevd: Bool { FileManager.default.isExecutableFile(atPath: udevdPath) }

    /// Every tool the loop-device tests run.
    static var hasLoopTools: Bool { Command.locate("losetup") != nil }

    static var hasUdevTools: Bool {
        hasUdevd && hasLoopTools && Command.locate("udevadm") != nil && Command.locate("mkfs.xfs") != nil
    }

    /// The rig tests also mount file systems, and run the rules' program with /bin/sh.
    static var hasRigTools: Bool {
        hasUdevTools && Command.locate("mount") != nil && Command.locate("umount") != nil
            && FileManager.default.isExecutableFile(atPath: "/bin/sh")
    }
}
