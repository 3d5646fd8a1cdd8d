import ArgumentParser
import Foundation
import Health
import SaatkondLogging

/// `saatkond health`: attestation reports and metrics for home.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Serve signed attestation reports and metrics to home over mutual TLS 1.3.",
        discussion: "Runs as a systemd service (Type=notify); see HealthConfiguration for the file format.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/saatkond/health.conf"

    func run() async throws {
        SaatkondLogging.bootstrap()
        let parsed = try loadConfiguration(config, for: "health") {
            try HealthConfiguration(parsing: $0, file: config)
        }
        try await HealthService(configuration: parsed).run { address in
            FileHandle.standardError.write(Data("saatkond health: serving reports on \(address)\n".utf8))
        }
    }
}
