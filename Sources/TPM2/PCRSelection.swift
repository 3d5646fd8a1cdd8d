/// A set of PCRs in one bank: what a policy is bound to and what a quote covers.
///
/// Encoded for the TPM with a three-byte bitmap (PCRs 0–23), the size every PC-client TPM accepts; the
/// offline policy digests use the same encoding, because the TPM hashes the selection as it was sent.
public struct PCRSelection: Sendable, Hashable, CustomStringConvertible {
    /// The bank whose values are selected.
    public let bank: PCRBank

    /// The selected indices, ascending and without duplicates: the order the TPM hashes their values in.
    public let indices: [Int]

    /// Selects `indices` (each in 0...23; duplicates count once) in `bank`.
    ///
    /// - Throws: `TPM2Error` for an index outside 0...23 or an empty selection, which would bind nothing.
    public init(bank: PCRBank = .sha256, indices: some Sequence<Int>) throws(TPM2Error) {
        let unique = Set(indices)
        for index in unique { try PCRBank.validate(index) }
        guard !unique.isEmpty else {
            throw .invalidArgument("A PCR selection needs at least one PCR index")
        }
        self.bank = bank
        self.indices = unique.sorted()
    }

    /// Parses "sha256:0,2,4,7", as tpm2-tools and systemd-cryptenroll write a selection; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let bank = PCRBank.allCases.first(where: { $0.description == parts[0] }) else {
            return nil
        }
        let indices = parts[1].split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard indices.allSatisfy({ $0 != nil }),
            let selection = try? PCRSelection(bank: bank, indices: indices.map { $0! })
        else { return nil }
        self = selection
    }

    /// "sha256:0,2,4,7", as tpm2-tools writes a selection.
    public var description: String {
        "\(bank):" + indices.map(String.init).joined(separator: ",")
    }

    /// Bytes of bitmap sent; three cover PCRs 0–23.
    static let bitmapByteCount = 3

    /// The bitmap: bit i%8 of byte i/8 set for each selected index i.
    var bitmap: [UInt8] {
        var bitmap = [UInt8](repeating: 0, count: Self.bitmapByteCount)
        for index in indices { bitmap[index / 8] |= 1 << (index % 8) }
        return bitmap
    }

    /// TPML_PCR_SELECTION with this one bank, marshalled.
    var marshalled: [UInt8] {
        var writer = ByteWriter()
        writer.append(UInt32(1))
        writer.append(bank.algorithmID)
        writer.append(UInt8(Self.bitmapByteCount))
        writer.append(bitmap)
        return writer.bytes
    }
}
