import Appliance
import ArgumentParser
import DevelopmentIdentity
import Disks
import Foundation
import NIOCore
import SaatkondLogging

/// `saatkond dev`: every service in one process, on development defaults.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the appliance's services together in one process, with development defaults.",
        discussion: """
            State lives in --state DIR, else $SAATKOND_STATE, else ./.saatkond. The first start creates a \
            development CA, the appliance's TLS certificate and a sender certificate there. Ctrl-C or SIGTERM \
            stops it cleanly; everything acknowledged to a sender is already durable.
            """)

    @Option(help: "The state directory (default: $SAATKOND_STATE, else ./.saatkond).")
    var state: String?

    @Option(help: "Where to receive replication, as HOST:PORT.")
    var listen: HostAndPort = HostAndPort(host: "127.0.0.1", port: 7443)

    @Option(
        help: ArgumentHelp(
            "Run the disks service over a chassis of N loop-device bays (as root) instead of member directories.",
            discussion: "Pull and insert its disks with `saatkond rig`; see docs/disks.md."))
    var loopBays: Int?

    @Option(
        help: """
            The keys service's TPM, e.g. swtpm:host=127.0.0.1,port=2321. By default a swtpm started in the state \
            directory when swtpm is installed, else insecure software keys.
            """)
    var tcti: String?

    @Option(help: "The repository's hardware/ folder (the test rig's udev rules), for --loop-bays.")
    var hardware: String = "hardware"

    @Option(help: "How often the disks service scrubs the array, e.g. 30d or 10s (--loop-bays).")
    var scrubEvery: String?

    @Option(help: "Bytes per second for rebuilds and scrubs, e.g. 200M; 0 for no limit (--loop-bays).")
    var rebuildRate: String = "200M"

    func validate() throws {
        if let loopBays, !(1...12).contains(loopBays) {
            throw ValidationError("--loop-bays takes 1 to 12 bays")
        }
        if let scrubEvery, DisksConfiguration.duration(scrubEvery) == nil {
            throw ValidationError("--scrub-every takes a number followed by s, m, h or d")
        }
        if DisksConfiguration.bytes(rebuildRate) == nil {
            throw ValidationError("--rebuild-rate takes bytes per second, e.g. 200M, or 0")
        }
    }

    func run() async throws {
        SaatkondLogging.bootstrap()
        let stateDirectory = StateDirectory(option: state)
        var configuration = DevelopmentAppliance.Configuration(
            state: stateDirectory, host: listen.host, port: listen.port, loopBays: loopBays)
        configuration.hardware = hardware
        configuration.tcti = tcti
        configuration.scrubEvery = scrubEvery.flatMap(DisksConfiguration.duration)
        let rate = DisksConfiguration.bytes(rebuildRate) ?? 0
        configuration.rebuildBytesPerSecond = rate == 0 ? nil : rate
        let appliance = DevelopmentAppliance(configuration: configuration)
        try await appliance.run { address in
            let state = stateDirectory.path.string
            let connect = "\(listen.host):\(address.port ?? listen.port)"
            let text = """
                saatkond dev: receiving replication on \(connect) (state in \(state))
                  send:    saatkond send --state \(state) --connect \(connect) --stream ee.example.wal FILE
                  restore: saatkond restore --state \(state) --connect \(connect) --stream ee.example.wal --output FILE
                Ctrl-C stops it.

                """
            // Unbuffered, so that a script reading the pipe sees the instructions at once.
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// A `HOST:PORT` option value; IPv6 hosts are written in brackets, `[::1]:7443`.
struct HostAndPort: ExpressibleByArgument, Sendable {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
