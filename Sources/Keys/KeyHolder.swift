import CryptoPrimitives
import CustodyLog
import DurableFiles
import Foundation
import HashChain
import Logging
import Receipts
import StoreFormat
import Synchronization

/// The keys the service holds while it runs, and its state: the only place they live in memory. The storage private
/// key and the journal key are `SecretBytes` (locked, left out of core dumps, zeroed when released); zeroization
/// drops them here and destroys them in the vault.
public final class KeyHolder: Sendable {
    private struct Held {
        var state: KeyState
        var storagePrivateKey: X25519PrivateKey?
        var journalKey: SecretBytes?
        /// A zeroization some step of which failed (the TPM did not answer, the disk is full): tried again.
        var destructionPending = false
    }

    private let held: Mutex<Held>
    /// The vault the keys come from.
    public let vault: any KeyVault
    /// The storage public key (no secret), once provisioned.
    public let storagePublicKey: X25519PublicKey?
    /// The signing public key and its id, once provisioned.
    public let signingPublicKey: P256PublicKey?
    private let audit: AuditTrail
    private let logger: Logger

    /// Reads the state files and the vault: zeroized when the marker says so, unprovisioned without the provisioning
    /// marker, else unsealed or locked as the vault allows.
    public init(files: KeysStateFiles, vault: any KeyVault, audit: AuditTrail, logger: Logger) {
        self.vault = vault
        self.audit = audit
        self.logger = logger
        if FileSystemCalls.exists(files.zeroized) {
            let reason = (try? files.readText(files.zeroized))?.trimmingCharacters(in: .whitespacesAndNewlines)
            held = Mutex(Held(state: .zeroized(reason: reason ?? "zeroized"), destructionPending: true))
            storagePublicKey = nil
            signingPublicKey = nil
            // A zeroization that was cut short (the TPM did not answer, the power went) is finished now, or later.
            try? finishZeroization(files: files)
            return
        }
        guard FileSystemCalls.exists(files.provisioned) else {
            held = Mutex(Held(state: .unprovisioned))
            storagePublicKey = nil
            signingPublicKey = nil
            return
        }
        var publicKey: X25519PublicKey?
        var signing: P256PublicKey?
        var state = KeyState.unsealed
        var storagePrivateKey: X25519PrivateKey?
        var journalKey: SecretBytes?
        do {
            let text = try files.readText(files.storagePublicKey).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Hex.decode(text) else { throw KeysError("\(files.storagePublicKey) is not hexadecimal") }
            publicKey = try X25519PublicKey(rawRepresentation: raw)
            signing = try vault.signingPublicKey()
            journalKey = try vault.unsealJournalKey()
            let key = try X25519PrivateKey(rawRepresentation: try vault.unsealStorageKey())
            guard key.publicKey == publicKey else {
                throw VaultLocked("the unsealed storage key does not belong to \(files.storagePublicKey)")
            }
            storagePrivateKey = key
        } catch {
            state = .locked(reason: "\(error)")
        }
        storagePublicKey = publicKey
        signingPublicKey = signing
        held = Mutex(Held(state: state, storagePrivateKey: storagePrivateKey, journalKey: journalKey))
        switch state {
        case .unsealed:
            audit.record("unsealed", ["vault": vault.kind])
            logger.notice("the storage key is unsealed", metadata: ["vault": "\(vault.kind)"])
        default:
            audit.record("locked", ["reason": state.reason ?? "", "journal-key": journalKey == nil ? "no" : "yes"])
            logger.error(
                "the storage key stays sealed: restores are refused, writing goes on",
                metadata: ["reason": "\(state.reason ?? "")"])
        }
    }

    /// The state now.
    public var state: KeyState {
        held.withLock { $0.state }
    }

    /// The refusal of `operation` now, or nil.
    public func refusal(of operation: KeysOperation) -> String? {
        let state = self.state
        if let refusal = operation.refusal(in: state) { return refusal }
        if operation == .storageKeys, held.withLock({ $0.journalKey == nil }) {
            return "the journal key could not be unsealed (\(state.reason ?? "")): writing cannot go on"
        }
        return nil
    }

    /// What ingest needs: the storage public key and the journal key.
    public func storageKeys() throws -> (X25519PublicKey, SecretBytes) {
        if let refusal = refusal(of: .storageKeys) { throw KeysError(refusal) }
        guard let storagePublicKey, let journalKey = held.withLock({ $0.journalKey }) else {
            throw KeysError("the storage keys are not held")
        }
        return (storagePublicKey, journalKey)
    }

    /// One segment's data key.
    public func unwrap(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
        guard let key = held.withLock({ $0.storagePrivateKey }) else {
            throw SegmentKeyUnavailable(refusal(of: .unwrap) ?? "the storage key is not held")
        }
        return try SegmentKeyWrapping.open(wrapped, with: key)
    }

    /// `message` signed with the vault's signing key: raw r‖s.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        if let refusal = refusal(of: .sign) { throw KeysError(refusal) }
        return try vault.sign(message)
    }

    /// A quote of the measurements with `nonce` (see ``KeyVault/quote(nonce:)``).
    public func quote(nonce: [UInt8]) throws -> QuoteEvidence {
        if let refusal = refusal(of: .quote) { throw KeysError(refusal) }
        return try vault.quote(nonce: nonce)
    }

    /// Destroys the keys: dropped from memory first (so nothing is served from here on), then every step tried
    /// whatever the others did — the marker written (so that a restart stays zeroized), the TPM objects evicted,
    /// the sealed files shredded. A step that failed is tried again by ``finishZeroization(files:)``, which the
    /// service calls every poll and every start. Zeroizing twice is harmless.
    public func zeroize(reason: String, files: KeysStateFiles) throws {
        let already = held.withLock { held -> Bool in
            if case .zeroized = held.state { return true }
            held = Held(state: .zeroized(reason: reason), destructionPending: true)
            return false
        }
        if already {
            try finishZeroization(files: files)
            return
        }
        logger.critical("zeroizing the keys", metadata: ["reason": "\(reason)"])
        audit.record("zeroizing", ["reason": reason])
        var failures: [String] = []
        do {
            try files.writePublic(reason + "\n", to: files.zeroized)
        } catch {
            failures.append("the marker: \(error)")
        }
        do {
            try finishZeroization(files: files)
        } catch {
            failures.append("\(error)")
        }
        guard failures.isEmpty else {
            throw KeysError("zeroization is not finished: " + failures.joined(separator: "; "))
        }
    }

    /// Whether a zeroization still has steps to finish.
    public var zeroizationPending: Bool {
        held.withLock { $0.destructionPending }
    }

    /// Finishes a zeroization whose steps failed: the marker, the TPM objects, the sealed files, each tried.
    public func finishZeroization(files: KeysStateFiles) throws {
        guard zeroizationPending else { return }
        var failures: [String] = []
        if !FileSystemCalls.exists(files.zeroized) {
            do {
                try files.writePublic((state.reason ?? "zeroized") + "\n", to: files.zeroized)
            } catch {
                failures.append("the marker: \(error)")
            }
        }
        do {
            try vault.zeroize()
        } catch {
            failures.append("the vault: \(error)")
        }
        for file in [files.storageSealed, files.journalSealed] {
            do {
                try files.shred(file)
            } catch {
                failures.append("\(file): \(error)")
            }
        }
        guard failures.isEmpty else {
            logger.critical("zeroization is not finished", metadata: ["failures": "\(failures)"])
            audit.record("zeroization-unfinished", ["failures": failures.joined(separator: "; ")])
            throw KeysError("zeroization is not finished: " + failures.joined(separator: "; "))
        }
        held.withLock { $0.destructionPending = false }
        audit.record("zeroized", ["reason": state.reason ?? ""])
    }

    /// Tries the policies again while locked (home may have installed one since): unsealed when one now opens.
    public func retryUnseal() {
        guard case .locked = state, held.withLock({ $0.journalKey != nil }), let storagePublicKey else { return }
        guard let raw = try? vault.unsealStorageKey(), let key = try? X25519PrivateKey(rawRepresentation: raw),
            key.publicKey == storagePublicKey
        else { return }
        let changed = held.withLock { held -> Bool in
            guard case .locked = held.state else { return false }
            held.state = .unsealed
            held.storagePrivateKey = key
            return true
        }
        if changed {
            audit.record("unsealed", ["vault": vault.kind, "after": "a policy installed while locked"])
            logger.notice("the storage key is unsealed: a policy home signed now approves the measurements")
        }
    }
}

/// Segment keys unwrapped by a holder in the same process (`saatkond dev`).
struct HolderSegmentOpener: SegmentKeyOpener {
    let holder: KeyHolder

    func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
        try holder.unwrap(wrapped)
    }
}

/// The vault's signing key through a holder in the same process (`saatkond dev`).
struct HolderSigningKey: ReceiptSigningKey {
    let holder: KeyHolder
    let keyID: String

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        try holder.sign(message)
    }
}

extension KeyHolder {
    /// Segment keys unwrapped here, for a store in this process.
    public var segmentKeys: any SegmentKeyOpener { HolderSegmentOpener(holder: self) }

    /// The signing key, for receipts signed in this process.
    public func receiptKey() throws -> any ReceiptSigningKey {
        guard let signingPublicKey else { throw KeysError(refusal(of: .sign) ?? "no signing key") }
        return HolderSigningKey(holder: self, keyID: ReceiptKeyID.of(signingPublicKey))
    }

    /// The keys a store in this process writes and reads with.
    public func storeKeys() throws -> StorageKeys {
        let (publicKey, journalKey) = try storageKeys()
        return try StorageKeys(storagePublicKey: publicKey, segmentKeys: segmentKeys, journalKey: journalKey)
    }
}

/// The keys service's audit trail: every key event, hash-chained in the custody log's form. A record that cannot
/// be written is logged as an error; the event itself goes on (zeroization must not wait for a full disk).
public final class AuditTrail: Sendable {
    private let log: CustodyLog?
    private let logger: Logger

    public init(log: CustodyLog?, logger: Logger) {
        self.log = log
        self.logger = logger
    }

    public func record(_ event: String, _ fields: [String: String]) {
        guard let log else { return }
        do {
            _ = try log.append(CustodyEvent("keys." + event, fields))
        } catch {
            logger.error("cannot write the audit log", metadata: ["event": "\(event)", "error": "\(error)"])
        }
    }

    /// Appends a record of the service's own history (``ServiceHistory``'s events: `service.started`, …) under
    /// its own name, unprefixed, so that the one custody log reads it as it reads every service's.
    public func recordHistory(_ event: String, _ fields: [String: String]) throws {
        guard let log else { return }
        try log.append(CustodyEvent(event, fields.merging(["service": "keys"]) { _, name in name }))
    }

    public func close() {
        log?.close()
    }
}
