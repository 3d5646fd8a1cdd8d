import CryptoPrimitives
import TestSupport
import Testing

/// The test-only SHAKE128 must be right before it can judge HPKE against Go's accumulated known answers.
/// Expected values come from Python's hashlib.shake_128 (OpenSSL's SHAKE underneath), run once.
@Suite struct SHAKE128Tests {
    @Test func emptyInput() {
        var shake = SHAKE128()
        #expect(shake.squeeze(32) == [UInt8](hex: "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26"))
    }

    /// 200 input bytes cross the 168-byte rate while absorbing and 400 output bytes cross it while squeezing;
    /// both are fed and read in uneven pieces. hashlib.shake_128(bytes(range(200))).digest(400).
    @Test func multiBlockInputAndOutputInPieces() {
        let input = (0..<200).map { UInt8($0) }
        var shake = SHAKE128()
        shake.absorb(Array(input[0..<1]))
        shake.absorb(Array(input[1..<168]))
        shake.absorb(Array(input[168...]))
        let output = shake.squeeze(1) + shake.squeeze(200) + shake.squeeze(199)
        #expect(Array(output.prefix(16)) == [UInt8](hex: "0c4234ca1e31801ae606f8b8d8e0665c"))
        #expect(SHA256.hash(output) == [UInt8](hex: "38baf1ee7d97519dcce918b2f29e83605f1b40be8da4bbad02384b73ad1d4d56"))
    }
}
