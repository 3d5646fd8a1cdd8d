internal import CLibcrypto

/// OpenSSL's in-memory `BIO`s, through which its PEM reader sees bytes: each exists only for one call.
enum MemoryBIO {
    /// Gives `body` a read-only BIO over `bytes`, which OpenSSL reads in place (nothing is copied).
    static func reading<R>(_ bytes: UnsafeRawBufferPointer, _ body: (OpaquePointer) throws -> R) throws -> R {
        guard bytes.count <= Int(Int32.max) else {
            throw CryptoError.invalidArgument("\(bytes.count) bytes are more than OpenSSL reads from memory at once")
        }
        let bio = bytes.withNonNullBase { base, count in BIO_new_mem_buf(base, Int32(count)) }
        guard let bio else { throw CryptoError.library("BIO_new_mem_buf") }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}
