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
        let descriptor: FileDescriptor
        if output == "-" {
            descriptor = .standardOutput
        } else {
            do {
                descriptor = try FileDescriptor.open(
                    FilePath(output), .writeOnly, options: [.create, .truncate, .closeOnExec],
                    permissions: [.ownerReadWrite])
            } catch {
                throw ValidationError("cannot create \(output): \(error)")
            }
        }
        defer { if output != "-" { try? descriptor.close() } }
        let line = ProgressLine(enabled: isatty(STDERR_FILENO) == 1, total: nil)
        do {
            _ = try await StreamRestorer(endpoint: endpoint).restore(stream: stream, to: descriptor) { done, _ in
                line.update(done: done)
            }
            line.finish()
            if output != "-" && fsync(descriptor.rawValue) != 0 {
                throw ValidationErrorExit(message: "saatkond restore: cannot flush \(output): \(Errno(rawValue: errno))")
            }
        } catch let error as ReplicationError {
            line.finish()
            throw ValidationErrorExit(message: "saatkond restore: \(error)")
        }
    }
}
