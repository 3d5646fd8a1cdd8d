/// P-256 private key files in PEM, read and written here rather than by OpenSSL's PEM and DER coders, whose working
/// copies of the decoded key would outlive the read in ordinary heap memory that a core dump shows (OpenSSL 3's PEM
/// decoder frees the decoded DER with a plain `OPENSSL_free`: providers/implementations/encode_decode/
/// decode_pem2der.c). Every byte of the key passes only through ``SecretBytes``; OpenSSL receives the
/// private scalar alone, which it keeps in its secure heap.
///
/// Read: an unencrypted PKCS#8 `PRIVATE KEY` (RFC 5208, 5958) or SEC 1 `EC PRIVATE KEY` (RFC 5915) block of a P-256
/// key that carries its public key, as OpenSSL and most tools write them. Written: PKCS#8, exactly as OpenSSL
/// writes it (`openssl genpkey`), so that either can read the other's files.
enum ECPrivateKeyPEM {
    /// The private scalar (big-endian, 32 bytes) and the public point as the file encodes it.
    struct Decoded {
        var scalar: SecretBytes
        var point: [UInt8]
    }

    private static let pkcs8Label = "PRIVATE KEY"
    private static let sec1Label = "EC PRIVATE KEY"
    private static let idECPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    private static let prime256v1: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]

    /// Finds the key's block in `pem`, decodes it, and takes the scalar and the point out of it.
    static func decode(_ pem: UnsafeRawBufferPointer) throws -> Decoded {
        for label in [pkcs8Label, sec1Label] {
            guard let body = try Self.body(of: label, in: pem) else { continue }
            let der = try Base64.decodeSecret(body)
            return try der.withUnsafeBytes { der in
                var outer = DERReader(der)
                let sequence = try outer.read(DERReader.sequence)
                guard outer.isAtEnd else { throw malformed("bytes follow the key") }
                return label == pkcs8Label ? try privateKeyInfo(sequence) : try ecPrivateKey(sequence, curve: nil)
            }
        }
        throw malformed("there is no -----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY----- block")
    }

    /// The PKCS#8 PEM block of a P-256 key: the scalar (big-endian, 32 bytes) and the uncompressed point.
    static func encode(scalar: SecretBytes, point: [UInt8]) -> SecretBytes {
        precondition(scalar.count == 32 && point.count == 65, "a P-256 scalar and an uncompressed point")
        // PrivateKeyInfo { 0, { id-ecPublicKey, prime256v1 }, OCTET STRING { ECPrivateKey { 1, scalar, [1] point } } }
        let head: [UInt8] =
            [0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07] + idECPublicKey + [0x06, 0x08] + prime256v1
            + [0x04, 0x6D, 0x30, 0x6B, 0x02, 0x01, 0x01, 0x04, 0x20]
        let tail: [UInt8] = [0xA1, 0x44, 0x03, 0x42, 0x00] + point
        let der = SecretBytes(count: head.count + 32 + tail.count) { der in
            der.copyBytes(from: head)
            scalar.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: der[head.count...]).copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: der[(head.count + 32)...]).copyBytes(from: tail)
        }
        return der.withUnsafeBytes { Base64.encodeSecretPEM($0, label: pkcs8Label) }
    }

    /// The bytes between `-----BEGIN label-----` and `-----END label-----`, or nil without such a block.
    private static func body(of label: String, in pem: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        let begin = Array("-----BEGIN \(label)-----".utf8)
        let end = Array("-----END \(label)-----".utf8)
        guard let start = pem.firstIndex(of: begin, from: 0) else { return nil }
        let bodyStart = start + begin.count
        guard let stop = pem.firstIndex(of: end, from: bodyStart) else {
            throw malformed("the \(label) block has no end line")
        }
        let body = UnsafeRawBufferPointer(rebasing: pem[bodyStart..<stop])
        // PEM headers (Proc-Type, DEK-Info) come only with an encrypted key.
        guard !body.contains(UInt8(ascii: ":")) else {
            throw malformed("the key is encrypted; give it unencrypted (openssl pkey -in KEY -out PLAIN)")
        }
        return body
    }

    /// PrivateKeyInfo (RFC 5958): a version, the algorithm (EC on P-256), and the ECPrivateKey in an OCTET STRING.
    private static func privateKeyInfo(_ content: UnsafeRawBufferPointer) throws -> Decoded {
        var reader = DERReader(content)
        let version = try reader.read(DERReader.integer)
        guard version.count == 1, version[0] <= 1 else { throw malformed("unknown PKCS#8 version") }
        var algorithm = DERReader(try reader.read(DERReader.sequence))
        guard try algorithm.read(DERReader.objectIdentifier).elementsEqual(idECPublicKey) else {
            throw malformed("the key is not an elliptic-curve key")
        }
        let curve = try algorithm.read(DERReader.objectIdentifier)
        guard curve.elementsEqual(prime256v1) else { throw malformed("the key's curve is not P-256 (prime256v1)") }
        var inner = DERReader(try reader.read(DERReader.octetString))
        // Attributes and a second copy of the public key (PKCS#8 v2) may follow; the ECPrivateKey holds all we need.
        let key = try inner.read(DERReader.sequence)
        guard inner.isAtEnd else { throw malformed("bytes follow the ECPrivateKey") }
        return try ecPrivateKey(key, curve: curve)
    }

    /// ECPrivateKey (RFC 5915): version 1, the scalar, the curve (which `curve`, from PKCS#8, may stand for), the
    /// public key.
    private static func ecPrivateKey(
        _ content: UnsafeRawBufferPointer, curve: UnsafeRawBufferPointer?
    ) throws -> Decoded {
        var reader = DERReader(content)
        guard try reader.read(DERReader.integer).elementsEqual([1]) else { throw malformed("unknown SEC 1 version") }
        let scalar = try reader.read(DERReader.octetString)
        guard scalar.count == 32 else { throw malformed("the private key is \(scalar.count) bytes, not 32") }
        var named = curve
        if reader.nextTag == 0xA0 {
            var parameters = DERReader(try reader.read(0xA0))
            named = try parameters.read(DERReader.objectIdentifier)
        }
        guard let named, named.elementsEqual(prime256v1) else {
            throw malformed("the key's curve is not named P-256 (prime256v1)")
        }
        guard reader.nextTag == 0xA1 else {
            throw malformed("the key carries no public key; rewrite it with openssl pkey -in KEY -out KEY.pem")
        }
        var publicKey = DERReader(try reader.read(0xA1))
        let bits = try publicKey.read(DERReader.bitString)
        guard bits.count > 1, bits[0] == 0 else { throw malformed("the public key is not a whole number of bytes") }
        guard reader.isAtEnd else { throw malformed("bytes follow the public key") }
        guard scalar.contains(where: { $0 != 0 }), scalar.lexicographicallyPrecedes(ECDSASignatureEncoding.order)
        else {
            throw malformed("the private key is not a number from 1 to n - 1")
        }
        return Decoded(scalar: SecretBytes(count: 32) { $0.copyMemory(from: scalar) }, point: Array(bits.dropFirst()))
    }

    private static func malformed(_ reason: String, file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError.invalidArgument("not a P-256 private key in PEM: \(reason)", file: file, line: line)
    }
}

/// Reads DER elements of a key file in place: tag, definite length (short form, or long form of one or two bytes),
/// content. Only bounds are its business; what each element means is the caller's.
struct DERReader {
    static let integer: UInt8 = 0x02
    static let bitString: UInt8 = 0x03
    static let octetString: UInt8 = 0x04
    static let objectIdentifier: UInt8 = 0x06
    static let sequence: UInt8 = 0x30

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index == bytes.count }

    var nextTag: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// The content of the next element, which must have `tag`.
    mutating func read(_ tag: UInt8) throws -> UnsafeRawBufferPointer {
        guard index + 2 <= bytes.count, bytes[index] == tag else {
            throw CryptoError.invalidArgument("not a P-256 private key in PEM: expected DER tag \(tag)")
        }
        var start = index + 2
        var length = Int(bytes[index + 1])
        if length >= 0x80 {
            let lengthBytes = length - 0x80
            guard (1...2).contains(lengthBytes), start + lengthBytes <= bytes.count else {
                throw CryptoError.invalidArgument("not a P-256 private key in PEM: a DER length is out of range")
            }
            length = bytes[start..<(start + lengthBytes)].reduce(0) { $0 << 8 | Int($1) }
            start += lengthBytes
        }
        guard length <= bytes.count - start else {
            throw CryptoError.invalidArgument("not a P-256 private key in PEM: a DER element is cut short")
        }
        index = start + length
        return UnsafeRawBufferPointer(rebasing: bytes[start..<index])
    }
}

extension UnsafeRawBufferPointer {
    /// Where `pattern` first occurs at or after `start`.
    func firstIndex(of pattern: [UInt8], from start: Int) -> Int? {
        guard pattern.count <= count else { return nil }
        return (start..<(count - pattern.count + 1)).first { index in
            pattern.indices.allSatisfy { self[index + $0] == pattern[$0] }
        }
    }
}
