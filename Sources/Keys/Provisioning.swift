import CryptoPrimitives
import CustodyLog
import DurableFiles
import Escrow
import Foundation
import HashChain
import Receipts
import SystemPackage

/// `saatkond keys provision`: makes the appliance's keys, once. The storage key pair and the journal key are made
/// in locked memory; the storage secret (private key and journal key) is split to home's officials and written as
/// the escrow bundle first, so that a key the TPM holds always has its escrow; then the vault seals them and makes
/// the signing key; the public halves are written; the marker comes last.
///
/// A provisioning that stopped half-way (no marker) is started over: its keys never reached anyone, since the keys
/// service serves nothing before the marker exists. A finished one is refused.
public struct Provisioning {
    public let configuration: KeysConfiguration
    public let vault: any KeyVault
    public let files: KeysStateFiles

    public init(configuration: KeysConfiguration, vault: any KeyVault) {
        self.configuration = configuration
        self.vault = vault
        files = KeysStateFiles(directory: FilePath(configuration.stateDirectory))
    }

    /// What provisioning made, for the operator: nothing secret.
    public struct Report: Sendable {
        public var storagePublicKey: X25519PublicKey
        public var signingPublicKey: P256PublicKey
        public var escrowBundle: FilePath
    }

    public func run(now: Date = Date()) throws -> Report {
        if FileSystemCalls.exists(files.zeroized) {
            throw KeysError("this appliance's keys were zeroized; a zeroized appliance is not provisioned again here")
        }
        if FileSystemCalls.exists(files.provisioned) {
            let when = (try? files.readText(files.provisioned))?.split(separator: "\n").first ?? ""
            throw KeysError("the keys are already provisioned (\(when)); provisioning again would lose them")
        }
        // Everything read before anything is made: a mistake in the configuration leaves the TPM untouched.
        let officials = try configuration.officials.map { official in
            (name: official.name, publicKey: try Self.readX25519PublicKey(FilePath(official.publicKey)))
        }
        _ = try Self.readP256PublicKey(FilePath(configuration.policyKey))
        try FileSystemCalls.createDirectories(files.directory)
        let audit = try CustodyLog(path: files.auditLog)
        defer { audit.close() }
        if try vault.holdsKeys() {
            // The remains of a provisioning that stopped before its marker: no key of theirs ever left the service.
            try vault.zeroize()
            _ = try audit.append(CustodyEvent("keys.provisioning-restarted", ["vault": vault.kind]))
        }
        let storageKey = try X25519PrivateKey()
        let journalKey = try CryptoRandom.secretBytes(count: 32)
        let secret = SecretBytes(count: 64) { buffer in
            storageKey.rawRepresentation.withUnsafeBytes { buffer.copyMemory(from: $0) }
            journalKey.withUnsafeBytes { (buffer.baseAddress! + 32).copyMemory(from: $0.baseAddress!, byteCount: 32) }
        }
        let bundle = try EscrowBundle.make(
            secret: secret, threshold: configuration.escrowThreshold, officials: officials,
            appliance: configuration.applianceName, storagePublicKey: storageKey.publicKey, created: now)
        try files.writePublic(bundle.serialized(), to: files.escrowBundle)
        let signing = try vault.provision(storagePrivateKey: storageKey.rawRepresentation, journalKey: journalKey)
        try files.writePublic(Hex.encode(storageKey.publicKey.rawRepresentation) + "\n", to: files.storagePublicKey)
        try files.writePublic(signing.pemRepresentation, to: files.signingPublicKey)
        let stamp = ISO8601DateFormatter().string(from: now)
        try files.writePublic(
            "provisioned \(stamp)\nappliance = \(configuration.applianceName)\nsigning-key = \(ReceiptKeyID.of(signing))\n"
                + "vault = \(vault.kind)\n", to: files.provisioned)
        _ = try audit.append(
            CustodyEvent(
                "keys.provisioned",
                [
                    "vault": vault.kind, "storage-public-key": Hex.encode(storageKey.publicKey.rawRepresentation),
                    "signing-key": ReceiptKeyID.of(signing), "pcrs": "\(configuration.pcrs)",
                    "escrow": "\(configuration.escrowThreshold) of "
                        + configuration.officials.map(\.name).joined(separator: ", "),
                ]))
        return Report(
            storagePublicKey: storageKey.publicKey, signingPublicKey: signing, escrowBundle: files.escrowBundle)
    }

    static func readX25519PublicKey(_ path: FilePath) throws -> X25519PublicKey {
        let text = try KeysStateFiles(directory: "/").readText(path).filter { !$0.isWhitespace }
        guard let raw = Hex.decode(text), raw.count == 32 else {
            throw KeysError("\(path) is not an X25519 public key (64 hexadecimal digits)")
        }
        return try X25519PublicKey(rawRepresentation: raw)
    }

    static func readP256PublicKey(_ path: FilePath) throws -> P256PublicKey {
        let text = try KeysStateFiles(directory: "/").readText(path)
        do {
            return try P256PublicKey(pemRepresentation: text)
        } catch {
            throw KeysError("\(path) is not a P-256 public key in PEM: \(error)")
        }
    }
}
