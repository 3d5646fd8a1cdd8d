import Crypto
import DurableFiles
import Foundation
import SwiftASN1
import SystemPackage
import X509

/// The TLS identities of the development appliance: a development CA, the appliance's certificate and one
/// sender's certificate, created on first start in `<state>/identity/`.
///
/// Everything here is for development only, and says so in its names: the CA's private key sits in a file next
/// to the certificates. A production appliance is issued its certificate by home's CA and never sees its key.
public struct DevelopmentIdentity: Sendable, Hashable {
    /// The directory that holds the files.
    public let directory: FilePath

    /// The development CA's certificate, trusted by both ends.
    public var authorityCertificate: FilePath { directory.appending("development-ca.pem") }
    /// The development CA's private key.
    public var authorityKey: FilePath { directory.appending("development-ca-key.pem") }
    /// The appliance's certificate, for `localhost`, 127.0.0.1 and ::1.
    public var applianceCertificate: FilePath { directory.appending("appliance.pem") }
    /// The appliance's private key.
    public var applianceKey: FilePath { directory.appending("appliance-key.pem") }
    /// The development sender's certificate.
    public var senderCertificate: FilePath { directory.appending("sender.pem") }
    /// The development sender's private key.
    public var senderKey: FilePath { directory.appending("sender-key.pem") }

    /// The identity stored in `directory`, whether or not it exists yet.
    public init(directory: FilePath) {
        self.directory = directory
    }

    /// Whether all files exist.
    public var exists: Bool {
        [authorityCertificate, authorityKey, applianceCertificate, applianceKey, senderCertificate, senderKey]
            .allSatisfy { FileManager.default.fileExists(atPath: $0.string) }
    }

    /// Whether the three files a sender uses exist: the CA certificate, the sender's certificate and its key. A copy
    /// of the identity for a sender's user (PostgreSQL's `postgres`) needs only these, never the CA's or the
    /// appliance's private key.
    public var senderFilesExist: Bool {
        [authorityCertificate, senderCertificate, senderKey].allSatisfy {
            FileManager.default.fileExists(atPath: $0.string)
        }
    }

    /// Loads the identity in `directory`, creating it when it does not exist yet.
    public static func loadOrCreate(in directory: FilePath, now: Date = Date()) throws -> DevelopmentIdentity {
        let identity = DevelopmentIdentity(directory: directory)
        if identity.exists { return identity }
        try identity.create(now: now)
        return identity
    }

    private func create(now: Date) throws {
        try FileManager.default.createDirectory(
            atPath: directory.string, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(5 * 365 * 24 * 3600)

        let authorityKey = P256.Signing.PrivateKey()
        let authorityName = try DistinguishedName {
            OrganizationName("Saatkond development")
            CommonName("Saatkond development CA \(UUID().uuidString.prefix(8))")
        }
        let authority = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(authorityKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: authorityName, subject: authorityName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(authorityKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(authorityKey))

        func issue(
            commonName: String, usage: ExtendedKeyUsage.Usage, names: [GeneralName]
        ) throws
            -> (Certificate, P256.Signing.PrivateKey)
        {
            let key = P256.Signing.PrivateKey()
            let subject = try DistinguishedName {
                OrganizationName("Saatkond development")
                CommonName(commonName)
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: notBefore, notValidAfter: notAfter, issuer: authorityName, subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    AuthorityKeyIdentifier(
                        keyIdentifier: try authority.extensions.subjectKeyIdentifier?.keyIdentifier)
                    if !names.isEmpty { SubjectAlternativeNames(names) }
                },
                issuerPrivateKey: Certificate.PrivateKey(authorityKey))
            return (certificate, key)
        }

        let (appliance, applianceKey) = try issue(
            commonName: "saatkond development appliance", usage: .serverAuth,
            names: [
                .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ])
        let (sender, senderKey) = try issue(commonName: "development-sender", usage: .clientAuth, names: [])

        // Keys first and the CA certificate last: `exists` checks all six, so a crash half-way leaves an identity
        // that is simply created again on the next start.
        try write(authorityKey.pemRepresentation, to: self.authorityKey, secret: true)
        try write(applianceKey.pemRepresentation, to: self.applianceKey, secret: true)
        try write(senderKey.pemRepresentation, to: self.senderKey, secret: true)
        try write(try appliance.serializeAsPEM().pemString, to: applianceCertificate, secret: false)
        try write(try sender.serializeAsPEM().pemString, to: senderCertificate, secret: false)
        try write(try authority.serializeAsPEM().pemString, to: authorityCertificate, secret: false)
    }

    private func write(_ text: String, to path: FilePath, secret: Bool) throws {
        try Array((text + "\n").utf8).withUnsafeBytes {
            try FileSystemCalls.writeAtomically(
                $0, to: path, permissions: secret ? [.ownerReadWrite] : [.ownerReadWrite, .groupRead, .otherRead])
        }
    }
}
