import ArgumentParser
import DevelopmentIdentity
import ReplicationClients
import ReplicationTransport

/// The options `send` and `restore` share: where the appliance is and which TLS identity to use.
struct ClientOptions: ParsableArguments {
    @Option(help: "The state directory of a development appliance, whose identity is used by default.")
    var state: String?

    @Option(help: "The appliance's replication address, as HOST:PORT.")
    var connect: HostAndPort = HostAndPort(host: "127.0.0.1", port: 7443)

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
    }

    /// The endpoint: the given certificates, or the development identity in the state directory.
    func endpoint() throws -> ReplicationEndpoint {
        let files: TLSIdentityFiles
        if let ca, let cert, let key {
            files = TLSIdentityFiles(certificate: cert, privateKey: key, trustedAuthorities: ca)
        } else {
            let identity = StateDirectory(option: state).identity
            guard identity.exists else {
                throw CommandFailure(
                    "no development identity in \(identity.directory); start `saatkond dev` first, or give "
                        + "--ca, --cert and --key")
            }
            files = TLSIdentityFiles(
                certificate: identity.senderCertificate.string, privateKey: identity.senderKey.string,
                trustedAuthorities: identity.authorityCertificate.string)
        }
        return ReplicationEndpoint(
            host: connect.host, port: connect.port, tls: try ReplicationTLS.senderConfiguration(files))
    }
}
