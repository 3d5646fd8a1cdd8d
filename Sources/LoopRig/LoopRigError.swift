import SystemPackage

/// A test-rig operation was refused or failed.
public struct LoopRigError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Equatable, Sendable {
        case directoryName
        case bayCount
        case noSuchBay
        case invalidSerial
        case invalidWWN
        case invalidSize
        case diskExists
        case diskNotFound
        case bayOccupied
        case bayEmpty
        case toolMissing
        case toolFailed
        case systemCall
    }

    private let code: Code

    /// Says what was refused or failed, and what to do.
    public let description: String

    private init(_ code: Code, _ description: String) {
        self.code = code
        self.description = "LoopRig: " + description
    }

    /// Two errors are the same when the same thing went wrong; the wording is context.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code
    }

    static func directoryName(_ directory: FilePath) -> Self {
        Self(
            .directoryName,
            "the rig's directory must be named saatkond-rig…, found \(directory): its udev rules only tag loop devices "
                + "whose files lie under such a directory")
    }

    static func bayCount(_ count: Int) -> Self {
        Self(.bayCount, "a rig has 1 to 99 bays, asked for \(count)")
    }

    /// The rig has no bay with this number.
    public static func noSuchBay(_ bay: Int, bays: Int) -> Self {
        Self(.noSuchBay, "the rig has bays 1 to \(bays), asked for bay \(bay)")
    }

    static func invalidSerial(_ serial: String) -> Self {
        Self(.invalidSerial, "a serial is 1 to 40 letters, digits, '.', '_' or '-', found '\(serial)'")
    }

    static func invalidWWN(_ wwn: String) -> Self {
        Self(.invalidWWN, "a WWN is 0x and 1 to 32 hexadecimal digits, found '\(wwn)'")
    }

    static func invalidSize(_ bytes: UInt64) -> Self {
        Self(.invalidSize, "a disk's size is a positive multiple of 512 bytes, found \(bytes)")
    }

    /// A disk with this serial already exists in the rig.
    public static func diskExists(_ serial: String, at path: String) -> Self {
        Self(.diskExists, "a disk with serial \(serial) already exists: \(path)")
    }

    /// No disk with this serial is waiting outside the bays.
    public static func diskNotFound(_ serial: String, detail: String) -> Self {
        Self(.diskNotFound, "no disk with serial \(serial) is out of the bays: \(detail)")
    }

    /// The bay holds a disk already.
    public static func bayOccupied(_ bay: Int, by occupant: String) -> Self {
        Self(.bayOccupied, "bay \(bay) already holds \(occupant); pull it first")
    }

    /// The bay holds no disk.
    public static func bayEmpty(_ bay: Int) -> Self {
        Self(.bayEmpty, "bay \(bay) holds no disk")
    }

    static func toolMissing(_ tool: String) -> Self {
        Self(.toolMissing, "\(tool) is not installed (looked in PATH, /usr/sbin and /sbin)")
    }

    static func toolFailed(_ command: String, status: Int32, output: String) -> Self {
        Self(.toolFailed, "\(command) failed (exit status \(status)): \(output)")
    }

    static func systemCall(_ call: String, _ subject: String, _ error: Errno) -> Self {
        Self(.systemCall, "\(call) \(subject): \(error) (errno \(error.rawValue))")
    }
}
