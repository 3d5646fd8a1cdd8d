import NIOSSL

/// The PEM files that make up one end's TLS identity and what it trusts.
public struct TLSIdentityFiles: Sendable, Hashable {
    /// This end's certificate chain, leaf first.
    public var certificate: String
    /// This end's private key.
    public var privateKey: String
    /// The certificate authorities whose certificates the other end must present.
    public var trustedAuthorities: String

    /// Names the three files.
    public init(certificate: String, privateKey: String, trustedAuthorities: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trustedAuthorities = trustedAuthorities
    }
}

/// TLS settings of both ends: TLS 1.3 only, and each end must present a certificate that the other trusts.
public enum ReplicationTLS {
    /// The receiver's configuration: it demands a client certificate issued by `files.trustedAuthorities`.
    /// Client certificates name senders, not hosts, so their host names are not checked.
    public static func receiverConfiguration(_ files: TLSIdentityFiles) throws -> TLSConfiguration {
        let (chain, key, roots) = try load(files)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(roots)
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }

    /// The sender's configuration: it presents its certificate and checks the appliance's against
    /// `files.trustedAuthorities` and the host name (or IP address) it connects to.
    public static func senderConfiguration(_ files: TLSIdentityFiles) throws -> TLSConfiguration {
        let (chain, key, roots) = try load(files)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(roots)
        configuration.certificateVerification = .fullVerification
        return configuration
    }

    /// How many CA certificates the PEM file at `path` holds: with more than one, the authorization policy must say
    /// which CA issued each grant's certificate.
    public static func authorityCount(in path: String) throws -> Int {
        do {
            return try NIOSSLCertificate.fromPEMFile(path).count
        } catch {
            throw ReplicationError.configuration("cannot load the trusted authorities from \(path): \(error)")
        }
    }

    private static func load(
        _ files: TLSIdentityFiles
    ) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey, [NIOSSLCertificate]) {
        func reading<T>(_ what: String, _ path: String, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                throw ReplicationError.configuration("cannot load the \(what) from \(path): \(error)")
            }
        }
        let chain = try reading("certificate", files.certificate) {
            try NIOSSLCertificate.fromPEMFile(files.certificate)
        }
        let key = try reading("private key", files.privateKey) {
            try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        }
        let roots = try reading("trusted authorities", files.trustedAuthorities) {
            try NIOSSLCertificate.fromPEMFile(files.trustedAuthorities)
        }
        guard !chain.isEmpty else { throw ReplicationError.configuration("\(files.certificate) holds no certificate") }
        guard !roots.isEmpty else {
            throw ReplicationError.configuration("\(files.trustedAuthorities) holds no certificate")
        }
        return (chain, key, roots)
    }
}
