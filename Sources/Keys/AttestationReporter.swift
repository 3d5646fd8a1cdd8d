import Attestation
import CryptoPrimitives
import Foundation
import HashChain
import LocalControl
import Logging
import Receipts
import Synchronization
import TPM2
import Watchdog

/// Makes attestation reports: the keys' state, a TPM quote with the verifier's nonce, the system's boot and build,
/// and whatever the other services report (``ApplianceFacts``), signed by the TPM-resident key. The keys service
/// makes them itself (op `report`), so the network-facing health service only carries them and never has anything
/// else signed.
public struct AttestationReporter: Sendable {
    let keys: any AttestationKeys
    let applianceName: String
    let version: String
    /// The SHA-256 of the running executable, read at the first report rather than at the service's start (it is
    /// the whole binary: a fraction of a second on the boot path otherwise).
    let buildDigest = BuildDigest()
    let now: @Sendable () -> Int64
    let logger: Logger

    /// The longest nonce: TPM2B_DATA holds a digest of the TPM's largest hash, 32 bytes on a TPM with SHA-256 only.
    public static let maximumNonceByteCount = 32

    /// The software version reports carry.
    public static let softwareVersion = "0.14.0"

    /// A reporter asking `keys`; reports carry the SHA-256 of the running executable as their build digest.
    public init(
        keys: any AttestationKeys, applianceName: String, version: String = Self.softwareVersion,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        logger: Logger = Logger(label: "saatkond.keys")
    ) {
        self.logger = logger
        self.keys = keys
        self.applianceName = applianceName
        self.version = version
        self.now = now
    }

    /// A report for `nonce` (1…32 bytes). A keys service that cannot quote (zeroized, software keys) gives a report
    /// without a quote, which says its state; a verifier refuses it, saying there is no quote.
    public func report(nonce: [UInt8], facts: ApplianceFacts = ApplianceFacts()) throws -> CompactJWS {
        guard (1...Self.maximumNonceByteCount).contains(nonce.count) else {
            throw AttestationError("a nonce has 1…\(Self.maximumNonceByteCount) bytes, not \(nonce.count)")
        }
        return try sign(nonce: nonce, quoted: true, facts: facts)
    }

    /// A heartbeat: the same claims without the quote (a TPM quote a period is not worth its cost, and there is no
    /// verifier's nonce to bind), its `eat_nonce` the sequence number (8 bytes, big-endian) by which home's watch
    /// refuses replays.
    public func heartbeat(sequence: UInt64, facts: ApplianceFacts = ApplianceFacts()) throws -> CompactJWS {
        try sign(nonce: HeartbeatSequence.encode(sequence), quoted: false, facts: facts)
    }

    private func sign(nonce: [UInt8], quoted: Bool, facts: ApplianceFacts) throws -> CompactJWS {
        let identity = try keys.attestationIdentity()
        let signingKey = identity.signingKey
        let keyID = identity.keyID
        var quote: AttestationClaims.TPMQuoteClaims?
        var bootCount: Int64?
        if quoted, let evidence = quoteOrNil(nonce) {
            var values: [String: String] = [:]
            for (index, value) in evidence.values { values["\(index)"] = Hex.encode(value) }
            quote = AttestationClaims.TPMQuoteClaims(
                attest: Base64URL.encode(evidence.attest), signature: Base64URL.encode(evidence.signature),
                pcrs: evidence.pcrs.description, values: values)
            bootCount = (try? QuoteAttestation.parse(evidence.attest)).map { Int64($0.resetCount) }
        }
        let claims = AttestationClaims(
            nonce: Base64URL.encode(nonce), ueid: Base64URL.encode(Self.ueid(of: signingKey)), issuedAt: now(),
            softwareVersion: [version], bootCount: bootCount, bootSeed: SystemFacts.bootID().map(Base64URL.encode),
            uptime: SystemFacts.uptime(), appliance: applianceName, buildDigest: try buildDigest.value(),
            submods: AttestationClaims.Submodules(
                tpm: quote,
                keys: .init(state: identity.state, reason: identity.reason, signingKey: keyID),
                array: facts.array, disks: facts.disks, streams: facts.streams, watchdog: facts.watchdog,
                audit: facts.audit))
        return try AttestationToken.make(claims, keyID: keyID) { try keys.sign($0) }
    }

    /// The keys service's quote, nil (and logged) when it gives none: the report then says the keys' state and a
    /// verifier refuses it for want of a quote.
    private func quoteOrNil(_ nonce: [UInt8]) -> QuoteEvidence? {
        do {
            return try keys.quote(nonce: nonce)
        } catch {
            logger.error("the report goes without a quote", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// RFC 9711's UEID of type RAND (0x01): the SHA-256 of the signing key's point, itself made at random in the TPM.
    public static func ueid(of key: P256PublicKey) -> [UInt8] {
        [0x01] + SHA256.hash(key.uncompressedRepresentation)
    }
}

/// What the other services tell the reporter: the array, the disks, the streams, the watchdog's history, the audit
/// log's head. Each is left out when its service has not said.
public struct ApplianceFacts: Sendable {
    public var array: AttestationClaims.ArrayClaims?
    public var disks: [String: AttestationClaims.DiskClaims]?
    public var streams: [String: AttestationClaims.StreamClaims]?
    public var watchdog: AttestationClaims.WatchdogClaims?
    public var audit: AttestationClaims.AuditClaims?

    public init(
        array: AttestationClaims.ArrayClaims? = nil, disks: [String: AttestationClaims.DiskClaims]? = nil,
        streams: [String: AttestationClaims.StreamClaims]? = nil, watchdog: AttestationClaims.WatchdogClaims? = nil,
        audit: AttestationClaims.AuditClaims? = nil
    ) {
        self.array = array
        self.disks = disks
        self.streams = streams
        self.watchdog = watchdog
        self.audit = audit
    }
}

/// The executable's digest, computed once, by the first report that needs it.
final class BuildDigest: Sendable {
    private let digest = Mutex<String?>(nil)

    func value() throws -> String {
        try digest.withLock { digest in
            if let digest { return digest }
            let computed = try SystemFacts.executableDigest()
            digest = computed
            return computed
        }
    }
}

/// The running system, as the kernel tells it.
enum SystemFacts {
    /// The kernel's boot id: 16 bytes, new on every boot.
    static func bootID() -> [UInt8]? {
        let digits = BootIdentity.current.filter(\.isHexDigit)
        return digits.count == 32 ? Hex.decode(String(digits).lowercased()) : nil
    }

    /// Whole seconds since boot.
    static func uptime() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
            let first = text.split(separator: " ").first, let seconds = Double(first)
        else { return nil }
        return Int64(seconds)
    }

    /// The SHA-256 of the running executable, hexadecimal.
    static func executableDigest() throws -> String {
        let hasher = SHA256Hasher()
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/exe"))
        defer { try? file.close() }
        while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return Hex.encode(hasher.finalize())
    }
}
