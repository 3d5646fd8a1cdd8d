/// An ECDSA signature on P-256: the integers r and s, each 32 big-endian bytes.
///
/// Three encodings meet here: the TPM's (two TPM2B_ECC_PARAMETERs), JOSE's raw r ‖ s (ES256), and the DER
/// `SEQUENCE { INTEGER r, INTEGER s }` that OpenSSL reads and writes.
public struct ECDSASignature: Sendable, Hashable {
    /// r, 32 bytes big-endian.
    public let r: [UInt8]
    /// s, 32 bytes big-endian.
    public let s: [UInt8]

    /// A signature from r and s; each is left-padded with zeros to 32 bytes, and leading zero bytes beyond 32
    /// are dropped, so that both the TPM's and DER's forms of the same integer are accepted.
    ///
    /// - Throws: `TPM2Error.malformedInput` when a value does not fit in 32 bytes.
    public init(r: [UInt8], s: [UInt8]) throws(TPM2Error) {
        self.r = try Self.normalized(r, name: "r")
        self.s = try Self.normalized(s, name: "s")
    }

    /// A signature from its raw form r ‖ s (64 bytes), as in a JWS signed with ES256.
    ///
    /// - Throws: `TPM2Error.malformedInput` for any other length.
    public init(raw: [UInt8]) throws(TPM2Error) {
        guard raw.count == 64 else {
            throw .malformedInput("a raw P-256 ECDSA signature is 64 bytes (r ‖ s), not \(raw.count)")
        }
        try self.init(r: Array(raw[0..<32]), s: Array(raw[32..<64]))
    }

    /// A signature from strict DER (`openssl pkeyutl -sign` output): one SEQUENCE of two minimal, positive,
    /// non-zero INTEGERs below the group order, nothing else and nothing after it.
    ///
    /// - Throws: `TPM2Error.malformedInput` naming what is wrong.
    public init(der: [UInt8]) throws(TPM2Error) {
        var reader = ByteReader(der, structure: "the DER ECDSA signature")
        guard try reader.readUInt8(field: "the SEQUENCE tag") == 0x30 else {
            throw .malformedInput("a DER ECDSA signature starts with a SEQUENCE (30)")
        }
        let length = Int(try reader.readUInt8(field: "the SEQUENCE length"))
        guard length < 0x80, length == der.count - 2 else {
            throw .malformedInput(
                "the DER ECDSA signature's SEQUENCE length does not match its \(der.count) bytes (short form only)"
            )
        }
        let r = try Self.readInteger(&reader, name: "r")
        let s = try Self.readInteger(&reader, name: "s")
        try reader.expectEnd()
        try self.init(r: r, s: s)
        for (name, value) in [("r", self.r), ("s", self.s)] {
            guard value.contains(where: { $0 != 0 }), value.lexicographicallyPrecedes(Self.groupOrder) else {
                throw .malformedInput("ECDSA's \(name) must lie in 1...n-1 of P-256")
            }
        }
    }

    /// r ‖ s, 64 bytes: JOSE's ES256 form.
    public var raw: [UInt8] {
        r + s
    }

    /// DER `SEQUENCE { INTEGER r, INTEGER s }`, as OpenSSL and X.509 expect.
    public var der: [UInt8] {
        let body = Self.encodeInteger(r) + Self.encodeInteger(s)
        return [0x30, UInt8(body.count)] + body
    }

    /// n, the order of P-256's base point.
    private static let groupOrder: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    private static func normalized(_ value: [UInt8], name: String) throws(TPM2Error) -> [UInt8] {
        let significant = value.drop { $0 == 0 }
        guard significant.count <= 32 else {
            throw .malformedInput("ECDSA's \(name) on P-256 fits in 32 bytes; this one has \(significant.count)")
        }
        return [UInt8](repeating: 0, count: 32 - significant.count) + significant
    }

    private static func readInteger(_ reader: inout ByteReader, name: String) throws(TPM2Error) -> [UInt8] {
        guard try reader.readUInt8(field: "the INTEGER tag of \(name)") == 0x02 else {
            throw .malformedInput("\(name) of a DER ECDSA signature must be an INTEGER (02)")
        }
        let length = Int(try reader.readUInt8(field: "the length of \(name)"))
        guard (1...33).contains(length) else {
            throw .malformedInput("\(name) of a P-256 DER ECDSA signature has 1 to 33 bytes, not \(length)")
        }
        let value = try reader.readBytes(length, field: name)
        guard value[0] & 0x80 == 0 else {
            throw .malformedInput("\(name) of a DER ECDSA signature is negative")
        }
        guard value.count == 1 || value[0] != 0 || value[1] & 0x80 != 0 else {
            throw .malformedInput("\(name) of a DER ECDSA signature has a superfluous leading zero (not DER)")
        }
        return value
    }

    private static func encodeInteger(_ value: [UInt8]) -> [UInt8] {
        var minimal = Array(value.drop { $0 == 0 })
        if minimal.isEmpty || minimal[0] & 0x80 != 0 { minimal.insert(0, at: 0) }
        return [0x02, UInt8(minimal.count)] + minimal
    }
}
