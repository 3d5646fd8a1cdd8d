import Foundation

/// A fresh directory under the system temporary directory; call ``remove()`` in a `defer`.
public struct ScratchDirectory: Sendable {
    public let path: String

    public init(prefix: String = "saatkond-test") throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    /// Creates a sparse file of `bytes` bytes and returns its path.
    public func sparseFile(named name: String, bytes: UInt64) throws -> String {
        let file = "\(path)/\(name)"
        guard FileManager.default.createFile(atPath: file, contents: nil) else {
            throw Command.Failure(description: "cannot create \(file)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.truncate(atOffset: bytes)
        return file
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
