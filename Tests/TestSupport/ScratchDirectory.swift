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

    /// Removes the directory and everything in it. A removal that meets a file created meanwhile (a store's
    /// background work that was still ending) fails part way; it is tried again for up to ten seconds, and what is
    /// still left then is reported on standard error rather than left behind without a word.
    public func remove() {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try FileManager.default.removeItem(atPath: path)
                return
            } catch {
                guard FileManager.default.fileExists(atPath: path) else { return }
                guard ContinuousClock.now < deadline else {
                    FileHandle.standardError.write(Data("ScratchDirectory: cannot remove \(path): \(error)\n".utf8))
                    return
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }
}
