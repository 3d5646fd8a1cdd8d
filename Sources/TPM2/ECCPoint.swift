internal import CryptoPrimitives

/// A NIST P-256 public key: the point (x, y), each coordinate 32 big-endian bytes.
///
/// Whether the point lies on the curve is not checked here: the TPM checks it when it loads the key, and
/// OpenSSL when it reads the SubjectPublicKeyInfo.
public struct ECCPoint: Sendable, Hashable {
    /// The size of each coordinate in bytes.
    public static let coordinateByteCount = 32

    /// The x coordinate, 32 bytes big-endian.
    public let x: [UInt8]
    /// The y coordinate, 32 bytes big-endian.
    public let y: [UInt8]

    /// A point from its coordinates; a coordinate shorter than 32 bytes is left-padded with zeros, as the
    /// TPM may return it without its leading zero bytes.
    ///
    /// - Throws: `TPM2Error.malformedInput` for a coordinate longer than 32 bytes.
    public init(x: [UInt8], y: [UInt8]) throws(TPM2Error) {
        self.x = try Self.padded(x, name: "x")
        self.y = try Self.padded(y, name: "y")
    }

    /// A point from SEC 1's uncompressed form, 0x04 ‖ x ‖ y (65 bytes).
    ///
    /// - Throws: `TPM2Error.malformedInput` for any other length or first byte.
    public init(uncompressed: [UInt8]) throws(TPM2Error) {
        guard uncompressed.count == 1 + 2 * Self.coordinateByteCount, uncompressed.first == 0x04 else {
            throw .malformedInput(
                "an uncompressed P-256 point is 65 bytes starting with 04, not \(uncompressed.count) bytes "
                    + "starting with \(uncompressed.first.map { TPM2Error.hexString([$0]) } ?? "nothing")"
            )
        }
        x = Array(uncompressed[1...32])
        y = Array(uncompressed[33...64])
    }

    /// A point from the DER SubjectPublicKeyInfo of a P-256 key, as `openssl ec -pubout -outform DER` writes.
    ///
    /// - Throws: `TPM2Error.malformedInput` unless the bytes are exactly a P-256 SPKI with an uncompressed point.
    public init(subjectPublicKeyInfoDER der: [UInt8]) throws(TPM2Error) {
        guard der.count == Self.spkiPrefix.count + 65, der.starts(with: Self.spkiPrefix) else {
            throw .malformedInput(
                "a P-256 SubjectPublicKeyInfo is 91 bytes starting with \(TPM2Error.hexString(Self.spkiPrefix)); "
                    + "this is \(der.count) bytes and another algorithm, curve or point encoding"
            )
        }
        try self.init(uncompressed: Array(der[Self.spkiPrefix.count...]))
    }

    /// SEC 1's uncompressed form, 0x04 ‖ x ‖ y.
    public var uncompressed: [UInt8] {
        [0x04] + x + y
    }

    /// The DER SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, uncompressed point) that OpenSSL, X.509 and
    /// JWK converters read.
    public var subjectPublicKeyInfoDER: [UInt8] {
        Self.spkiPrefix + uncompressed
    }

    /// The TPM name of this key loaded as a policy signer: nameAlg (SHA-256, 00 0B) ‖ SHA-256 of the
    /// marshalled TPMT_PUBLIC that `TPMConnection` gives TPM2_LoadExternal (see `verificationKeyArea`).
    ///
    /// PolicyAuthorize binds a sealed object to this name, so home computes it offline from the public key.
    public var name: [UInt8] {
        [0x00, 0x0B] + SHA256.hash(verificationKeyArea)
    }

    /// TPMT_PUBLIC of an ECDSA-SHA256 P-256 verification key: type ECC, nameAlg SHA-256, attributes sign and
    /// userWithAuth, empty authPolicy, no symmetric algorithm, scheme ECDSA with SHA-256, curve NIST P-256,
    /// no KDF, then the point. Changing any field changes `name`, and with it every sealed object's policy.
    var verificationKeyArea: [UInt8] {
        var writer = ByteWriter()
        writer.append(UInt16(0x0023))  // TPM_ALG_ECC
        writer.append(UInt16(0x000B))  // nameAlg TPM_ALG_SHA256
        writer.append(Self.verificationKeyAttributes)
        writer.appendSized([])  // authPolicy
        writer.append(UInt16(0x0010))  // symmetric TPM_ALG_NULL
        writer.append(UInt16(0x0018))  // scheme TPM_ALG_ECDSA
        writer.append(UInt16(0x000B))  // scheme hash TPM_ALG_SHA256
        writer.append(UInt16(0x0003))  // curve TPM_ECC_NIST_P256
        writer.append(UInt16(0x0010))  // kdf TPM_ALG_NULL
        writer.appendSized(x)
        writer.appendSized(y)
        return writer.bytes
    }

    /// TPMA_OBJECT sign | userWithAuth: the TPM needs only to verify with it.
    static let verificationKeyAttributes: UInt32 = 0x0004_0040

    /// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes, no unused bits) }.
    private static let spkiPrefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86,
        0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ]

    private static func padded(_ coordinate: [UInt8], name: String) throws(TPM2Error) -> [UInt8] {
        guard coordinate.count <= coordinateByteCount else {
            throw .malformedInput("a P-256 \(name) coordinate has at most 32 bytes, not \(coordinate.count)")
        }
        return [UInt8](repeating: 0, count: coordinateByteCount - coordinate.count) + coordinate
    }
}
