import ArgumentParser
import Foundation
import Replication
import SystemPackage

/// `saatkond send`: appends a file or standard input to a stream, and exits 0 only once all of it is durable.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append a file or standard input to a stream on the appliance.",
        discussion: "Exits 0 only when the appliance has acknowledged every byte as durable.")

    @OptionGroup var client: ClientOptions

    @Option(help: "The stream to append to, e.g. ee.population.wal.")
    var stream: String

    @Argument(help: "The file to send, or - for standard input.")
    var input: String = "-"

    func run() async throws {
        let endpoint = try client.endpoint()
        let (descriptor, size) = try open()
        defer { if input != "-" { try? descriptor.close() } }
        let line = ProgressLine(enabled: isatty(STDERR_FILENO) == 1, total: size)
        let report: SendReport
        do {
            defer { line.finish() }
            report = try await StreamSender(endpoint: endpoint).send(stream: stream, from: descriptor) {
                line.update(done: $0.bytesAcknowledged)
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond send: \(error)")
        }
        if isatty(STDERR_FILENO) == 1 {
            FileHandle.standardError.write(
                Data("saatkond send: \(stream) is durable up to \(report.durableLength) bytes\n".utf8))
        }
    }

    private func open() throws -> (FileDescriptor, UInt64?) {
        if input == "-" { return (.standardInput, nil) }
        do {
            let descriptor = try FileDescriptor.open(FilePath(input), .readOnly, options: [.closeOnExec])
            let attributes = try? FileManager.default.attributesOfItem(atPath: input)
            let isFile = attributes?[.type] as? FileAttributeType == .typeRegular
            return (descriptor, isFile ? (attributes?[.size] as? NSNumber)?.uint64Value : nil)
        } catch {
            throw CommandFailure("saatkond send: cannot open \(input): \(error)")
        }
    }
}

/// Ends the process with status 1 and a one-line message, without ArgumentParser's usage text (which is for
/// mistakes in the command line, not for a refusal or a missing file).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
