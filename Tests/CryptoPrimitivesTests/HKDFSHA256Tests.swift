import CryptoPrimitives
import TestSupport
import Testing

/// Known answers from RFC 5869, Appendix A (test cases 1, 2 and 3, the SHA-256 ones).
@Suite struct HKDFSHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let ikm: String
        let salt: String
        let info: String
        let length: Int
        let prk: String
        let okm: String

        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "A.1 basic",
            ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            salt: "000102030405060708090a0b0c",
            info: "f0f1f2f3f4f5f6f7f8f9",
            length: 42,
            prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        ),
        Vector(
            name: "A.2 longer inputs and outputs",
            ikm: """
                000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
                404142434445464748494a4b4c4d4e4f
                """,
            salt: """
                606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
                808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\
                a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
                """,
            info: """
                b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf\
                d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef\
                f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
                """,
            length: 82,
            prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            okm: """
                b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
                59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
                cc30c58179ec3e87c14c01d5c1f3434f1d87
                """
        ),
        Vector(
            name: "A.3 zero-length salt and info",
            ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
            salt: "",
            info: "",
            length: 42,
            prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        ),
    ]

    @Test(arguments: vectors) func extractThenExpand(vector: Vector) throws {
        let prk = try HKDFSHA256.extract(salt: [UInt8](hex: vector.salt), ikm: SecretBytes(hex: vector.ikm))
        #expect(prk.bytes == [UInt8](hex: vector.prk))

        let okm = try HKDFSHA256.expand(prk: prk, info: [UInt8](hex: vector.info), length: vector.length)
        #expect(okm.bytes == [UInt8](hex: vector.okm))
    }

    @Test(arguments: vectors) func deriveKeyInOneCall(vector: Vector) throws {
        let okm = try HKDFSHA256.deriveKey(
            ikm: SecretBytes(hex: vector.ikm),
            salt: [UInt8](hex: vector.salt),
            info: [UInt8](hex: vector.info),
            length: vector.length
        )
        #expect(okm.bytes == [UInt8](hex: vector.okm))
    }

    @Test func emptySaltEqualsThirtyTwoZeroBytes() throws {
        // RFC 5869 section 2.2: "if not provided, [salt] is set to a string of HashLen zeros".
        let ikm = try CryptoRandom.secretBytes(count: 32)
        let implicit = try HKDFSHA256.extract(salt: [], ikm: ikm)
        let explicit = try HKDFSHA256.extract(salt: [UInt8](repeating: 0, count: 32), ikm: ikm)
        #expect(implicit.bytes == explicit.bytes)
    }

    @Test func shorterOutputIsPrefixOfLongerOutput() throws {
        let prk = try CryptoRandom.secretBytes(count: 32)
        let info = Array("saatkond test".utf8)
        let longest = try HKDFSHA256.expand(prk: prk, info: info, length: HKDFSHA256.maximumOutputByteCount)
        let short = try HKDFSHA256.expand(prk: prk, info: info, length: 33)
        #expect(longest.count == 8160)
        #expect(Array(longest.bytes.prefix(33)) == short.bytes)
    }

    @Test(arguments: [0, -1, HKDFSHA256.maximumOutputByteCount + 1])
    func outOfRangeLengthIsRejected(length: Int) throws {
        let prk = try CryptoRandom.secretBytes(count: 32)
        #expect(throws: CryptoError.invalidArgument()) {
            try HKDFSHA256.expand(prk: prk, info: [], length: length)
        }
    }

    @Test func shortPseudorandomKeyIsRejected() throws {
        #expect(throws: CryptoError.invalidArgument()) {
            try HKDFSHA256.expand(prk: SecretBytes([UInt8](repeating: 7, count: 16)), info: [], length: 32)
        }
    }
}
