import CryptoPrimitives

/// The identifiers of an HPKE ciphersuite with DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256 (RFC 9180 section 7),
/// and the AEAD key length that follows from its AEAD.
///
/// The public API uses one suite, `x25519SHA256AES256GCM`. The AEAD is a parameter here only so that the key
/// schedule and exporter can also be checked against RFC 9180 Appendix A.1, which prints every intermediate
/// value for the same KEM and KDF with AES-128-GCM.
struct HPKESuite: Sendable {
    /// DHKEM(X25519, HKDF-SHA256).
    static let kemIdentifier: UInt16 = 0x0020

    /// HKDF-SHA256.
    static let kdfIdentifier: UInt16 = 0x0001

    /// Nn: every AEAD of RFC 9180 uses 96-bit nonces.
    static let nonceByteCount = 12

    /// Nh: the output length of HKDF-SHA256's Extract, and so of the exporter secret.
    static let hashByteCount = 32

    /// The one suite this module offers: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
    static let x25519SHA256AES256GCM = HPKESuite(aeadIdentifier: 0x0002, keyByteCount: 32)

    /// The AEAD's identifier.
    let aeadIdentifier: UInt16

    /// Nk: the AEAD key length in bytes.
    let keyByteCount: Int

    /// suite_id of the key schedule and exporter: "HPKE" followed by the three identifiers (section 5.1).
    var identifier: [UInt8] {
        Array("HPKE".utf8) + Self.bigEndian(Self.kemIdentifier) + Self.bigEndian(Self.kdfIdentifier)
            + Self.bigEndian(aeadIdentifier)
    }

    /// suite_id inside the KEM: "KEM" followed by the KEM identifier (section 4.1).
    static var kemSuiteIdentifier: [UInt8] {
        Array("KEM".utf8) + bigEndian(kemIdentifier)
    }

    /// I2OSP(value, 2).
    static func bigEndian(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 8), UInt8(value & 0xff)]
    }
}

/// HKDF-SHA256 with every input prefixed by "HPKE-v1", a suite identifier and a label (RFC 9180 section 4,
/// LabeledExtract and LabeledExpand), so that no two uses of the KDF, in HPKE or elsewhere, share an output.
struct LabeledKDF: Sendable {
    private static let version = Array("HPKE-v1".utf8)

    /// The suite_id mixed into every call: the KEM's inside DHKEM, the whole suite's elsewhere.
    let suiteIdentifier: [UInt8]

    /// LabeledExtract(salt, label, ikm) for secret input keying material, which is assembled straight into
    /// locked memory.
    func extract(salt: [UInt8], label: String, ikm: SecretBytes) throws -> SecretBytes {
        try ikm.withUnsafeBytes { try extract(salt: salt, label: label, ikmBytes: $0) }
    }

    /// LabeledExtract(salt, label, ikm) for public input keying material, such as `info`.
    func extract(salt: [UInt8], label: String, ikm: [UInt8]) throws -> SecretBytes {
        try ikm.withUnsafeBytes { try extract(salt: salt, label: label, ikmBytes: $0) }
    }

    /// LabeledExpand(prk, label, info, length).
    ///
    /// - Parameter length: 1 to 8160 bytes (255 SHA-256 blocks); HKDFSHA256 refuses anything else.
    func expand(prk: SecretBytes, label: String, info: [UInt8], length: Int) throws -> SecretBytes {
        guard let encodedLength = UInt16(exactly: length) else {
            throw HPKEError.invalidExportLength(length)
        }
        let labeledInfo =
            HPKESuite.bigEndian(encodedLength) + Self.version + suiteIdentifier + Array(label.utf8) + info
        return try HKDFSHA256.expand(prk: prk, info: labeledInfo, length: length)
    }

    private func extract(salt: [UInt8], label: String, ikmBytes: UnsafeRawBufferPointer) throws -> SecretBytes {
        let prefix = Self.version + suiteIdentifier + Array(label.utf8)
        let labeledIKM = SecretBytes(count: prefix.count + ikmBytes.count) { buffer in
            prefix.withUnsafeBytes { buffer.copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.count...]).copyMemory(from: ikmBytes)
        }
        return try HKDFSHA256.extract(salt: salt, ikm: labeledIKM)
    }
}
