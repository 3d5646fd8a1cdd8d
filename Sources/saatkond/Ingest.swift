import Appliance
import ArgumentParser
import Foundation
import SaatkondLogging

/// `saatkond ingest`: the production replication receiver.
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive replicated streams over mutual TLS 1.3 into the erasure-coded array.",
        discussion: "Runs as a systemd service (Type=notify); see IngestConfiguration for the file format.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/saatkond/ingest.conf"

    func run() async throws {
        SaatkondLogging.bootstrap()
        let parsed = try loadConfiguration(config, for: "ingest") {
            try IngestConfiguration(parsing: $0, file: config)
        }
        do {
            try await IngestService(configuration: parsed, file: config).run { address in
                FileHandle.standardError.write(Data("saatkond ingest: receiving replication on \(address)\n".utf8))
            }
        } catch let error as ConfigurationError {
            throw CommandFailure("saatkond ingest: \(error)")
        }
    }
}
