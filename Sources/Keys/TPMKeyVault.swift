import CryptoPrimitives
import DurableFiles
import Foundation
import SystemPackage
import TPM2

/// The keys in the TPM: a storage parent made persistent at `parent-handle` (its private part exists only in the
/// TPM, so evicting it destroys everything sealed under it), the TPM-resident restricted signing key at
/// `signing-handle`, and two sealed objects in the state directory:
///
/// - `storage.sealed`: the storage private key, sealed to PolicyAuthorize with home's policy key, so that any policy
///   home signs (PolicyPCR over the configured PCRs with the values a release measures) opens it, and no other;
/// - `journal.sealed`: the journal key, sealed to this TPM's parent alone — writing must go on while measurements
///   are not approved ("sealed but writable"), and the journal key opens only the open tails of streams.
public final class TPMKeyVault: KeyVault {
    private let tpm: TPMConnection
    private let configuration: KeysConfiguration
    private let files: KeysStateFiles

    public init(configuration: KeysConfiguration) throws {
        self.configuration = configuration
        files = KeysStateFiles(directory: FilePath(configuration.stateDirectory))
        tpm = try TPMConnection(tcti: configuration.tcti)
    }

    public var kind: String { "tpm \(configuration.tcti)" }

    public func holdsKeys() throws -> Bool {
        try tpm.persistentHandleExists(configuration.parentHandle)
            || tpm.persistentHandleExists(configuration.signingHandle)
            || FileSystemCalls.exists(files.storageSealed) || FileSystemCalls.exists(files.journalSealed)
    }

    public func provision(storagePrivateKey: SecretBytes, journalKey: SecretBytes) throws -> P256PublicKey {
        guard try !holdsKeys() else {
            throw KeysError("the TPM or \(files.directory) already holds this appliance's keys")
        }
        let homeKey = try ECCPoint(
            uncompressed: try Provisioning.readP256PublicKey(FilePath(configuration.policyKey))
                .uncompressedRepresentation)
        try tpm.makeStorageParent(at: configuration.parentHandle)
        let signing = try tpm.makeSigningKey(parent: configuration.parentHandle, at: configuration.signingHandle)
        let storage = try tpm.seal(
            storagePrivateKey, parent: configuration.parentHandle,
            authPolicy: try PolicyDigest.authorize(signerName: homeKey.name, policyRef: SignedPolicy.policyReference))
        let journal = try tpm.sealToParent(journalKey, parent: configuration.parentHandle)
        try storage.serialized().withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: files.storageSealed) }
        try journal.serialized().withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: files.journalSealed) }
        return try P256PublicKey(uncompressedRepresentation: signing.uncompressed)
    }

    public func unsealJournalKey() throws -> SecretBytes {
        let sealed = try SealedObject(serialized: try files.readBytes(files.journalSealed))
        do {
            return try tpm.unsealFromParent(sealed, parent: configuration.parentHandle)
        } catch {
            throw VaultLocked("the journal key does not unseal: \(error)")
        }
    }

    /// Tries every policy in the policy directory that home's key signed, in name order, until one unseals.
    public func unsealStorageKey() throws -> SecretBytes {
        let sealed = try SealedObject(serialized: try files.readBytes(files.storageSealed))
        let homeKey = try Provisioning.readP256PublicKey(FilePath(configuration.policyKey))
        let homePoint = try ECCPoint(uncompressed: homeKey.uncompressedRepresentation)
        let directory = FilePath(configuration.policyDirectory)
        let names = (try? FileSystemCalls.entries(of: directory))?.sorted() ?? []
        var failures: [String] = []
        for name in names where !name.hasPrefix(".") {
            let path = directory.appending(name)
            do {
                let policy = try SignedPolicy(text: try files.readText(path), source: path.string)
                guard policy.pcrs == configuration.pcrs else {
                    failures.append("\(name): over \(policy.pcrs), not the configured \(configuration.pcrs)")
                    continue
                }
                guard policy.isSigned(by: homeKey) else {
                    failures.append("\(name): not signed by home's policy key")
                    continue
                }
                let authorized = try AuthorizedPolicy(
                    pcrs: policy.pcrs,
                    approvedPolicy: policy.policy, policyRef: SignedPolicy.policyReference, signerPublicKey: homePoint,
                    signature: try ECDSASignature(raw: policy.signature))
                return try tpm.unseal(sealed, parent: configuration.parentHandle, policy: authorized)
            } catch {
                failures.append("\(name): \(error)")
            }
        }
        guard !failures.isEmpty else {
            throw VaultLocked("no policy signed at home is installed in \(directory)")
        }
        throw VaultLocked(
            "no installed policy approves the measurements now (" + failures.joined(separator: "; ") + ")")
    }

    public func signingPublicKey() throws -> P256PublicKey {
        try P256PublicKey(uncompressedRepresentation: try tpm.publicKey(at: configuration.signingHandle).uncompressed)
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try tpm.sign(message, with: configuration.signingHandle).raw
    }

    public func probe() throws {
        _ = try tpm.randomBytes(count: 1)
    }

    public func quote(nonce: [UInt8]) throws -> QuoteEvidence {
        let quote = try tpm.quote(pcrs: configuration.pcrs, nonce: nonce, with: configuration.signingHandle)
        return QuoteEvidence(
            attest: quote.attest, signature: quote.signature.raw, pcrs: configuration.pcrs,
            values: try readPCRs(configuration.pcrs))
    }

    /// Evicts the signing key and the storage parent, each tried whatever the other did, then shreds the sealed
    /// files.
    public func zeroize() throws {
        var failures: [String] = []
        for handle in [configuration.signingHandle, configuration.parentHandle] {
            do {
                if try tpm.persistentHandleExists(handle) { try tpm.evict(handle) }
            } catch {
                failures.append("evicting 0x\(String(handle, radix: 16)): \(error)")
            }
        }
        for file in [files.storageSealed, files.journalSealed] {
            do {
                try files.shred(file)
            } catch {
                failures.append("\(file): \(error)")
            }
        }
        guard failures.isEmpty else { throw KeysError(failures.joined(separator: "; ")) }
    }

    /// The PCRs' values now (for development, which signs its own first policy).
    public func readPCRs(_ pcrs: PCRSelection) throws -> [Int: [UInt8]] {
        try tpm.readPCRs(bank: pcrs.bank, indices: pcrs.indices)
    }

    /// The TPM connection, for attestation (quotes) in the same process.
    public var connection: TPMConnection { tpm }
}

/// The policy digest a set of PCR values gives: what home signs for a release.
public enum PolicyCalculation {
    public static func digest(_ pcrs: PCRSelection, values: [Int: [UInt8]]) throws -> [UInt8] {
        for index in pcrs.indices where values[index] == nil {
            throw KeysError("no value for PCR \(index) of \(pcrs)")
        }
        return try PolicyDigest.pcr(selection: pcrs, values: values)
    }
}
