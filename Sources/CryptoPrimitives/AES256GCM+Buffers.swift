internal import CLibcrypto

extension AES256GCM {
    /// The most bytes handed to OpenSSL in one update, whose length parameter is a C `int`.
    static let maximumChunkByteCount = 1 << 30

    /// Encrypts `plaintext` into `output` without intermediate copies, for large segments.
    ///
    /// `output` must be exactly as long as `plaintext`; it may be the same memory (in-place), but must not
    /// partially overlap it.
    ///
    /// - Returns: the 16-byte tag.
    /// - Throws: `CryptoError.invalidArgument` for bad lengths or overlapping buffers, or `CryptoError` if
    ///   OpenSSL fails.
    public static func seal(
        key: SecretBytes,
        nonce: [UInt8],
        plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer,
        additionalData: [UInt8]
    ) throws -> [UInt8] {
        try process(
            encrypting: true,
            key: key,
            nonce: nonce,
            input: plaintext,
            output: output,
            additionalData: additionalData,
            tag: nil
        )
    }

    /// Verifies and decrypts `ciphertext` into `output` without intermediate copies, for large segments.
    ///
    /// `output` must be exactly as long as `ciphertext`; it may be the same memory, but must not partially
    /// overlap it. If anything fails, `output` is overwritten with zeros, so unauthenticated plaintext is never
    /// left behind.
    ///
    /// - Throws: `CryptoError.authenticationFailure()` if the data does not verify, `CryptoError.invalidArgument`
    ///   for bad lengths or overlapping buffers, or `CryptoError` if OpenSSL fails.
    public static func open(
        key: SecretBytes,
        nonce: [UInt8],
        ciphertext: UnsafeRawBufferPointer,
        tag: [UInt8],
        into output: UnsafeMutableRawBufferPointer,
        additionalData: [UInt8]
    ) throws {
        _ = try process(
            encrypting: false,
            key: key,
            nonce: nonce,
            input: ciphertext,
            output: output,
            additionalData: additionalData,
            tag: tag
        )
    }

    /// Encrypts `buffer` in place and returns the 16-byte tag.
    ///
    /// - Throws: as `seal(key:nonce:plaintext:into:additionalData:)`.
    public static func sealInPlace(
        key: SecretBytes,
        nonce: [UInt8],
        buffer: UnsafeMutableRawBufferPointer,
        additionalData: [UInt8]
    ) throws -> [UInt8] {
        try seal(
            key: key, nonce: nonce, plaintext: UnsafeRawBufferPointer(buffer), into: buffer,
            additionalData: additionalData)
    }

    /// Verifies and decrypts `buffer` in place; on any failure the buffer is overwritten with zeros.
    ///
    /// - Throws: as `open(key:nonce:ciphertext:tag:into:additionalData:)`.
    public static func openInPlace(
        key: SecretBytes,
        nonce: [UInt8],
        buffer: UnsafeMutableRawBufferPointer,
        tag: [UInt8],
        additionalData: [UInt8]
    ) throws {
        try open(
            key: key, nonce: nonce, ciphertext: UnsafeRawBufferPointer(buffer), tag: tag, into: buffer,
            additionalData: additionalData)
    }

    /// Runs one seal or open. Decryption wipes `output` on any failure, because GCM decrypts before it can
    /// check the tag.
    ///
    /// - Returns: the tag when encrypting, an empty array when decrypting.
    static func process(
        encrypting: Bool,
        key: SecretBytes,
        nonce: [UInt8],
        input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawBufferPointer,
        additionalData: [UInt8],
        tag expectedTag: [UInt8]?,
        chunkByteCount: Int = maximumChunkByteCount
    ) throws -> [UInt8] {
        try validate(key: key, nonce: nonce, tag: expectedTag)
        try validate(input: input, output: output)
        OpenSSL.beginOperation()
        let context = try CipherContext()
        do {
            return try context.withUnsafePointer { context in
                let operation = encrypting ? "seal" : "open"
                let initialised = key.withUnsafeBytes { key in
                    nonce.withUnsafeBytes { nonce in
                        EVP_CipherInit_ex2(
                            context,
                            EVP_aes_256_gcm(),
                            key.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            encrypting ? 1 : 0,
                            nil
                        )
                    }
                }
                try OpenSSL.check(initialised, "EVP_CipherInit_ex2(AES-256-GCM \(operation))")
                try additionalData.withUnsafeBytes { additionalData in
                    try update(context, input: additionalData, output: nil, chunkByteCount: chunkByteCount)
                }
                try update(context, input: input, output: output.baseAddress, chunkByteCount: chunkByteCount)
                return try finish(context, expectedTag: expectedTag)
            }
        } catch {
            if !encrypting, let base = output.baseAddress {
                OPENSSL_cleanse(base, output.count)
            }
            throw error
        }
    }

    /// Feeds `input` to the cipher in pieces that fit a C `int`; with no `output`, the input is additional
    /// data.
    private static func update(
        _ context: OpaquePointer,
        input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawPointer?,
        chunkByteCount: Int
    ) throws {
        guard let source = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return
        }
        let destination = output?.assumingMemoryBound(to: UInt8.self)
        var offset = 0
        while offset < input.count {
            let length = min(chunkByteCount, input.count - offset)
            var written: Int32 = 0
            let result = EVP_CipherUpdate(
                context, destination.map { $0 + offset }, &written, source + offset,
                Int32(length))
            try OpenSSL.check(result, "EVP_CipherUpdate(AES-256-GCM)")
            guard destination == nil || Int(written) == length else {
                throw CryptoError.library("EVP_CipherUpdate(AES-256-GCM) wrote \(written) of \(length) bytes")
            }
            offset += length
        }
    }

    /// Completes the operation: sets and checks the expected tag when decrypting, reads the tag when
    /// encrypting.
    private static func finish(_ context: OpaquePointer, expectedTag: [UInt8]?) throws -> [UInt8] {
        // GCM is a stream mode and writes nothing here, but OpenSSL still wants somewhere it could write.
        var trailing = [UInt8](repeating: 0, count: 2 * tagByteCount)
        var written: Int32 = 0
        guard let expectedTag else {
            try OpenSSL.check(EVP_CipherFinal_ex(context, &trailing, &written), "EVP_CipherFinal_ex(AES-256-GCM)")
            var tag = [UInt8](repeating: 0, count: tagByteCount)
            let result = EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagByteCount), &tag)
            try OpenSSL.check(result, "EVP_CIPHER_CTX_ctrl(AEAD_GET_TAG)")
            return tag
        }
        var tag = expectedTag
        try OpenSSL.check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagByteCount), &tag),
            "EVP_CIPHER_CTX_ctrl(AEAD_SET_TAG)"
        )
        guard EVP_CipherFinal_ex(context, &trailing, &written) == 1 else {
            // A tag mismatch is the expected way for this to fail; it is an answer, not an OpenSSL fault.
            ERR_clear_error()
            throw CryptoError.authenticationFailure()
        }
        return []
    }

    /// Rejects outputs of the wrong size and partially overlapping buffers, which OpenSSL would corrupt.
    private static func validate(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws {
        guard output.count == input.count else {
            throw CryptoError.invalidArgument(
                "AES-256-GCM output buffer must be as long as the input (\(input.count) bytes), got \(output.count)"
            )
        }
        guard let source = input.baseAddress, let target = output.baseAddress.map(UnsafeRawPointer.init),
            source != target
        else {
            return
        }
        guard source + input.count <= target || target + output.count <= source else {
            throw CryptoError.invalidArgument(
                "AES-256-GCM input and output buffers partially overlap; use the same buffer or separate ones"
            )
        }
    }
}
