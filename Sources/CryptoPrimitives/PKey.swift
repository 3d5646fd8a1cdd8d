internal import CLibcrypto

/// The OpenSSL names of the key types CryptoPrimitives uses.
enum PKeyType: String {
    case x25519 = "X25519"
    case ed25519 = "ED25519"

    /// The length of both the raw private and the raw public key of these curves.
    static let rawByteCount = 32
}

/// Owns one OpenSSL `EVP_PKEY`, a private or public X25519, Ed25519 or P-256 key.
///
/// The key is never modified after init. OpenSSL 3 allows such an `EVP_PKEY` to be used from several threads
/// at once (openssl-threads(7)), because every operation works in a context of its own.
final class PKey {
    private let pointer: OpaquePointer

    /// Imports a raw private key; OpenSSL computes the public key from it.
    init(type: PKeyType, privateKey: SecretBytes) throws {
        OpenSSL.beginOperation()
        let pointer = privateKey.withUnsafeBytes { bytes in
            EVP_PKEY_new_raw_private_key_ex(
                nil,
                type.rawValue,
                nil,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                bytes.count
            )
        }
        guard let pointer else {
            throw CryptoError.library("EVP_PKEY_new_raw_private_key_ex(\(type.rawValue))")
        }
        self.pointer = pointer
    }

    /// Imports a raw public key.
    init(type: PKeyType, publicKey: [UInt8]) throws {
        OpenSSL.beginOperation()
        let pointer = publicKey.withUnsafeBytes { bytes in
            EVP_PKEY_new_raw_public_key_ex(
                nil,
                type.rawValue,
                nil,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                bytes.count
            )
        }
        guard let pointer else {
            throw CryptoError.library("EVP_PKEY_new_raw_public_key_ex(\(type.rawValue))")
        }
        self.pointer = pointer
    }

    /// Takes ownership of a key that OpenSSL made (generated, decoded or imported); `deinit` frees it.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// The raw public key, as RFC 7748 and RFC 8032 encode it.
    func rawPublicKey() throws -> [UInt8] {
        OpenSSL.beginOperation()
        var length = PKeyType.rawByteCount
        var bytes = [UInt8](repeating: 0, count: length)
        try OpenSSL.check(EVP_PKEY_get_raw_public_key(pointer, &bytes, &length), "EVP_PKEY_get_raw_public_key")
        guard length == PKeyType.rawByteCount else {
            throw CryptoError.library("EVP_PKEY_get_raw_public_key returned \(length) bytes")
        }
        return bytes
    }

    /// Gives `body` the key; the pointer must not escape it.
    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }
}

/// Owns one OpenSSL `EVP_PKEY_CTX`, the state of one key agreement, generation, import or check.
///
/// Not thread-safe; each operation makes its own.
final class PKeyContext {
    private let pointer: OpaquePointer

    /// Creates a context for an operation that makes a key of the algorithm `name` (for example "EC").
    init(algorithm name: String) throws {
        guard let pointer = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw CryptoError.library("EVP_PKEY_CTX_new_from_name(\(name))")
        }
        self.pointer = pointer
    }

    /// Creates a context for an operation with `key`, which the context keeps alive through its own reference.
    init(key: PKey) throws {
        guard let pointer = key.withUnsafePointer({ EVP_PKEY_CTX_new_from_pkey(nil, $0, nil) }) else {
            throw CryptoError.library("EVP_PKEY_CTX_new_from_pkey")
        }
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_CTX_free(pointer)
    }

    /// Gives `body` the context; the pointer must not escape it.
    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }
}
