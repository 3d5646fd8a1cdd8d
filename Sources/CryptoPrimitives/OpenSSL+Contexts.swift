internal import CLibcrypto

/// Owns one OpenSSL `EVP_MD_CTX`: the running state of a hash, or of an Ed25519 signing or verification.
///
/// Not thread-safe: an `EVP_MD_CTX` is mutated by every call on it.
final class DigestContext {
    private let pointer: OpaquePointer

    /// Allocates an empty context.
    init() throws {
        guard let pointer = EVP_MD_CTX_new() else {
            throw CryptoError.library("EVP_MD_CTX_new")
        }
        self.pointer = pointer
    }

    /// Allocates a context holding a copy of `other`'s state, so that the two continue independently.
    init(copying other: DigestContext) throws {
        guard let pointer = EVP_MD_CTX_new() else {
            throw CryptoError.library("EVP_MD_CTX_new")
        }
        guard EVP_MD_CTX_copy_ex(pointer, other.pointer) == 1 else {
            EVP_MD_CTX_free(pointer)
            throw CryptoError.library("EVP_MD_CTX_copy_ex")
        }
        self.pointer = pointer
    }

    deinit {
        EVP_MD_CTX_free(pointer)
    }

    /// Gives `body` the context; the pointer must not escape it.
    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }
}

/// Owns one OpenSSL `EVP_CIPHER_CTX`, the state of one encryption or decryption.
///
/// Not thread-safe: every call mutates it. Each seal or open makes its own, so the public API has no shared
/// cipher state at all.
final class CipherContext {
    private let pointer: OpaquePointer

    /// Allocates an empty context.
    init() throws {
        guard let pointer = EVP_CIPHER_CTX_new() else {
            throw CryptoError.library("EVP_CIPHER_CTX_new")
        }
        self.pointer = pointer
    }

    deinit {
        // Also wipes the expanded AES key schedule held in the context.
        EVP_CIPHER_CTX_free(pointer)
    }

    /// Gives `body` the context; the pointer must not escape it.
    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }
}

/// Owns one OpenSSL `EVP_KDF_CTX`, an instance of a key derivation function fetched by name.
///
/// Not thread-safe: deriving mutates the context. Each derivation makes its own.
final class KDFContext {
    private let pointer: OpaquePointer

    /// Fetches the algorithm `name` (for example "HKDF") from the default library context.
    init(algorithm name: String) throws {
        guard let kdf = EVP_KDF_fetch(nil, name, nil) else {
            throw CryptoError.library("EVP_KDF_fetch(\(name))")
        }
        // The context holds its own reference to the algorithm.
        defer { EVP_KDF_free(kdf) }
        guard let pointer = EVP_KDF_CTX_new(kdf) else {
            throw CryptoError.library("EVP_KDF_CTX_new(\(name))")
        }
        self.pointer = pointer
    }

    deinit {
        EVP_KDF_CTX_free(pointer)
    }

    /// Gives `body` the context; the pointer must not escape it.
    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }
}
