import Foundation

/// Runs command-line tools with Foundation's Process and reports failures as errors with their stderr.
public enum Command {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Finds `tool` in PATH or in the sbin directories, which a non-login root shell may lack (a path is itself).
    public static func locate(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `tool` to completion and returns its standard output without the trailing newline.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String]) throws -> String {
        guard let executable = locate(tool) else { throw Failure(description: "\(tool) not found") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read one pipe after the other: these tools print a line or two, far below a pipe's buffer, so neither
        // can block the tool while the other is being drained.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: outputData, as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let stderr = String(decoding: errorData, as: UTF8.self)
            throw Failure(
                description: "\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): "
                    + stderr
            )
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `tool` to completion with its standard output written to the file at `path`.
    public static func run(_ tool: String, _ arguments: [String], toFile path: String) throws {
        guard let executable = locate(tool) else { throw Failure(description: "\(tool) not found") }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw Failure(description: "cannot create \(path)")
        }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = file
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw Failure(
                description: "\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus))")
        }
    }
}
