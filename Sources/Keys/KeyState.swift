/// What the keys service can do now, as its status and every refusal report it.
public enum KeyState: Sendable, Hashable, CustomStringConvertible {
    /// `saatkond keys provision` has not run: there are no keys.
    case unprovisioned
    /// The storage private key is unsealed, in locked memory: restores can be served.
    case unsealed
    /// The storage private key stays sealed (the measurements differ from every policy home signed, no policy is
    /// installed, or the TPM does not answer). Writing goes on ("sealed but writable"): ingest still gets the public
    /// key and the journal key, and receipts are signed; unwraps are refused with `reason`.
    case locked(reason: String)
    /// The TPM objects were evicted and the sealed blobs overwritten; nothing stored can be read by this appliance
    /// again, only with the escrow at home. Nothing is served.
    case zeroized(reason: String)

    /// The state's name, as the status and tests read it.
    public var name: String {
        switch self {
        case .unprovisioned: "unprovisioned"
        case .unsealed: "unsealed"
        case .locked: "locked"
        case .zeroized: "zeroized"
        }
    }

    /// Why, for locked and zeroized.
    public var reason: String? {
        switch self {
        case .unprovisioned, .unsealed: nil
        case .locked(let reason), .zeroized(let reason): reason
        }
    }

    public var description: String {
        reason.map { "\(name): \($0)" } ?? name
    }
}

/// The keys service's operations on its socket.
public enum KeysOperation: String, Sendable, CaseIterable {
    /// The state, the public keys and their ids: anyone who may connect.
    case status
    /// The storage public key and (as the reply's secret) the journal key: ingest.
    case storageKeys = "storage-keys"
    /// One segment's data key unwrapped (as the reply's secret): readers.
    case unwrap
    /// A message signed with the TPM-resident key: ingest (receipts) and signers (attestation).
    case sign
    /// A decommission order signed by a quorum of home keys: the console.
    case decommission
    /// A TPM quote of the measurements with a verifier's nonce, signed by the signing key: signers (attestation).
    case quote
    /// An attestation report made and signed here, for a verifier's nonce and the streams it names: reporters.
    case report
    /// A heartbeat (a report without the quote) made and signed here: reporters.
    case heartbeat

    /// The refusal for this operation in `state`, or nil when the state allows it.
    func refusal(in state: KeyState) -> String? {
        switch (state, self) {
        case (_, .status): nil
        case (.unprovisioned, _): "the keys are not provisioned: run `saatkond keys provision` first"
        case (.zeroized(let reason), _): "the keys were zeroized (\(reason)); only home's escrow can read the data now"
        case (.locked(let reason), .unwrap):
            "the storage key is sealed (\(reason)); restores wait until home signs a policy for these measurements"
        // Locked is when home most needs the measurements: a quote is given then too.
        case (.locked, .storageKeys), (.locked, .sign), (.locked, .decommission), (.locked, .quote), (.locked, .report),
            (.locked, .heartbeat), (.unsealed, _):
            nil
        }
    }
}
