import ArgumentParser
import ConfigurationFile
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
        let text: String
        do {
            text = try String(contentsOfFile: config, encoding: .utf8)
        } catch {
            throw CommandFailure("saatkond health: cannot read \(config): \(error)")
        }
        do {
            let parsed = try HealthConfiguration(parsing: text, file: config)
            try await HealthService(configuration: parsed).run { address in
                FileHandle.standardError.write(Data("saatkond health: serving reports on \(address)\n".utf8))
            }
        } catch let error as ConfigurationFileError {
            throw CommandFailure("saatkond health: \(error)")
        }
    }
}
