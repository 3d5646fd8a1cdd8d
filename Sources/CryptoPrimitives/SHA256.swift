internal import CLibcrypto

/// SHA-256 (FIPS 180-4) of a whole message at once.
///
/// Hashing does not throw: with OpenSSL's default provider SHA-256 can fail only when memory runs out or
/// libcrypto is broken, and either stops the process with OpenSSL's reasons in the message.
public enum SHA256 {
    /// The length of a SHA-256 digest in bytes.
    public static let byteCount = 32

    /// Hashes the bytes of a buffer in one call into OpenSSL, the fastest path for large data.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        OpenSSL.beginOperation()
        return [UInt8](unsafeUninitializedCapacity: byteCount) { digest, initializedCount in
            var digestLength: UInt32 = 0
            let result = bytes.withNonNullBase { base, count in
                EVP_Digest(base, count, digest.baseAddress, &digestLength, EVP_sha256(), nil)
            }
            guard result == 1, digestLength == byteCount else {
                fatalError("\(CryptoError.library("EVP_Digest(SHA-256)"))")
            }
            initializedCount = byteCount
        }
    }

    /// Hashes a sequence of bytes; contiguous collections such as `[UInt8]` are handed to OpenSSL without a
    /// copy, anything else is gathered into an array first.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { hash($0) }
    }
}

/// An incremental SHA-256 computation, for data that arrives in pieces.
///
/// `copy()` snapshots the running state, so a hash chain can report the digest so far and keep going.
/// Not `Sendable`: the state changes with every `update`, so a hasher belongs to one task at a time.
public final class SHA256Hasher {
    private let context: DigestContext

    /// Starts a hash of the empty message.
    public init() {
        context = SHA256Hasher.makeContext { try DigestContext() }
        reset()
    }

    private init(context: DigestContext) {
        self.context = context
    }

    /// Adds the bytes of a buffer, handed to OpenSSL in one call.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else {
            return
        }
        OpenSSL.beginOperation()
        let result = context.withUnsafePointer { EVP_DigestUpdate($0, bytes.baseAddress, bytes.count) }
        guard result == 1 else {
            fatalError("\(CryptoError.library("EVP_DigestUpdate(SHA-256)"))")
        }
    }

    /// Adds a sequence of bytes; contiguous collections such as `[UInt8]` are not copied.
    public func update(_ bytes: some Sequence<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// Returns the digest of everything added so far and starts over with the empty message, so the hasher
    /// can be used again and can never be finalised twice by mistake.
    public func finalize() -> [UInt8] {
        OpenSSL.beginOperation()
        let digest = [UInt8](unsafeUninitializedCapacity: SHA256.byteCount) { digest, initializedCount in
            var digestLength: UInt32 = 0
            let result = context.withUnsafePointer { EVP_DigestFinal_ex($0, digest.baseAddress, &digestLength) }
            guard result == 1, digestLength == SHA256.byteCount else {
                fatalError("\(CryptoError.library("EVP_DigestFinal_ex(SHA-256)"))")
            }
            initializedCount = SHA256.byteCount
        }
        reset()
        return digest
    }

    /// Returns an independent hasher in the same state as this one.
    public func copy() -> SHA256Hasher {
        SHA256Hasher(context: SHA256Hasher.makeContext { try DigestContext(copying: context) })
    }

    private func reset() {
        OpenSSL.beginOperation()
        let result = context.withUnsafePointer { EVP_DigestInit_ex2($0, EVP_sha256(), nil) }
        guard result == 1 else {
            fatalError("\(CryptoError.library("EVP_DigestInit_ex2(SHA-256)"))")
        }
    }

    private static func makeContext(_ make: () throws -> DigestContext) -> DigestContext {
        OpenSSL.beginOperation()
        do {
            return try make()
        } catch {
            fatalError("\(error)")
        }
    }
}
