import CryptoPrimitives
import TestSupport
import Testing

/// Known answers from McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", revised 2005,
/// Appendix B, test cases 13 to 16 (the 256-bit key cases with 96-bit IVs).
@Suite struct AES256GCMTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: String
        let plaintext: String
        let additionalData: String
        let nonce: String
        let ciphertext: String
        let tag: String

        var testDescription: String { name }
    }

    static let key15 = "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308"

    static let vectors: [Vector] = [
        Vector(
            name: "Test Case 13",
            key: String(repeating: "00", count: 32),
            plaintext: "",
            additionalData: "",
            nonce: "000000000000000000000000",
            ciphertext: "",
            tag: "530f8afbc74536b9a963b4f1c4cb738b"
        ),
        Vector(
            name: "Test Case 14",
            key: String(repeating: "00", count: 32),
            plaintext: "00000000000000000000000000000000",
            additionalData: "",
            nonce: "000000000000000000000000",
            ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919"
        ),
        Vector(
            name: "Test Case 15",
            key: key15,
            plaintext: """
                d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255
                """,
            additionalData: "",
            nonce: "cafebabefacedbaddecaf888",
            ciphertext: """
                522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662898015ad
                """,
            tag: "b094dac5d93471bdec1a502270e3cc6c"
        ),
        Vector(
            name: "Test Case 16",
            key: key15,
            plaintext: """
                d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39
                """,
            additionalData: "feedfacedeadbeeffeedfacedeadbeef abaddad2",
            nonce: "cafebabefacedbaddecaf888",
            ciphertext: """
                522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662
                """,
            tag: "76fc6ece0f4e1768cddf8853bb2d551b"
        ),
    ]

    @Test(arguments: vectors) func sealMatchesKnownAnswer(vector: Vector) throws {
        let sealed = try AES256GCM.seal(
            key: SecretBytes(hex: vector.key),
            nonce: [UInt8](hex: vector.nonce),
            plaintext: [UInt8](hex: vector.plaintext),
            additionalData: [UInt8](hex: vector.additionalData)
        )
        #expect(sealed.ciphertext == [UInt8](hex: vector.ciphertext))
        #expect(sealed.tag == [UInt8](hex: vector.tag))
    }

    @Test(arguments: vectors) func openMatchesKnownAnswer(vector: Vector) throws {
        let plaintext = try AES256GCM.open(
            key: SecretBytes(hex: vector.key),
            nonce: [UInt8](hex: vector.nonce),
            ciphertext: [UInt8](hex: vector.ciphertext),
            tag: [UInt8](hex: vector.tag),
            additionalData: [UInt8](hex: vector.additionalData)
        )
        #expect(plaintext == [UInt8](hex: vector.plaintext))
    }

    @Test(arguments: vectors) func inPlaceMatchesKnownAnswer(vector: Vector) throws {
        let key = SecretBytes(hex: vector.key)
        let nonce = [UInt8](hex: vector.nonce)
        let additionalData = [UInt8](hex: vector.additionalData)
        var buffer = [UInt8](hex: vector.plaintext)
        let tag = try buffer.withUnsafeMutableBytes {
            try AES256GCM.sealInPlace(key: key, nonce: nonce, buffer: $0, additionalData: additionalData)
        }
        #expect(buffer == [UInt8](hex: vector.ciphertext))
        #expect(tag == [UInt8](hex: vector.tag))

        try buffer.withUnsafeMutableBytes {
            try AES256GCM.openInPlace(key: key, nonce: nonce, buffer: $0, tag: tag, additionalData: additionalData)
        }
        #expect(buffer == [UInt8](hex: vector.plaintext))
    }

    /// Test Case 16 has ciphertext and additional data, so every part of the input can be altered.
    @Test func anyAlteredByteFailsAuthentication() throws {
        let vector = Self.vectors[3]
        let key = SecretBytes(hex: vector.key)
        let nonce = [UInt8](hex: vector.nonce)
        let ciphertext = [UInt8](hex: vector.ciphertext)
        let tag = [UInt8](hex: vector.tag)
        let additionalData = [UInt8](hex: vector.additionalData)

        func flipped(_ bytes: [UInt8], at index: Int) -> [UInt8] {
            var copy = bytes
            copy[index] ^= 0x01
            return copy
        }
        let forgeries: [(ciphertext: [UInt8], tag: [UInt8], additionalData: [UInt8], nonce: [UInt8])] = [
            (flipped(ciphertext, at: 0), tag, additionalData, nonce),
            (flipped(ciphertext, at: ciphertext.count - 1), tag, additionalData, nonce),
            (ciphertext, flipped(tag, at: 0), additionalData, nonce),
            (ciphertext, flipped(tag, at: 15), additionalData, nonce),
            (ciphertext, tag, flipped(additionalData, at: 0), nonce),
            (ciphertext, tag, flipped(additionalData, at: additionalData.count - 1), nonce),
            (ciphertext, tag, [], nonce),
            (ciphertext, tag, additionalData, flipped(nonce, at: 11)),
        ]
        for forgery in forgeries {
            #expect(throws: CryptoError.authenticationFailure()) {
                try AES256GCM.open(
                    key: key,
                    nonce: forgery.nonce,
                    ciphertext: forgery.ciphertext,
                    tag: forgery.tag,
                    additionalData: forgery.additionalData
                )
            }
        }
        #expect(throws: CryptoError.authenticationFailure()) {
            try AES256GCM.open(
                key: SecretBytes([UInt8](repeating: 0, count: 32)),
                nonce: nonce,
                ciphertext: ciphertext,
                tag: tag,
                additionalData: additionalData
            )
        }
    }

    @Test func failedOpenInPlaceLeavesNoPlaintext() throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
        var buffer = [UInt8](repeating: 0x5a, count: 4096)
        var tag = try buffer.withUnsafeMutableBytes {
            try AES256GCM.sealInPlace(key: key, nonce: nonce, buffer: $0, additionalData: [])
        }
        tag[0] ^= 0x80
        #expect(throws: CryptoError.authenticationFailure()) {
            try buffer.withUnsafeMutableBytes {
                try AES256GCM.openInPlace(key: key, nonce: nonce, buffer: $0, tag: tag, additionalData: [])
            }
        }
        #expect(buffer.allSatisfy { $0 == 0 })
    }
}
