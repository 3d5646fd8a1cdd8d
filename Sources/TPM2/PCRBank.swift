internal import CTSS2

/// A PCR bank: the hash algorithm with which a set of PCRs is extended. A TPM keeps one value per PCR
/// in each bank it has allocated.
public enum PCRBank: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// SHA-1, 20-byte values; kept by many TPMs for old software, too weak to seal against.
    case sha1
    /// SHA-256, 32-byte values; the bank measured boot uses and the default.
    case sha256
    /// SHA-384, 48-byte values; allocated on some TPMs only.
    case sha384

    /// The size in bytes of each PCR value, and of each digest extended into this bank.
    public var digestSize: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        }
    }

    /// The bank's name as tpm2-tools spells it ("sha256").
    public var description: String {
        switch self {
        case .sha1: "sha1"
        case .sha256: "sha256"
        case .sha384: "sha384"
        }
    }

    /// The indices a PC-client TPM has: 0–15 measured by firmware and boot loader, 16 for debugging,
    /// 17–22 for dynamic launch, 23 for applications.
    public static let validIndices: ClosedRange<Int> = 0...23

    /// The TPM_ALG_ID of the hash, as it appears on the wire.
    var algorithmID: UInt16 {
        switch self {
        case .sha1: 0x0004
        case .sha256: 0x000B
        case .sha384: 0x000C
        }
    }

    /// The bank whose hash has the TPM_ALG_ID `algorithmID`, if it is one of these.
    init?(algorithmID: UInt16) {
        guard let bank = Self.allCases.first(where: { $0.algorithmID == algorithmID }) else { return nil }
        self = bank
    }

    /// The TPM_ALG_ID of the hash.
    var algorithm: TPM2_ALG_ID {
        switch self {
        case .sha1: TPM2_ALG_SHA1
        case .sha256: TPM2_ALG_SHA256
        case .sha384: TPM2_ALG_SHA384
        }
    }

    /// Refuses an index that no PC-client TPM has, before anything reaches the TPM.
    static func validate(_ index: Int, file: String = #fileID, line: Int = #line) throws(TPM2Error) {
        guard validIndices.contains(index) else {
            throw .invalidArgument(
                "PCR index \(index) does not exist: indices run from \(validIndices.lowerBound) to "
                    + "\(validIndices.upperBound)",
                file: file,
                line: line
            )
        }
    }
}
