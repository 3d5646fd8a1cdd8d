/// What a client certificate, already verified by the TLS layer against the trusted authorities, says of its
/// holder: the names the policy grants to, and the numbers a deny list revokes by.
public struct CertifiedPeer: Sendable, Hashable, CustomStringConvertible {
    /// The common name of the certificate's subject, which grants name; nil when the subject has none.
    public var commonName: String?
    /// The common name of the certificate's issuer: the home CA that signed it.
    public var issuer: String?
    /// The certificate's serial number, as lower-case hexadecimal without leading zeros; empty when unknown.
    public var serialNumber: String
    /// SHA-256 of the certificate's DER SubjectPublicKeyInfo, as 64 lower-case hexadecimal digits.
    public var publicKeySHA256: String

    /// Describes a peer; `serialNumber` is normalised as ``DenyList`` writes serials.
    public init(commonName: String?, issuer: String? = nil, serialNumber: String = "", publicKeySHA256: String = "") {
        self.commonName = commonName
        self.issuer = issuer
        self.serialNumber = DenyList.normalisedSerial(serialNumber) ?? serialNumber
        self.publicKeySHA256 = publicKeySHA256.lowercased()
    }

    /// `'name' (issued by 'CA', serial 1f)`, for logs and refusals; no secret is in a certificate.
    public var description: String {
        let details = [issuer.map { "issued by '\($0)'" }, serialNumber.isEmpty ? nil : "serial \(serialNumber)"]
            .compactMap { $0 }
        return "\(commonName.map { "'\($0)'" } ?? "without a common name")"
            + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}
