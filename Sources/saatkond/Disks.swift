import Appliance
import ArgumentParser
import Disks
import Foundation
import Logging
import SaatkondLogging

/// `saatkond disks`: the disk service.
struct DisksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disks",
        abstract: "Discover, map, adopt, guard and rebuild the array's member disks from udev events.",
        discussion: "Runs as a systemd service (Type=notify); see DisksConfiguration for the file format.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/saatkond/disks.conf"

    func run() async throws {
        SaatkondLogging.bootstrap()
        let text: String
        do {
            text = try String(contentsOfFile: config, encoding: .utf8)
        } catch {
            throw CommandFailure("saatkond disks: cannot read \(config): \(error)")
        }
        do {
            let parsed = try DisksConfiguration(parsing: text, file: config)
            try await DisksLauncher.run(configuration: parsed, file: config, logger: Logger(label: "saatkond.disks"))
        } catch let error as DisksConfigurationError {
            throw CommandFailure("saatkond disks: \(error)")
        }
    }
}
