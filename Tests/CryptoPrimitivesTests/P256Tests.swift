import CryptoPrimitives
import Foundation
import TestSupport
import Testing

/// Known answers (RFC 6979 and Wycheproof), and what a key refuses.
@Suite struct P256Tests {
    /// RFC 6979 appendix A.2.5: the P-256 key, and its signatures with SHA-256 of "sample" and "test".
    static let rfc6979Key = """
        04 60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
        7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
        """
    static let rfc6979Signatures = [
        (
            "sample",
            """
            EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
            F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
            """
        ),
        (
            "test",
            """
            F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367
            019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083
            """
        ),
    ]

    @Test func rfc6979SignaturesVerify() throws {
        let key = try P256PublicKey(uncompressedRepresentation: [UInt8](hex: Self.rfc6979Key))
        for (message, signature) in Self.rfc6979Signatures {
            let raw = [UInt8](hex: signature)
            #expect(key.isValidSignature(raw, for: Array(message.utf8)), "\(message)")
            #expect(!key.isValidSignature(raw, for: Array((message + ".").utf8)), "\(message)")
            var altered = raw
            altered[63] ^= 1
            #expect(!key.isValidSignature(altered, for: Array(message.utf8)), "\(message)")
            // The other message's signature is not this one's.
            let other = Self.rfc6979Signatures.first { $0.0 != message }!.1
            #expect(!key.isValidSignature([UInt8](hex: other), for: Array(message.utf8)))
        }
    }

    /// Wycheproof's ECDSA P-256 SHA-256 tests, DER signatures: every valid one verifies, and every invalid one is
    /// refused, by the strict DER parser or by the verification. Their public keys also read from DER.
    @Test func wycheproof() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/wycheproof-ecdsa-p256-sha256.txt")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        var key: P256PublicKey?
        var counts = (valid: 0, invalid: 0, refusedByParser: 0)
        for line in lines where !line.hasPrefix("#") {
            let fields = line.split(separator: " ").map(String.init)
            if fields[0] == "key" {
                let parsed = try P256PublicKey(uncompressedRepresentation: [UInt8](hex: fields[1]))
                let fromDER = try P256PublicKey(derRepresentation: [UInt8](hex: fields[2]))
                #expect(fromDER == parsed)
                #expect(parsed.derRepresentation == [UInt8](hex: fields[2]))
                key = parsed
                continue
            }
            let message = fields[2] == "-" ? [] : [UInt8](hex: fields[2])
            let der = fields[3] == "-" ? [] : [UInt8](hex: fields[3])
            let raw = try? ECDSASignatureEncoding.raw(fromDER: der)
            let verified = raw.map { key!.isValidSignature($0, for: message) } ?? false
            if fields[1] == "valid" {
                counts.valid += 1
                #expect(verified, "test \(fields[0]) is valid but did not verify")
                #expect(raw.map { try? ECDSASignatureEncoding.der(fromRaw: $0) } == der, "test \(fields[0])")
            } else {
                counts.invalid += 1
                if raw == nil { counts.refusedByParser += 1 }
                #expect(!verified, "test \(fields[0]) is invalid but verified")
            }
        }
        #expect(counts.valid == 170 && counts.invalid == 301, "\(counts)")
        // Most invalid tests are encodings (BER, wrong lengths, negative numbers): the parser refuses them itself.
        #expect(counts.refusedByParser > 150, "\(counts)")
    }

    @Test func signAndVerify() throws {
        let key = try P256PrivateKey()
        let message = Array("saatkond receipt".utf8)
        let first = try key.signature(for: message)
        let second = try key.signature(for: message)
        #expect(first.count == 64 && second.count == 64)
        #expect(first != second, "ECDSA signatures are randomized")
        #expect(key.publicKey.isValidSignature(first, for: message))
        #expect(key.publicKey.isValidSignature(second, for: message))
        #expect(try key.publicKey.isValidSignature(key.signature(for: []), for: []))
        #expect(!key.publicKey.isValidSignature(first, for: message + [0]))
        #expect(!key.publicKey.isValidSignature(Array(first.prefix(63)), for: message))
        #expect(!key.publicKey.isValidSignature([UInt8](repeating: 0, count: 64), for: message))
        #expect(try !P256PrivateKey().publicKey.isValidSignature(first, for: message))
    }

    @Test func encodingsRoundTrip() throws {
        let key = try P256PrivateKey()
        let pem = try key.pemRepresentation
        let text = String(decoding: pem.bytes, as: UTF8.self)
        #expect(text.hasPrefix("-----BEGIN PRIVATE KEY-----\n") && text.hasSuffix("-----END PRIVATE KEY-----\n"))
        let again = try P256PrivateKey(pemRepresentation: pem)
        #expect(again.publicKey == key.publicKey)
        let message = Array("round trip".utf8)
        #expect(key.publicKey.isValidSignature(try again.signature(for: message), for: message))

        let publicKey = key.publicKey
        #expect(publicKey.uncompressedRepresentation.count == 65)
        #expect(try P256PublicKey(derRepresentation: publicKey.derRepresentation) == publicKey)
        #expect(try P256PublicKey(pemRepresentation: publicKey.pemRepresentation) == publicKey)
        #expect(publicKey.pemRepresentation.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
    }

    /// The key file's text around the block, its line ends and its public key.
    @Test func privateKeyFileForms() throws {
        let key = try P256PrivateKey()
        let pem = String(decoding: try key.pemRepresentation.bytes, as: UTF8.self)
        let wrapped =
            "the receipt-signing key of ee-embassy-lu-1\r\n"
            + pem.replacingOccurrences(of: "\n", with: "\r\n") + "trailing words\n"
        #expect(try P256PrivateKey(pemRepresentation: SecretBytes(Array(wrapped.utf8))).publicKey == key.publicKey)

        // Another key's public point in this key's file: refused, not trusted.
        let lines = pem.split(separator: "\n").dropFirst().dropLast().joined()
        var der = [UInt8](Data(base64Encoded: lines)!)
        #expect(der.count == 138)
        der.replaceSubrange(73..., with: try P256PrivateKey().publicKey.uncompressedRepresentation)
        let mismatched = "-----BEGIN PRIVATE KEY-----\n\(Data(der).base64EncodedString())\n-----END PRIVATE KEY-----\n"
        #expect(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: SecretBytes(Array(mismatched.utf8))) }

        // Damaged text: a changed base64 digit in the private key, a missing end line, nothing at all.
        var damaged = Array(pem.utf8)
        damaged[78] = damaged[78] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: SecretBytes(damaged)) }
        let cut = Array(pem.utf8.dropLast(30))
        #expect(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: SecretBytes(cut)) }
        #expect(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: SecretBytes([])) }
    }

    @Test func invalidPublicKeysAreRefused() throws {
        let point = [UInt8](hex: Self.rfc6979Key)
        #expect(throws: CryptoError.self) { try P256PublicKey(uncompressedRepresentation: Array(point.dropLast())) }
        var compressed = Array(point.prefix(33))
        compressed[0] = 0x02 + (point[64] & 1)
        #expect(throws: CryptoError.self) { try P256PublicKey(uncompressedRepresentation: compressed) }
        var offCurve = point
        offCurve[64] ^= 1
        #expect(throws: CryptoError.self) { try P256PublicKey(uncompressedRepresentation: offCurve) }
        // x = p, outside the field.
        let p = [UInt8](hex: "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF")
        #expect(throws: CryptoError.self) {
            try P256PublicKey(uncompressedRepresentation: [4] + p + Array(point.suffix(32)))
        }
        let der = try P256PublicKey(uncompressedRepresentation: point).derRepresentation
        #expect(throws: CryptoError.self) { try P256PublicKey(derRepresentation: der + [0]) }
        #expect(throws: CryptoError.self) { try P256PublicKey(derRepresentation: Array(der.dropLast())) }
        #expect(throws: CryptoError.self) { try P256PublicKey(derRepresentation: []) }
        // An Ed25519 SubjectPublicKeyInfo (RFC 8410) is a public key, but not a P-256 one.
        let ed25519 = [UInt8](hex: "302a300506032b6570032100") + [UInt8](repeating: 9, count: 32)
        #expect(throws: CryptoError.self) { try P256PublicKey(derRepresentation: ed25519) }
        #expect(throws: CryptoError.self) { try P256PublicKey(pemRepresentation: "no key here") }
        #expect(throws: CryptoError.self) { try P256PublicKey(pemRepresentation: String(repeating: "ab", count: 32)) }
    }

    @Test func oneKeySharedByManyTasks() async throws {
        let key = try P256PrivateKey()
        let verdicts = try await withThrowingTaskGroup(of: Bool.self) { group in
            for round in 0..<32 {
                group.addTask {
                    let message = Array("message \(round)".utf8)
                    let signature = try key.signature(for: message)
                    return key.publicKey.isValidSignature(signature, for: message)
                        && !key.publicKey.isValidSignature(signature, for: message + [0])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts == Array(repeating: true, count: 32))
    }
}
