import CryptoPrimitives

/// The state both ends of an HPKE context share (RFC 9180 sections 5.2 and 5.3): the AEAD key, the base nonce,
/// the exporter secret and the sequence number of the next message.
///
/// Internal and copyable; the public contexts wrap it in non-copyable types, because two copies of a sender's
/// state would seal two messages under the same nonce.
struct EncryptionContext: Sendable {
    let key: SecretBytes
    let baseNonce: [UInt8]
    let exporterSecret: SecretBytes
    let suite: HPKESuite

    /// The sequence number of the next message; internal so tests can start near the limit.
    var sequenceNumber: UInt64 = 0

    init(schedule: KeySchedule, suite: HPKESuite) {
        key = schedule.key
        baseNonce = schedule.baseNonce
        exporterSecret = schedule.exporterSecret
        self.suite = suite
    }

    /// ComputeNonce(seq): the base nonce XOR the sequence number as a 12-byte big-endian integer.
    static func nonce(base: [UInt8], sequenceNumber: UInt64) -> [UInt8] {
        var nonce = base
        for index in 0..<8 {
            nonce[nonce.count - 1 - index] ^= UInt8(truncatingIfNeeded: sequenceNumber >> (8 * index))
        }
        return nonce
    }

    /// Seals one message under the next sequence number and returns the ciphertext followed by the 16-byte tag.
    ///
    /// - Throws: `HPKEError.messageLimitReached()` when no sequence number is left, before anything is sealed.
    mutating func seal(additionalData: [UInt8], plaintext: UnsafeRawBufferPointer) throws(HPKEError) -> [UInt8] {
        let nonce = try nextNonce()
        let sealed = try HPKEError.translating("seal") {
            var sealed = [UInt8](repeating: 0, count: plaintext.count + AES256GCM.tagByteCount)
            let tag = try sealed.withUnsafeMutableBytes { output in
                try AES256GCM.seal(
                    key: key,
                    nonce: nonce,
                    plaintext: plaintext,
                    into: UnsafeMutableRawBufferPointer(rebasing: output[..<plaintext.count]),
                    additionalData: additionalData
                )
            }
            sealed.replaceSubrange(plaintext.count..., with: tag)
            return sealed
        }
        sequenceNumber += 1
        return sealed
    }

    /// Opens the message of the next sequence number into locked memory. The sequence number advances only
    /// when the message authenticates, so a forged message does not desynchronise the context.
    ///
    /// - Throws: `HPKEError.authenticationFailure()` if the message does not verify (a ciphertext shorter than
    ///   the tag included), `HPKEError.messageLimitReached()` when no sequence number is left.
    mutating func open(additionalData: [UInt8], ciphertext: [UInt8]) throws(HPKEError) -> SecretBytes {
        guard ciphertext.count >= AES256GCM.tagByteCount else {
            throw .authenticationFailure()
        }
        let nonce = try nextNonce()
        let plaintextCount = ciphertext.count - AES256GCM.tagByteCount
        let plaintext = try HPKEError.translating("open") {
            try SecretBytes(count: plaintextCount) { output in
                try ciphertext.withUnsafeBytes { sealed in
                    try AES256GCM.open(
                        key: key,
                        nonce: nonce,
                        ciphertext: UnsafeRawBufferPointer(rebasing: sealed[..<plaintextCount]),
                        tag: Array(ciphertext[plaintextCount...]),
                        into: output,
                        additionalData: additionalData
                    )
                }
            }
        }
        sequenceNumber += 1
        return plaintext
    }

    /// Export(exporter_context, L) of section 5.3: a secret bound to this context and to `exporterContext`.
    ///
    /// - Throws: `HPKEError.invalidExportLength` unless `length` is 0 to `HPKE.maximumExportByteCount`.
    func export(exporterContext: [UInt8], length: Int) throws(HPKEError) -> SecretBytes {
        guard (0...HPKE.maximumExportByteCount).contains(length) else {
            throw .invalidExportLength(length)
        }
        guard length > 0 else {
            // HKDF-Expand of zero bytes is the empty string; HKDFSHA256 refuses to be asked for it.
            return SecretBytes([])
        }
        return try HPKEError.translating("export") {
            try LabeledKDF(suiteIdentifier: suite.identifier).expand(
                prk: exporterSecret, label: "sec", info: exporterContext, length: length)
        }
    }

    /// The nonce of the current sequence number, or the limit error if the counter cannot advance past it.
    ///
    /// RFC 9180 allows 2^96 - 1 messages; a 64-bit counter stops at 2^64 - 1, which no context reaches.
    private func nextNonce() throws(HPKEError) -> [UInt8] {
        guard sequenceNumber < UInt64.max else {
            throw .messageLimitReached()
        }
        return Self.nonce(base: baseNonce, sequenceNumber: sequenceNumber)
    }
}
