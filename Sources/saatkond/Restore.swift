import ArgumentParser
import Foundation
import Replication
import SystemPackage

/// `saatkond restore`: reads a stream back, byte for byte.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read a stream back from the appliance.")

    @OptionGroup var client: ClientOptions

    @Option(help: "The stream to read.")
    var stream: String

    @Option(help: "Where to write it: a new file, or - for standard output.")
    var output: String = "-"

    func run() async throws {
        let endpoint = try client.endpoint()
        let restorer = StreamRestorer(endpoint: endpoint)
        let line = ProgressLine(enabled: isatty(STDERR_FILENO) == 1, total: nil)
        defer { line.finish() }
        do {
            if output == "-" {
                _ = try await restorer.restore(stream: stream, to: .standardOutput) { done, _ in line.update(done: done)
                }
            } else {
                _ = try await restorer.restore(stream: stream, toFileAt: FilePath(output)) { done, _ in
                    line.update(done: done)
                }
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond restore: \(error)")
        }
    }
}
