import Authorization
import CryptoPrimitives
import NIOSSL
import X509

/// What a client's certificate tells the policy: the common names of its subject and issuer, which grants name, and
/// its serial number and public-key hash, which the deny list revokes by. Only ever read from a certificate that
/// the TLS layer has already verified.
enum PeerIdentity {
    /// The peer `certificate` names; nil when it cannot be parsed (it then holds no grant).
    static func peer(of certificate: NIOSSLCertificate) -> CertifiedPeer? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der),
            let publicKey = try? certificate.extractPublicKey().toSPKIBytes()
        else {
            return nil
        }
        return CertifiedPeer(
            commonName: commonName(in: parsed.subject), issuer: commonName(in: parsed.issuer),
            serialNumber: hex(parsed.serialNumber.bytes), publicKeySHA256: hex(SHA256.hash(publicKey)))
    }

    static func commonName(in name: DistinguishedName) -> String? {
        for relativeName in name {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
