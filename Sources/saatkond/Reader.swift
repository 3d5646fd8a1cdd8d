import Appliance
import ArgumentParser
import Foundation
import SaatkondLogging

/// `saatkond reader`: restores and listings, with segment keys unwrapped by the keys service.
struct Reader: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve restores and listings over mutual TLS 1.3, with every segment key unwrapped by the keys "
            + "service.",
        discussion: "Runs as a systemd service (Type=notify); see ReaderConfiguration for the file format.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/saatkond/reader.conf"

    func run() async throws {
        SaatkondLogging.bootstrap()
        let parsed = try loadConfiguration(config, for: "reader") {
            try ReaderConfiguration(parsing: $0, file: config)
        }
        do {
            try await ReaderService(configuration: parsed).run { address in
                FileHandle.standardError.write(Data("saatkond reader: serving restores on \(address)\n".utf8))
            }
        } catch let error as ConfigurationError {
            throw CommandFailure("saatkond reader: \(error)")
        }
    }
}
