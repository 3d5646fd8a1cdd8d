import CryptoPrimitives
import HPKE
import TestSupport
import Testing

/// Every alteration of what was sealed, and every wrong key, is refused, and with the right kind of error.
@Suite struct HPKEFailureTests {
    /// One sealed message and everything needed to open it.
    struct Sealed {
        let recipient: X25519PrivateKey
        let info = Array("saatkond segment data key v1".utf8)
        let additionalData = Array("segment 0042".utf8)
        let plaintext = Array("a 32-byte data key, for example.".utf8)
        let encapsulatedKey: [UInt8]
        let ciphertext: [UInt8]

        init() throws {
            recipient = try X25519PrivateKey()
            (encapsulatedKey, ciphertext) = try HPKE.seal(
                to: recipient.publicKey, info: info, additionalData: additionalData, plaintext: plaintext)
        }

        func open(
            encapsulatedKey: [UInt8]? = nil,
            ciphertext: [UInt8]? = nil,
            recipient: X25519PrivateKey? = nil,
            info: [UInt8]? = nil,
            additionalData: [UInt8]? = nil
        ) throws -> SecretBytes {
            try HPKE.open(
                encapsulatedKey: encapsulatedKey ?? self.encapsulatedKey,
                ciphertext: ciphertext ?? self.ciphertext,
                recipient: recipient ?? self.recipient,
                info: info ?? self.info,
                additionalData: additionalData ?? self.additionalData
            )
        }
    }

    static func flipping(_ bytes: [UInt8], at index: Int, mask: UInt8 = 0x01) -> [UInt8] {
        var flipped = bytes
        flipped[index] ^= mask
        return flipped
    }

    @Test func unalteredMessageOpens() throws {
        let sealed = try Sealed()
        #expect(try sealed.open().bytes == sealed.plaintext)
    }

    @Test func flippedEncapsulatedKeyByteFailsAuthentication() throws {
        let sealed = try Sealed()
        for index in sealed.encapsulatedKey.indices {
            #expect(throws: HPKEError.authenticationFailure(), "enc byte \(index)") {
                try sealed.open(encapsulatedKey: Self.flipping(sealed.encapsulatedKey, at: index))
            }
        }
        // X25519 ignores the top bit of a public key, so this enc gives the same Diffie-Hellman result; it must
        // still fail, because HPKE binds the key schedule to the enc bytes as sent.
        #expect(throws: HPKEError.authenticationFailure()) {
            try sealed.open(encapsulatedKey: Self.flipping(sealed.encapsulatedKey, at: 31, mask: 0x80))
        }
    }

    @Test func flippedCiphertextByteFailsAuthentication() throws {
        let sealed = try Sealed()
        for index in sealed.ciphertext.indices {
            #expect(throws: HPKEError.authenticationFailure(), "ciphertext byte \(index)") {
                try sealed.open(ciphertext: Self.flipping(sealed.ciphertext, at: index))
            }
        }
    }

    @Test func flippedInfoOrAdditionalDataByteFailsAuthentication() throws {
        let sealed = try Sealed()
        for index in sealed.info.indices {
            #expect(throws: HPKEError.authenticationFailure(), "info byte \(index)") {
                try sealed.open(info: Self.flipping(sealed.info, at: index))
            }
        }
        for index in sealed.additionalData.indices {
            #expect(throws: HPKEError.authenticationFailure(), "additional data byte \(index)") {
                try sealed.open(additionalData: Self.flipping(sealed.additionalData, at: index))
            }
        }
        #expect(throws: HPKEError.authenticationFailure()) { try sealed.open(info: []) }
        #expect(throws: HPKEError.authenticationFailure()) { try sealed.open(additionalData: []) }
    }

    @Test func truncatedOrExtendedCiphertextFailsAuthentication() throws {
        let sealed = try Sealed()
        for length in [0, 1, HPKE.tagByteCount - 1, HPKE.tagByteCount, sealed.ciphertext.count - 1] {
            #expect(throws: HPKEError.authenticationFailure(), "length \(length)") {
                try sealed.open(ciphertext: Array(sealed.ciphertext.prefix(length)))
            }
        }
        #expect(throws: HPKEError.authenticationFailure()) { try sealed.open(ciphertext: sealed.ciphertext + [0]) }
    }

    @Test func wrongRecipientFailsAuthentication() throws {
        let sealed = try Sealed()
        let stranger = try X25519PrivateKey()
        let error = try #require(throws: HPKEError.self) { try sealed.open(recipient: stranger) }
        #expect(error == HPKEError.authenticationFailure())
        #expect(error.message.contains("authentication"))
    }

    /// Points of small order (RFC 7748 section 6.1) and their non-canonical encodings make an all-zero
    /// Diffie-Hellman result, which RFC 9180 section 7.1.4 requires refusing. pyca/cryptography refuses each.
    static let lowOrderPoints = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
    ]

    @Test(arguments: lowOrderPoints)
    func lowOrderEncapsulatedKeyIsRefused(point: String) throws {
        let sealed = try Sealed()
        let error = try #require(throws: HPKEError.self) { try sealed.open(encapsulatedKey: [UInt8](hex: point)) }
        #expect(error == HPKEError.invalidEncapsulatedKey())
        #expect(error != HPKEError.authenticationFailure())
    }

    @Test(arguments: lowOrderPoints)
    func lowOrderRecipientKeyIsRefused(point: String) throws {
        let publicKey = try X25519PublicKey(rawRepresentation: [UInt8](hex: point))
        #expect(throws: HPKEError.invalidRecipientKey()) {
            try HPKE.seal(to: publicKey, info: [], additionalData: [], plaintext: [1, 2, 3])
        }
    }

    @Test(arguments: [0, 31, 33, 64])
    func encapsulatedKeyOfWrongLengthIsRefused(length: Int) throws {
        let sealed = try Sealed()
        let error = try #require(throws: HPKEError.self) {
            try sealed.open(encapsulatedKey: [UInt8](repeating: 9, count: length))
        }
        #expect(error == HPKEError.invalidEncapsulatedKey())
        #expect(error.message.contains("\(length)"))
    }
}
