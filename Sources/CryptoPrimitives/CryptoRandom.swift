internal import CLibcrypto

/// Cryptographically secure random bytes from OpenSSL's DRBG, which is seeded from the kernel.
public enum CryptoRandom {
    /// The largest request handed to OpenSSL in one call, whose length parameter is a C `int`.
    private static let maximumChunkByteCount = 1 << 30

    /// Returns `count` random bytes for public values: nonces, salts, identifiers.
    ///
    /// - Throws: `CryptoError` if `count` is negative or OpenSSL's generator cannot be seeded.
    public static func bytes(count: Int) throws -> [UInt8] {
        guard count >= 0 else {
            throw CryptoError.invalidArgument("random byte count \(count) is negative")
        }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            try fill(UnsafeMutableRawBufferPointer(buffer), secret: false)
            initializedCount = count
        }
    }

    /// Returns `count` random bytes written straight into locked memory, for keys and seeds.
    ///
    /// Uses OpenSSL's private generator (`RAND_priv_bytes`), which is kept apart from the one that makes
    /// public values, so that seeing nonces reveals nothing about its state.
    ///
    /// - Throws: `CryptoError` if `count` is negative or OpenSSL's generator cannot be seeded.
    public static func secretBytes(count: Int) throws -> SecretBytes {
        guard count >= 0 else {
            throw CryptoError.invalidArgument("random byte count \(count) is negative")
        }
        return try SecretBytes(count: count) { try fill($0, secret: true) }
    }

    private static func fill(_ buffer: UnsafeMutableRawBufferPointer, secret: Bool) throws {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return
        }
        OpenSSL.beginOperation()
        var offset = 0
        while offset < buffer.count {
            let length = min(maximumChunkByteCount, buffer.count - offset)
            if secret {
                try OpenSSL.check(RAND_priv_bytes(base + offset, Int32(length)), "RAND_priv_bytes")
            } else {
                try OpenSSL.check(RAND_bytes(base + offset, Int32(length)), "RAND_bytes")
            }
            offset += length
        }
    }
}
