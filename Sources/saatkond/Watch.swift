import ArgumentParser
import Foundation
import Health
import SaatkondLogging

/// `saatkond watch` (at home): the dead man's switch for the appliances' heartbeats.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive the appliances' signed heartbeats and raise an alarm when one stops, goes stale or reports "
            + "trouble.",
        discussion: """
            Runs as a service at home (see WatchConfiguration for the file format). With --check it reads the \
            running watch's status instead, prints one line per appliance, and exits 1 on any alarm or when the \
            watch itself has stopped writing: a check for cron or a monitoring system.
            """)

    @Option(help: "The configuration file.")
    var config: String = "/etc/saatkond/watch.conf"

    @Flag(help: "Report the running watch's status and exit 0 only when no appliance is in alarm.")
    var check = false

    @Option(help: "With --check: the watch's state directory (else the configuration's `state`).")
    var state: String?

    @Option(help: "With --check: the oldest status accepted, in seconds (the watch writes it every second).")
    var maxAge: Int64 = 10

    func run() async throws {
        if check {
            let directory = try state ?? parsed().state
            let (lines, alarm) = WatchService.check(
                state: directory, maximumAge: maxAge, now: Int64(Date().timeIntervalSince1970))
            for line in lines { print(line) }
            if let alarm { throw CommandFailure("saatkond watch: ALARM \(alarm)") }
            return
        }
        SaatkondLogging.bootstrap()
        try await WatchService(configuration: try parsed()).run { address in
            FileHandle.standardError.write(Data("saatkond watch: receiving heartbeats on \(address)\n".utf8))
        }
    }

    private func parsed() throws -> WatchConfiguration {
        try loadConfiguration(config, for: "watch") { try WatchConfiguration(parsing: $0, file: config) }
    }
}
