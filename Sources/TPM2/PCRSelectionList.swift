internal import CTSS2

/// Translation between sets of PCR indices and the TPM's selection bitmaps.
enum PCRSelectionList {
    /// Bytes of bitmap sent: three cover PCRs 0–23, the minimum every PC-client TPM accepts.
    private static let selectBytes = 3

    /// A selection of `indices` (all in 0...23) in `bank` alone.
    static func make(bank: PCRBank, indices: some Sequence<Int>) -> TPML_PCR_SELECTION {
        var list = TPML_PCR_SELECTION()
        list.count = 1
        list.pcrSelections.0.hash = bank.algorithm
        list.pcrSelections.0.sizeofSelect = UInt8(selectBytes)
        withUnsafeMutableBytes(of: &list.pcrSelections.0.pcrSelect) { bitmap in
            for index in indices { bitmap[index / 8] |= 1 << (index % 8) }
        }
        return list
    }

    /// Pairs the PCRs a TPM2_PCR_Read answered for (`selection`) with the values it returned: the TPM
    /// lists values bank by bank, and within a bank by ascending index. Values of other banks are
    /// skipped; a count that does not match the selection is a malformed answer.
    static func pair(
        _ selection: TPML_PCR_SELECTION,
        with digests: TPML_DIGEST,
        bank: PCRBank,
        tcti: String
    ) throws(TPM2Error) -> [Int: [UInt8]] {
        let selected = selectedPCRs(selection)
        let values = withElements(of: digests.digests, as: TPM2B_DIGEST.self, count: Int(digests.count)) { list in
            list.map { digest in
                withUnsafeBytes(of: digest.buffer) { Array($0.prefix(Int(digest.size))) }
            }
        }
        guard selected.count == values.count else {
            throw .unusableResponse(
                "The TPM on '\(tcti)' answered TPM2_PCR_Read with \(selected.count) PCRs selected but "
                    + "\(values.count) values; the answer is malformed, so none of it is used."
            )
        }
        var result: [Int: [UInt8]] = [:]
        for ((algorithm, index), value) in zip(selected, values) where algorithm == bank.algorithm {
            result[index] = value
        }
        return result
    }

    /// Every (bank, index) a selection names, in the order the TPM returns their values.
    private static func selectedPCRs(_ selection: TPML_PCR_SELECTION) -> [(TPM2_ALG_ID, Int)] {
        withElements(of: selection.pcrSelections, as: TPMS_PCR_SELECTION.self, count: Int(selection.count)) {
            $0.flatMap { bankSelection in
                withUnsafeBytes(of: bankSelection.pcrSelect) { bitmap in
                    let bytes = bitmap.prefix(Int(bankSelection.sizeofSelect))
                    return bytes.indices.flatMap { byte in
                        (0..<8).filter { bytes[byte] & (1 << $0) != 0 }.map { (bankSelection.hash, byte * 8 + $0) }
                    }
                }
            }
        }
    }
}

/// C fixed-size arrays arrive in Swift as homogeneous tuples; Swift lays those out like C arrays, so
/// their memory can be read as a buffer of the element type.
///
/// - Parameters:
///   - tuple: the imported array, e.g. `TPML_DIGEST.digests`.
///   - count: how many leading elements are valid; clamped to the array's capacity so that a count
///     from a malformed response cannot read past it.
func withElements<Tuple, Element, Result, Failure: Error>(
    of tuple: Tuple,
    as _: Element.Type,
    count: Int,
    _ body: (UnsafeBufferPointer<Element>) throws(Failure) -> Result
) throws(Failure) -> Result {
    let capacity = MemoryLayout<Tuple>.size / MemoryLayout<Element>.stride
    let valid = min(max(count, 0), capacity)
    var copy = tuple
    return try withUnsafePointer(to: &copy) { (pointer) throws(Failure) -> Result in
        let start = UnsafeRawPointer(pointer).assumingMemoryBound(to: Element.self)
        return try body(UnsafeBufferPointer(start: start, count: valid))
    }
}
