/// A TPM2_Quote: the TPM's attestation of PCR values, signed by a restricted signing key.
public struct Quote: Sendable, Hashable {
    /// The marshalled TPMS_ATTEST, exactly the bytes signed; parse it with `QuoteAttestation.parse`.
    public let attest: [UInt8]
    /// ECDSA-SHA256 over `attest` by the quoting key.
    public let signature: ECDSASignature

    /// A quote from its parts, e.g. as received from an appliance.
    public init(attest: [UInt8], signature: ECDSASignature) {
        self.attest = attest
        self.signature = signature
    }
}

/// The fields of a quote's TPMS_ATTEST (TPM 2.0 part 2, 10.12.12).
///
/// Parsed from bytes that arrive from the network, so every size is bounded by the TPM's own limits and any
/// deviation is an error; the signature must be checked separately, over the same bytes, before any field
/// here is believed.
public struct QuoteAttestation: Sendable, Hashable {
    /// TPM_GENERATED_VALUE, FF 54 43 47: only the TPM signs structures that start with it.
    public static let generatedMagic: UInt32 = 0xFF54_4347
    /// TPM_ST_ATTEST_QUOTE.
    public static let quoteType: UInt16 = 0x8018

    /// Always `generatedMagic` in a parsed quote.
    public let magic: UInt32
    /// Always `quoteType` in a parsed quote.
    public let type: UInt16
    /// The qualified name of the quoting key.
    public let qualifiedSigner: [UInt8]
    /// The verifier's nonce, echoed.
    public let qualifyingData: [UInt8]
    /// Milliseconds the TPM has been powered since it was last cleared (advances only while powered).
    public let clock: UInt64
    /// TPM resets (reboots) since the TPM was last cleared.
    public let resetCount: UInt32
    /// TPM restarts (resume from hibernation) since the last reset.
    public let restartCount: UInt32
    /// Whether `clock` has not gone backwards since it was last reported.
    public let isClockSafe: Bool
    /// The TPM vendor's firmware version.
    public let firmwareVersion: UInt64
    /// The PCRs quoted, one selection per bank.
    public let pcrSelection: [PCRSelection]
    /// The hash (with the key's scheme hash, SHA-256 for our keys) of the quoted PCR values in selection order.
    public let pcrDigest: [UInt8]

    /// TPM2B capacities of a TPM that supports SHA-512: TPMU_NAME, TPMT_HA, TPMU_HA.
    private static let maximumNameByteCount = 66
    private static let maximumDataByteCount = 66
    private static let maximumDigestByteCount = 64
    /// TPM2_NUM_PCR_BANKS and TPM2_PCR_SELECT_MAX.
    private static let maximumBankCount = 16
    private static let maximumSelectByteCount = 4

    /// Parses a marshalled TPMS_ATTEST that must be a quote, with nothing after it.
    ///
    /// - Throws: `TPM2Error.malformedInput` naming the first field that is wrong.
    public static func parse(_ attest: [UInt8]) throws(TPM2Error) -> QuoteAttestation {
        var reader = ByteReader(attest, structure: "the quote's TPMS_ATTEST")
        let magic = try reader.readUInt32(field: "magic")
        guard magic == generatedMagic else {
            throw .malformedInput("a TPM's attestation starts with FF544347, this one with \(hex32(magic))")
        }
        let type = try reader.readUInt16(field: "type")
        guard type == quoteType else {
            throw .malformedInput("the attestation has type \(hex32(UInt32(type))), not a quote (8018)")
        }
        let signer = try reader.readSized(maximum: maximumNameByteCount, field: "qualifiedSigner")
        let data = try reader.readSized(maximum: maximumDataByteCount, field: "extraData")
        let clock = try reader.readUInt64(field: "clock")
        let resetCount = try reader.readUInt32(field: "resetCount")
        let restartCount = try reader.readUInt32(field: "restartCount")
        let safe = try reader.readUInt8(field: "safe")
        guard safe <= 1 else { throw .malformedInput("the clock's safe flag is \(safe), not 0 or 1") }
        let firmware = try reader.readUInt64(field: "firmwareVersion")
        let selection = try readSelection(&reader)
        let digest = try reader.readSized(maximum: maximumDigestByteCount, field: "pcrDigest")
        try reader.expectEnd()
        return QuoteAttestation(
            magic: magic, type: type, qualifiedSigner: signer, qualifyingData: data, clock: clock,
            resetCount: resetCount, restartCount: restartCount, isClockSafe: safe == 1, firmwareVersion: firmware,
            pcrSelection: selection, pcrDigest: digest
        )
    }

    private static func readSelection(_ reader: inout ByteReader) throws(TPM2Error) -> [PCRSelection] {
        let count = try reader.readUInt32(field: "the PCR selection count")
        guard count <= maximumBankCount else {
            throw .malformedInput("the quote selects \(count) PCR banks; a TPM has at most \(maximumBankCount)")
        }
        var selections: [PCRSelection] = []
        for _ in 0..<count {
            let algorithm = try reader.readUInt16(field: "a PCR bank's hash")
            guard let bank = PCRBank(algorithmID: algorithm) else {
                throw .malformedInput("the quote selects PCR bank \(hex32(UInt32(algorithm))), not SHA-1/256/384")
            }
            let bitmap = try reader.readSized8(maximum: maximumSelectByteCount, field: "a PCR bitmap")
            var indices: [Int] = []
            for bit in 0..<bitmap.count * 8 where bitmap[bit / 8] & (1 << (bit % 8)) != 0 { indices.append(bit) }
            guard let selection = try? PCRSelection(bank: bank, indices: indices) else {
                throw .malformedInput(
                    "the quote's \(bank) bitmap \(TPM2Error.hexString(bitmap)) selects no PCR or one above 23"
                )
            }
            selections.append(selection)
        }
        return selections
    }

    private static func hex32(_ value: UInt32) -> String {
        String(value, radix: 16, uppercase: true)
    }
}
