import CryptoPrimitives
import TestSupport
import Testing

/// Known answers from RFC 8032, section 7.1 (Ed25519 TEST 1, TEST 2 and TEST 3).
@Suite struct Ed25519Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let secretKey: String
        let publicKey: String
        let message: String
        let signature: String

        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "TEST 1",
            secretKey: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: """
                e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
                5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
                """
        ),
        Vector(
            name: "TEST 2",
            secretKey: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: """
                92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da
                085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00
                """
        ),
        Vector(
            name: "TEST 3",
            secretKey: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: """
                6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac
                18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a
                """
        ),
    ]

    @Test(arguments: vectors) func knownAnswer(vector: Vector) throws {
        let key = try Ed25519PrivateKey(rawRepresentation: SecretBytes(hex: vector.secretKey))
        #expect(key.publicKey.rawRepresentation == [UInt8](hex: vector.publicKey))

        let message = [UInt8](hex: vector.message)
        let signature = try key.signature(for: message)
        #expect(signature == [UInt8](hex: vector.signature))

        let publicKey = try Ed25519PublicKey(rawRepresentation: [UInt8](hex: vector.publicKey))
        #expect(publicKey.isValidSignature([UInt8](hex: vector.signature), for: message))
    }

    @Test(arguments: vectors) func alteredInputsDoNotVerify(vector: Vector) throws {
        let publicKey = try Ed25519PublicKey(rawRepresentation: [UInt8](hex: vector.publicKey))
        let message = [UInt8](hex: vector.message)
        let signature = [UInt8](hex: vector.signature)

        #expect(!publicKey.isValidSignature(signature, for: message + [0]))
        if !message.isEmpty {
            var altered = message
            altered[0] ^= 0x01
            #expect(!publicKey.isValidSignature(signature, for: altered))
        }
        var alteredSignature = signature
        alteredSignature[10] ^= 0x01
        #expect(!publicKey.isValidSignature(alteredSignature, for: message))
        #expect(!publicKey.isValidSignature(Array(signature.prefix(63)), for: message))

        let otherKey = try Ed25519PrivateKey().publicKey
        #expect(!otherKey.isValidSignature(signature, for: message))
    }

    @Test func generatedKeySignsAndVerifies() throws {
        let key = try Ed25519PrivateKey()
        let message = try CryptoRandom.bytes(count: 1000)
        let signature = try key.signature(for: message)
        #expect(signature.count == Ed25519PrivateKey.signatureByteCount)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        // RFC 8032 signatures are deterministic.
        #expect(try key.signature(for: message) == signature)

        let restored = try Ed25519PrivateKey(rawRepresentation: key.rawRepresentation)
        #expect(restored.publicKey == key.publicKey)
    }

    @Test func wrongLengthsAreRejected() throws {
        #expect(throws: CryptoError.invalidArgument()) {
            try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 64))
        }
        #expect(throws: CryptoError.invalidArgument()) {
            try Ed25519PrivateKey(rawRepresentation: SecretBytes([UInt8](repeating: 1, count: 64)))
        }
    }
}
