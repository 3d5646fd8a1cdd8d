import ArgumentParser
import DurableFiles
import Foundation
import ReplicationClients
import ReplicationTransport
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

    @Flag(
        help: """
            The input is the whole stream from its first byte (always so with --config): what the appliance holds is skipped (after checking \
            that it is the same bytes) and the rest appended. Run it again after any failure to finish the stream.
            """)
    var resume = false

    @Option(help: "Ask the appliance for a signed receipt of the final durable length and head, and write it here.")
    var receipt: String?

    @Option(help: "Seconds to go on retrying without progress (a broken connection, a busy stream, failing storage).")
    var giveUpAfter: UInt = 120

    func run() async throws {
        if let configuration = try client.configuration() {
            try await ConfiguredSend(client: client, configuration: configuration).send(
                stream: stream, input: input, receipt: receipt, giveUpAfter: giveUpAfter)
            return
        }
        let endpoint = try client.endpoint()
        let (descriptor, size) = try open()
        defer { if input != "-" { FileSystemCalls.release(descriptor) } }
        let line = ProgressLine(enabled: ProcessCalls.isTerminal(.standardError), total: size)
        let report: SendReport
        do {
            defer { line.finish() }
            let sender = StreamSender(
                endpoint: endpoint, retry: RetryPolicy(giveUpAfter: .seconds(Int64(clamping: giveUpAfter))),
                mode: resume ? .resume : .append, requestsReceipt: receipt != nil)
            report = try await sender.send(stream: stream, from: descriptor) {
                line.update(done: $0.bytesAcknowledged)
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond send: \(error)")
        }
        if let path = receipt, let signed = report.receipt {
            do {
                try signed.text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw CommandFailure(
                    "saatkond send: everything is durable, but the receipt cannot be written: \(error)")
            }
        }
        if ProcessCalls.isTerminal(.standardError) {
            FileHandle.standardError.write(
                Data("saatkond send: \(stream) is durable up to \(report.durableLength) bytes\n".utf8))
        }
    }

    private func open() throws -> (FileDescriptor, UInt64?) {
        if input == "-" { return (.standardInput, nil) }
        do {
            let descriptor = try FileSystemCalls.open(FilePath(input), .readOnly, options: [.closeOnExec])
            // The size only shows progress: an input whose size cannot be read is sent all the same, without a total.
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
