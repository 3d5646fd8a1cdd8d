internal import CTSS2

extension TPMConnection {
    /// The most one TPM2_GetRandom may return: the TPM answers with at most its largest digest size
    /// (48 or 64 bytes), and TPM2B_DIGEST cannot hold more.
    private static let randomBytesPerCall = MemoryLayout<TPMU_HA>.size

    /// Returns `count` bytes from the TPM's random number generator, asking as many times as needed.
    ///
    /// The bytes travel over the TCTI without a session, so a bus interposer could read or change them;
    /// mix them with another source before using them as key material.
    ///
    /// - Parameter count: how many bytes; zero returns an empty array without asking the TPM.
    /// - Throws: `TPM2Error` for a negative count or when the TPM fails.
    public func randomBytes(count: Int) throws(TPM2Error) -> [UInt8] {
        guard count >= 0 else {
            throw .invalidArgument("randomBytes(count:) needs a count of zero or more, not \(count)")
        }
        return try withESYSContext { (context) throws(TPM2Error) -> [UInt8] in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count)
            while bytes.count < count {
                let wanted = min(count - bytes.count, Self.randomBytesPerCall)
                let drawn = try draw(wanted, context: context)
                guard !drawn.isEmpty else {
                    throw .unusableResponse("TPM2_GetRandom on '\(tcti)' returned no bytes; the TPM's RNG is unusable.")
                }
                bytes.append(contentsOf: drawn)
            }
            return bytes
        }
    }

    /// One TPM2_GetRandom of at most `wanted` bytes; the TPM may return fewer.
    private func draw(_ wanted: Int, context: OpaquePointer) throws(TPM2Error) -> [UInt8] {
        var random: UnsafeMutablePointer<TPM2B_DIGEST>?
        defer {
            // Wiped before it is freed so that the bytes do not linger in the heap.
            if let random {
                withUnsafeMutableBytes(of: &random.pointee.buffer) { buffer in
                    for index in buffer.indices { buffer[index] = 0 }
                }
            }
            Esys_Free(random)
        }
        let rc = Esys_GetRandom(context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, UInt16(wanted), &random)
        try check(rc, "Esys_GetRandom")
        guard let random else {
            throw .unusableResponse("Esys_GetRandom on '\(tcti)' succeeded without a result; report this bug.")
        }
        let size = min(Int(random.pointee.size), wanted)
        return withUnsafeBytes(of: random.pointee.buffer) { Array($0.prefix(size)) }
    }
}
