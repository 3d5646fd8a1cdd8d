internal import CLibcrypto

/// HKDF with SHA-256 (RFC 5869), through OpenSSL's "HKDF" KDF.
///
/// Extract and Expand are separate steps because RFC 9180 (HPKE) labels each of them on its own; `deriveKey`
/// does both for the common case.
public enum HKDFSHA256 {
    /// The length of a pseudorandom key made by `extract`: one SHA-256 output.
    public static let pseudorandomKeyByteCount = 32

    /// The longest output `expand` can make: 255 SHA-256 blocks (RFC 5869 section 2.3).
    public static let maximumOutputByteCount = 255 * 32

    /// HKDF-Extract: concentrates the entropy of `ikm` into a 32-byte pseudorandom key.
    ///
    /// - Parameters:
    ///   - salt: a non-secret random value, or empty, which RFC 5869 treats as 32 zero bytes.
    ///   - ikm: the input keying material, for example an X25519 shared secret.
    /// - Throws: `CryptoError` if OpenSSL fails.
    public static func extract(salt: [UInt8], ikm: SecretBytes) throws -> SecretBytes {
        try ikm.withUnsafeBytes { ikm in
            try salt.withUnsafeBytes { salt in
                try derive(
                    mode: EVP_KDF_HKDF_MODE_EXTRACT_ONLY,
                    key: ikm,
                    salt: salt,
                    info: nil,
                    length: pseudorandomKeyByteCount
                )
            }
        }
    }

    /// HKDF-Expand: stretches a pseudorandom key into `length` bytes bound to `info`.
    ///
    /// - Parameters:
    ///   - prk: a pseudorandom key of at least 32 bytes, usually the result of `extract`.
    ///   - info: context that binds the output to its purpose; may be empty.
    ///   - length: 1 to `maximumOutputByteCount` bytes.
    /// - Throws: `CryptoError.invalidArgument` for a bad length or a short `prk`, or `CryptoError` if OpenSSL
    ///   fails.
    public static func expand(prk: SecretBytes, info: [UInt8], length: Int) throws -> SecretBytes {
        guard prk.count >= pseudorandomKeyByteCount else {
            throw CryptoError.invalidArgument(
                "HKDF-Expand needs a pseudorandom key of at least \(pseudorandomKeyByteCount) bytes, got "
                    + "\(prk.count); run HKDF-Extract first"
            )
        }
        return try prk.withUnsafeBytes { prk in
            try info.withUnsafeBytes { info in
                try derive(mode: EVP_KDF_HKDF_MODE_EXPAND_ONLY, key: prk, salt: nil, info: info, length: length)
            }
        }
    }

    /// HKDF-Extract followed by HKDF-Expand, in one call into OpenSSL.
    ///
    /// - Throws: `CryptoError.invalidArgument` for a bad length, or `CryptoError` if OpenSSL fails.
    public static func deriveKey(
        ikm: SecretBytes,
        salt: [UInt8],
        info: [UInt8],
        length: Int
    ) throws -> SecretBytes {
        try ikm.withUnsafeBytes { ikm in
            try salt.withUnsafeBytes { salt in
                try info.withUnsafeBytes { info in
                    try derive(
                        mode: EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND,
                        key: ikm,
                        salt: salt,
                        info: info,
                        length: length
                    )
                }
            }
        }
    }

    /// Runs OpenSSL's HKDF in `mode`, writing the output straight into locked memory.
    ///
    /// An empty salt is left out rather than passed as zero bytes: OpenSSL then uses no HMAC key, which HMAC
    /// pads to the same 32 zero bytes that RFC 5869 prescribes.
    private static func derive(
        mode: Int32,
        key: UnsafeRawBufferPointer,
        salt: UnsafeRawBufferPointer?,
        info: UnsafeRawBufferPointer?,
        length: Int
    ) throws -> SecretBytes {
        guard (1...maximumOutputByteCount).contains(length) else {
            throw CryptoError.invalidArgument(
                "HKDF-SHA256 output length must be 1 to \(maximumOutputByteCount) bytes, got \(length)"
            )
        }
        var parameters: [OSSLParameter] = [
            .utf8String(key: OSSL_KDF_PARAM_DIGEST, value: "SHA256"),
            .integer(key: OSSL_KDF_PARAM_MODE, value: mode),
            .octetString(key: OSSL_KDF_PARAM_KEY, value: key),
        ]
        if let salt, salt.count > 0 {
            parameters.append(.octetString(key: OSSL_KDF_PARAM_SALT, value: salt))
        }
        if let info, info.count > 0 {
            parameters.append(.octetString(key: OSSL_KDF_PARAM_INFO, value: info))
        }
        OpenSSL.beginOperation()
        let context = try KDFContext(algorithm: "HKDF")
        return try SecretBytes(count: length) { output in
            let result = withOSSLParameters(parameters) { parameters in
                context.withUnsafePointer { context in
                    EVP_KDF_derive(
                        context,
                        output.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        output.count,
                        parameters
                    )
                }
            }
            try OpenSSL.check(result, "EVP_KDF_derive(HKDF-SHA256)")
        }
    }
}
