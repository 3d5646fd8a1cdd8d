import CryptoPrimitives
import TestSupport
import Testing

/// Known answers from RFC 7748, section 6.1 (Curve25519 Diffie-Hellman).
@Suite struct X25519Tests {
    static let alicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
    static let alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let bobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
    static let bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    static let sharedSecret = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    @Test func publicKeysFromPrivateKeys() throws {
        let alice = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.alicePrivate))
        let bob = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.bobPrivate))
        #expect(alice.publicKey.rawRepresentation == [UInt8](hex: Self.alicePublic))
        #expect(bob.publicKey.rawRepresentation == [UInt8](hex: Self.bobPublic))
        #expect(alice.rawRepresentation.bytes == [UInt8](hex: Self.alicePrivate))
    }

    @Test func sharedSecretFromBothSides() throws {
        let alice = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.alicePrivate))
        let bob = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.bobPrivate))
        let bobPublic = try X25519PublicKey(rawRepresentation: [UInt8](hex: Self.bobPublic))
        let alicePublic = try X25519PublicKey(rawRepresentation: [UInt8](hex: Self.alicePublic))
        #expect(try alice.sharedSecret(with: bobPublic).bytes == [UInt8](hex: Self.sharedSecret))
        #expect(try bob.sharedSecret(with: alicePublic).bytes == [UInt8](hex: Self.sharedSecret))
    }

    @Test func generatedKeysAgree() throws {
        let alice = try X25519PrivateKey()
        let bob = try X25519PrivateKey()
        #expect(alice.publicKey != bob.publicKey)
        let fromAlice = try alice.sharedSecret(with: bob.publicKey)
        let fromBob = try bob.sharedSecret(with: alice.publicKey)
        #expect(fromAlice.bytes == fromBob.bytes)
        #expect(fromAlice.count == 32)
    }

    @Test func sameRawBytesGiveSameKey() throws {
        let original = try X25519PrivateKey()
        let restored = try X25519PrivateKey(rawRepresentation: original.rawRepresentation)
        #expect(restored.publicKey == original.publicKey)
    }

    @Test func lowOrderPeerKeyIsRefused() throws {
        // u = 0 is a point of small order: the shared secret would be all zeros (RFC 7748 section 6.1).
        let key = try X25519PrivateKey()
        let zero = try X25519PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        let error = try #require(throws: CryptoError.self) { try key.sharedSecret(with: zero) }
        #expect(error != CryptoError.invalidArgument())
        #expect(error != CryptoError.authenticationFailure())
        // The message carries OpenSSL's own reason, read from its error queue.
        #expect(error.message.contains("error:"))
    }

    @Test func wrongLengthsAreRejected() throws {
        #expect(throws: CryptoError.invalidArgument()) {
            try X25519PublicKey(rawRepresentation: [UInt8](repeating: 9, count: 31))
        }
        #expect(throws: CryptoError.invalidArgument()) {
            try X25519PrivateKey(rawRepresentation: SecretBytes([UInt8](repeating: 9, count: 33)))
        }
    }
}
