import CryptoPrimitives
import DurableFiles
import SystemPackage

/// Private key files read straight into `SecretBytes` and written from them, never through a `String` or an array
/// that would outlive the call unwiped.
public enum SecretFile {
    /// The longest key file read: a PEM private key is a few hundred bytes.
    public static let maximumBytes = 8192

    /// The file's bytes, exactly.
    public static func read(_ path: String) throws -> SecretBytes {
        var count = 0
        let buffer = try SecretBytes(count: maximumBytes + 1) {
            count = try FileSystemCalls.read(FilePath(path), into: $0)
        }
        guard count <= maximumBytes else {
            throw KeysError("\(path) is longer than \(maximumBytes) bytes: not a key file")
        }
        return SecretBytes(count: count) { out in
            buffer.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }

    /// Writes `secret` to a new file, 0600; an existing file is never replaced.
    public static func write(_ secret: SecretBytes, to path: String) throws {
        let descriptor = try FileSystemCalls.open(
            FilePath(path), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
            permissions: [.ownerReadWrite])
        defer { FileSystemCalls.release(descriptor) }
        try secret.withUnsafeBytes { try FileSystemCalls.writeAll(descriptor, $0) }
        try FileSystemCalls.synchronise(descriptor)
    }
}
