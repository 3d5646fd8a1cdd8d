import ArgumentParser
import DevelopmentIdentity
import Foundation
import ReplicationClients
import ReplicationTransport
import SystemPackage

/// The options every client shares: where the appliances are and which TLS identity to use — from home's sender
/// configuration (`--config`, or `$SAATKOND_CONFIG`), from the three certificate files, or from a development
/// appliance's state directory.
struct ClientOptions: ParsableArguments {
    @Option(
        help: """
            Home's sender configuration: the appliances, their TLS identity, home's record directory and the \
            PostgreSQL cluster's prefix (default: $SAATKOND_CONFIG). Its format is in the README.
            """)
    var config: String?

    @Option(help: "With --config: the configured appliance to use, for commands that talk to one.")
    var appliance: String?

    @Option(help: "The state directory of a development appliance, whose identity is used by default.")
    var state: String?

    @Option(help: "The appliance's replication address, as HOST:PORT (default 127.0.0.1:7443).")
    var connect: HostAndPort?

    @Option(help: "The CA certificate (PEM) that issued the appliance's certificate.")
    var ca: String?

    @Option(help: "This sender's certificate (PEM).")
    var cert: String?

    @Option(help: "This sender's private key (PEM).")
    var key: String?

    func validate() throws {
        let given = [ca, cert, key].compactMap { $0 }.count
        guard given == 0 || given == 3 else {
            throw ValidationError("give all three of --ca, --cert and --key, or none to use the development identity")
        }
        if config != nil, given > 0 || connect != nil || state != nil {
            throw ValidationError("--config names the appliances; do not combine it with --connect, --state or --ca")
        }
    }

    /// The configuration file's path: `--config`, else `$SAATKOND_CONFIG` unless other connection options are given.
    var configurationPath: String? {
        if let config { return config }
        guard connect == nil, state == nil, ca == nil else { return nil }
        return ProcessInfo.processInfo.environment["SAATKOND_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The parsed configuration, when one is given.
    func configuration() throws -> SenderConfiguration? {
        guard let path = configurationPath else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CommandFailure("cannot read the configuration \(path): \(error.localizedDescription)")
        }
        do {
            return try SenderConfiguration(parsing: text, file: path)
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// Home's record directory, when the configuration names one.
    func records(_ configuration: SenderConfiguration?) -> HomeRecords? {
        configuration?.state.map { HomeRecords(directory: FilePath($0)) }
    }

    /// Every appliance to talk to, in configuration order; without a configuration, the one the other options name.
    /// `reading` (restores, listings, `wal-fetch`) picks each appliance's `read-connect`, its reader service.
    func appliances(_ configuration: SenderConfiguration?, reading: Bool = false) throws -> [NamedEndpoint] {
        guard let configuration else {
            return [NamedEndpoint(name: "appliance", endpoint: try singleEndpoint())]
        }
        var chosen = configuration.appliances
        if let appliance {
            chosen = chosen.filter { $0.name == appliance }
            guard !chosen.isEmpty else {
                throw CommandFailure("the configuration names no appliance '\(appliance)'")
            }
        }
        return try chosen.map { appliance in
            let files: TLSIdentityFiles
            if let state = appliance.developmentState {
                files = try Self.developmentFiles(state)
            } else {
                files = TLSIdentityFiles(
                    certificate: appliance.certificate!, privateKey: appliance.privateKey!,
                    trustedAuthorities: appliance.authority!)
            }
            return NamedEndpoint(
                name: appliance.name,
                endpoint: ReplicationEndpoint(
                    host: reading ? appliance.readHost : appliance.host,
                    port: reading ? appliance.readPort : appliance.port,
                    tls: try ReplicationTLS.senderConfiguration(files)))
        }
    }

    /// The one appliance a command that talks to one uses: `--appliance`, else the first configured; `reading`
    /// as in ``appliances(_:reading:)``.
    func endpoint(reading: Bool = false) throws -> ReplicationEndpoint {
        try appliances(try configuration(), reading: reading)[0].endpoint
    }

    private func singleEndpoint() throws -> ReplicationEndpoint {
        let files: TLSIdentityFiles
        if let ca, let cert, let key {
            files = TLSIdentityFiles(certificate: cert, privateKey: key, trustedAuthorities: ca)
        } else {
            files = try Self.developmentFiles(state)
        }
        let address = connect ?? HostAndPort(host: "127.0.0.1", port: 7443)
        return ReplicationEndpoint(
            host: address.host, port: address.port, tls: try ReplicationTLS.senderConfiguration(files))
    }

    private static func developmentFiles(_ state: String?) throws -> TLSIdentityFiles {
        let identity = StateDirectory(option: state).identity
        guard identity.senderFilesExist else {
            throw CommandFailure(
                "no development identity in \(identity.directory); start `saatkond dev` first, or give "
                    + "--ca, --cert and --key")
        }
        return TLSIdentityFiles(
            certificate: identity.senderCertificate.string, privateKey: identity.senderKey.string,
            trustedAuthorities: identity.authorityCertificate.string)
    }
}
