import TPM2
import TestSupport
import Testing

/// The restricted signing key and quotes on a real swtpm, each signature checked by `openssl`.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct SigningTests {
    static let parent: UInt32 = 0x8100_0101
    static let signingKey: UInt32 = 0x8100_0102

    /// 0 bytes, one TPM2_Hash call (up to 1024), and hash sequences: one byte over, several chunks, the maximum.
    @Test func signaturesVerifyWithOpenSSLForEveryMessageSize() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let verifier = try HomeKey()
            defer { verifier.remove() }
            try tpm.makeStorageParent(at: Self.parent)
            let key = try tpm.makeSigningKey(parent: Self.parent, at: Self.signingKey)
            #expect(try tpm.publicKey(at: Self.signingKey) == key)
            var random = SystemRandomNumberGenerator()
            for size in [0, 1, 1024, 1025, 5000, TPMConnection.maximumSignedMessageByteCount] {
                let message = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
                let signature = try tpm.sign(message, with: Self.signingKey)
                #expect(try verifier.opensslVerifies(message, signature: signature, key: key), "size \(size)")
                var altered = message + [0]
                altered[0] ^= 1
                #expect(try !verifier.opensslVerifies(altered, signature: signature, key: key))
            }
            try expectNothingLeftLoaded(tpm)
        }
    }

    /// A message that starts like a TPM attestation gets no ticket, in either hashing path, and nothing stays
    /// loaded; an oversized message is refused before the TPM.
    @Test func refusesToSignWhatCouldForgeAnAttestation() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            try tpm.makeStorageParent(at: Self.parent)
            _ = try tpm.makeSigningKey(parent: Self.parent, at: Self.signingKey)
            for size in [10, 3000] {
                let forged = [0xFF, 0x54, 0x43, 0x47] + [UInt8](repeating: 0x80, count: size)
                let error = try #require(throws: TPM2Error.self) { try tpm.sign(forged, with: Self.signingKey) }
                #expect(error == .messageNotTicketable)
                #expect(error.description.contains("TPM_GENERATED_VALUE"))
                try expectNothingLeftLoaded(tpm)
            }
            let large = [UInt8](repeating: 1, count: TPMConnection.maximumSignedMessageByteCount + 1)
            #expect(throws: TPM2Error.self) { try tpm.sign(large, with: Self.signingKey) }
            #expect(throws: TPM2Error.noObjectAtHandle) { try tpm.sign([1], with: 0x8100_0103) }
            #expect(throws: TPM2Error.noObjectAtHandle) { try tpm.publicKey(at: 0x8100_0103) }
            #expect(throws: TPM2Error.handleOccupied) {
                try tpm.makeSigningKey(parent: Self.parent, at: Self.signingKey)
            }
            try expectNothingLeftLoaded(tpm)
        }
    }

    /// A quote verifies with openssl over its attest bytes, echoes the nonce, and its PCR digest is the hash of
    /// the values the PCRs hold.
    @Test func aQuoteVerifiesAndCarriesTheNonceAndPCRDigest() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let verifier = try HomeKey()
            defer { verifier.remove() }
            try tpm.makeStorageParent(at: Self.parent)
            let key = try tpm.makeSigningKey(parent: Self.parent, at: Self.signingKey)
            try tpm.extendPCR(16, digest: [UInt8](repeating: 3, count: 32))
            let selection = try PCRSelection(bank: .sha256, indices: [0, 7, 16])
            let nonce = try tpm.randomBytes(count: 32)

            let quote = try tpm.quote(pcrs: selection, nonce: nonce, with: Self.signingKey)
            #expect(try verifier.opensslVerifies(quote.attest, signature: quote.signature, key: key))
            let parsed = try QuoteAttestation.parse(quote.attest)
            #expect(parsed.magic == QuoteAttestation.generatedMagic)
            #expect(parsed.type == QuoteAttestation.quoteType)
            #expect(parsed.qualifyingData == nonce)
            #expect(parsed.pcrSelection == [selection])
            let values = try tpm.readPCRs(indices: selection.indices)
            #expect(parsed.pcrDigest == SHA256.hash(selection.indices.flatMap { values[$0]! }))
            #expect(parsed.isClockSafe)

            let later = try QuoteAttestation.parse(tpm.quote(pcrs: selection, nonce: [], with: Self.signingKey).attest)
            #expect(later.qualifyingData.isEmpty)
            #expect(later.clock >= parsed.clock)
            #expect(later.resetCount == parsed.resetCount)
            #expect(throws: TPM2Error.self) {
                try tpm.quote(pcrs: selection, nonce: [UInt8](repeating: 0, count: 65), with: Self.signingKey)
            }
            try expectNothingLeftLoaded(tpm)
        }
    }
}
