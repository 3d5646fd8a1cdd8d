import Foundation

/// Runs one of the disk tools (mkfs.xfs, mount, umount, blkid, smartctl, ledctl) with an argument list, never
/// through a shell: a serial number or a label is an argument, not text a shell would read.
struct ExternalTool: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Output: Sendable {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Where the tools live on Debian; a service's PATH may be minimal.
    static let directories = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    let path: String

    /// The tool `name`, or a clear error naming the package that installs it.
    init(_ name: String, package: String) throws {
        guard let found = Self.directories.map({ "\($0)/\(name)" }).first(where: FileManager.default.isExecutableFile)
        else {
            throw Failure(description: "\(name) is not installed (Debian package \(package))")
        }
        path = found
    }

    /// Runs the tool and returns its status and output, whatever the status.
    func run(_ arguments: [String], input: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ["PATH": Self.directories.joined(separator: ":"), "LC_ALL": "C"]
        let output = Pipe()
        let error = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        // Both pipes drained at once, so that a tool filling one while we wait on the other cannot block.
        let errorData = LockedData()
        let reader = Thread { errorData.set(error.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { usleep(1_000) }
        return Output(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.value, as: UTF8.self))
    }

    /// Runs the tool and throws, with its error output, unless it exits 0.
    @discardableResult
    func check(_ arguments: [String], input: String? = nil) throws -> String {
        let result = try run(arguments, input: input)
        guard result.status == 0 else {
            let name = (path as NSString).lastPathComponent
            let detail = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(
                description: "\(name) \(arguments.joined(separator: " ")) failed (status \(result.status))"
                    + (detail.isEmpty ? "" : ": \(detail)"))
        }
        return result.standardOutput
    }
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
