import CryptoPrimitives
import TPM2

/// Where the appliance's keys are kept between starts: the TPM (``TPMKeyVault``) on the appliance, plain files
/// (``SoftwareKeyVault``) only in development without swtpm, where every start says they are insecure.
///
/// A vault holds three things: the storage private key, sealed so that only the measured software gets it back; the
/// journal key, which writing needs even when the storage key stays sealed; and the signing key, which never leaves
/// the vault and signs receipts and reports.
public protocol KeyVault: Sendable {
    /// What it is, for the status and the logs ("tpm device:/dev/tpmrm0", "software keys (insecure)").
    var kind: String { get }

    /// Whether the vault already holds keys (or the remains of a provisioning that did not finish).
    func holdsKeys() throws -> Bool

    /// Seals `storagePrivateKey` and `journalKey` and makes the signing key; returns the signing public key.
    /// Refused when the vault holds keys.
    func provision(storagePrivateKey: SecretBytes, journalKey: SecretBytes) throws -> P256PublicKey

    /// The journal key; throws ``VaultLocked`` when it cannot be had (the TPM does not answer).
    func unsealJournalKey() throws -> SecretBytes

    /// The storage private key; throws ``VaultLocked`` with the reason when the measurements or the policies do not
    /// allow it.
    func unsealStorageKey() throws -> SecretBytes

    /// The signing public key.
    func signingPublicKey() throws -> P256PublicKey

    /// Signs `message` (ECDSA P-256 over its SHA-256): the raw 64-byte r‖s.
    func sign(_ message: [UInt8]) throws -> [UInt8]

    /// A quote over the configured PCRs with `nonce` as its qualifying data, signed by the signing key, and the PCR
    /// values read just after; throws when the vault has no TPM (software keys).
    func quote(nonce: [UInt8]) throws -> QuoteEvidence

    /// Asks the vault something it must answer (the TPM: one random byte), for the watchdog's check; throws when it
    /// cannot.
    func probe() throws

    /// Destroys the keys for good: the TPM objects evicted, the sealed files overwritten and removed.
    func zeroize() throws
}

/// A TPM quote as the keys service gives it: the TPMS_ATTEST the TPM signed, its signature (ECDSA P-256 over the
/// SHA-256 of `attest`, raw r‖s) by the signing key, and the PCR values it covers, read just after it (a value
/// extended in between no longer matches the quote's digest, and a verifier refuses it).
public struct QuoteEvidence: Sendable, Hashable {
    public var attest: [UInt8]
    public var signature: [UInt8]
    public var pcrs: PCRSelection
    public var values: [Int: [UInt8]]

    public init(attest: [UInt8], signature: [UInt8], pcrs: PCRSelection, values: [Int: [UInt8]]) {
        self.attest = attest
        self.signature = signature
        self.pcrs = pcrs
        self.values = values
    }
}

/// A vault that will not give a key now, and why.
public struct VaultLocked: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
