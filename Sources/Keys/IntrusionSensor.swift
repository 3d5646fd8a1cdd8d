import DurableFiles
import SystemPackage

/// The chassis-intrusion switch as a file: the kernel's hwmon `intrusion0_alarm` on the appliance (1 once the
/// chassis was opened, until cleared), a file in the test rig. Read, never written: clearing the alarm is the
/// technician's act after home has been told.
public struct IntrusionSensor: Sendable {
    /// The file.
    public let path: FilePath

    public init(path: FilePath) {
        self.path = path
    }

    /// What a reading says.
    public enum Reading: Sendable, Hashable {
        case closed
        case opened
        /// The file is absent or says something else: reported, never acted upon (an unreadable sensor is no
        /// reason to destroy keys).
        case unreadable(String)
    }

    public func read() -> Reading {
        var bytes = [UInt8](repeating: 0, count: 65)
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { try FileSystemCalls.read(path, into: $0) }
        } catch {
            return .unreadable("cannot read \(path): \(error)")
        }
        let text = String(decoding: bytes[..<min(count, 64)], as: UTF8.self).filter { !$0.isWhitespace }
        switch text {
        case "0": return .closed
        case "1": return .opened
        default: return .unreadable("\(path) says '\(text.prefix(16))', neither 0 nor 1")
        }
    }
}
