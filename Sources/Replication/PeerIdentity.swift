import NIOSSL
import X509

/// The identity a client's certificate gives it: the common name of its subject, which the authorization policy
/// grants operations to. Only ever read from a certificate that the TLS layer has already verified.
enum PeerIdentity {
    static func commonName(of certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        for relativeName in parsed.subject {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }
}
