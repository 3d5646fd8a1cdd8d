internal import CLibcrypto

/// An ECDSA P-256 public key (FIPS 186-4, secp256r1), for verifying signatures with SHA-256.
///
/// The key is held as its uncompressed point, checked on the curve when it is made; OpenSSL's key is made again
/// for each verification (tens of microseconds, and verifications are rare: a receipt checked at home).
public struct P256PublicKey: Sendable, Hashable {
    /// The length of the uncompressed point: 0x04, then x and y, 32 bytes each (SEC 1 section 2.3.3).
    public static let uncompressedByteCount = 65

    /// The DER of a SubjectPublicKeyInfo before the point (RFC 5480): id-ecPublicKey, the named curve prime256v1,
    /// and the BIT STRING header of a 65-byte point.
    private static let subjectPublicKeyInfoPrefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48,
        0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ]

    /// The point as SEC 1 encodes it uncompressed: 0x04 || x || y.
    public let uncompressedRepresentation: [UInt8]

    /// Wraps an uncompressed point.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are 65 bytes starting with 0x04, and `CryptoError` if
    ///   the point is not on the curve (OpenSSL says why).
    public init(uncompressedRepresentation point: [UInt8]) throws {
        guard point.count == Self.uncompressedByteCount, point.first == 0x04 else {
            throw CryptoError.invalidArgument(
                "a P-256 public key must be an uncompressed point, \(Self.uncompressedByteCount) bytes starting "
                    + "with 0x04, got \(point.count) bytes")
        }
        _ = try PKey.p256PublicKey(uncompressed: point)
        uncompressedRepresentation = point
    }

    /// Reads a DER SubjectPublicKeyInfo (RFC 5480) of a P-256 key, its point compressed or not.
    ///
    /// - Throws: `CryptoError` if the bytes are not one SubjectPublicKeyInfo, or hold a key of another kind.
    public init(derRepresentation der: [UInt8]) throws {
        OpenSSL.beginOperation()
        let key = try der.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw CryptoError.invalidArgument("an empty SubjectPublicKeyInfo")
            }
            var next: UnsafePointer<UInt8>? = base
            guard let pointer = d2i_PUBKEY_ex(nil, &next, bytes.count, nil, nil) else {
                throw CryptoError.library("d2i_PUBKEY_ex (not a DER SubjectPublicKeyInfo)")
            }
            let key = PKey(taking: pointer)
            guard next == base + bytes.count else {
                throw CryptoError.invalidArgument("bytes follow the SubjectPublicKeyInfo")
            }
            return key
        }
        try self.init(key)
    }

    /// Reads a PEM public key: a `-----BEGIN PUBLIC KEY-----` block holding a SubjectPublicKeyInfo of a P-256 key,
    /// as `openssl pkey -pubout` writes it; text before the block is ignored (RFC 7468 allows explanations there).
    ///
    /// - Throws: `CryptoError` if there is no such block, or it holds a key of another kind.
    public init(pemRepresentation pem: String) throws {
        OpenSSL.beginOperation()
        let key = try Array(pem.utf8).withUnsafeBytes { bytes in
            try MemoryBIO.reading(bytes) { bio in
                guard let pointer = PEM_read_bio_PUBKEY_ex(bio, nil, nil, nil, nil, nil) else {
                    throw CryptoError.library("PEM_read_bio_PUBKEY_ex (no PEM PUBLIC KEY block)")
                }
                return PKey(taking: pointer)
            }
        }
        try self.init(key)
    }

    private init(_ key: PKey) throws {
        guard key.isP256 else {
            throw CryptoError.invalidArgument("the public key is not an elliptic-curve key on P-256 (prime256v1)")
        }
        uncompressedRepresentation = try key.uncompressedP256Point()
    }

    /// The DER SubjectPublicKeyInfo (RFC 5480: id-ecPublicKey, named curve prime256v1, uncompressed point), as
    /// `openssl pkey -pubout -outform DER` writes it.
    public var derRepresentation: [UInt8] {
        Self.subjectPublicKeyInfoPrefix + uncompressedRepresentation
    }

    /// The PEM public key (`-----BEGIN PUBLIC KEY-----`, base64 in lines of 64, each ended by a line feed), as
    /// `openssl pkey -pubout` writes it.
    public var pemRepresentation: String {
        let der = derRepresentation
        // Four characters for every three bytes, and the NUL that EVP_EncodeBlock writes after them.
        var base64 = [UInt8](repeating: 0, count: (der.count + 2) / 3 * 4 + 1)
        let count = EVP_EncodeBlock(&base64, der, Int32(der.count))
        let text = String(decoding: base64.prefix(Int(count)), as: UTF8.self)
        var lines = ["-----BEGIN PUBLIC KEY-----"]
        var start = text.startIndex
        while start < text.endIndex {
            let end = text.index(start, offsetBy: 64, limitedBy: text.endIndex) ?? text.endIndex
            lines.append(String(text[start..<end]))
            start = end
        }
        lines.append("-----END PUBLIC KEY-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether `raw` (r || s, 64 bytes) is a valid ECDSA signature with SHA-256 of `message` by this key.
    ///
    /// Any failure, including a malformed signature, is a "no": a verifier must not distinguish ways of being
    /// wrong.
    public func isValidSignature(_ raw: [UInt8], for message: [UInt8]) -> Bool {
        defer {
            // A rejected signature leaves reasons in the queue that belong to no error anyone will see.
            OpenSSL.beginOperation()
        }
        guard let der = try? ECDSASignatureEncoding.der(fromRaw: raw),
            let key = try? PKey.p256PublicKey(uncompressed: uncompressedRepresentation),
            let context = try? DigestContext()
        else {
            return false
        }
        return context.withUnsafePointer { context in
            key.withUnsafePointer { key in
                guard EVP_DigestVerifyInit_ex(context, nil, "SHA256", nil, nil, key, nil) == 1 else {
                    return false
                }
                return message.withNonNullBytes { message, messageCount in
                    EVP_DigestVerify(
                        context, der, der.count, message.assumingMemoryBound(to: UInt8.self), messageCount) == 1
                }
            }
        }
    }
}
