internal import CLibcrypto

/// The OpenSSL side of P-256 keys: import, generation, and reading the curve and the public point back.
extension PKey {
    /// The length of a P-256 coordinate or private scalar.
    static let p256ScalarByteCount = 32

    /// EVP_PKEY_PUBLIC_KEY, spelled out: Swift does not import a macro made of other macros.
    private static let publicKeySelection =
        OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS | OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS | OSSL_KEYMGMT_SELECT_PUBLIC_KEY

    /// Imports a public key from its uncompressed point. OpenSSL refuses coordinates outside the field and points
    /// off the curve, and the public-key check refuses what is left of the invalid (the point at infinity).
    static func p256PublicKey(uncompressed point: [UInt8]) throws -> PKey {
        OpenSSL.beginOperation()
        let context = try PKeyContext(algorithm: "EC")
        let key = try context.withUnsafePointer { context in
            try OpenSSL.check(EVP_PKEY_fromdata_init(context), "EVP_PKEY_fromdata_init(EC)")
            var key: OpaquePointer? = nil
            let result = point.withUnsafeBytes { point in
                withOSSLParameters([
                    .utf8String(key: OSSL_PKEY_PARAM_GROUP_NAME, value: "P-256"),
                    .octetString(key: OSSL_PKEY_PARAM_PUB_KEY, value: point),
                ]) { parameters in
                    EVP_PKEY_fromdata(context, &key, publicKeySelection, parameters)
                }
            }
            try OpenSSL.check(result, "EVP_PKEY_fromdata(P-256 public key)")
            guard let key else { throw CryptoError.library("EVP_PKEY_fromdata(P-256 public key)") }
            return PKey(taking: key)
        }
        let check = try PKeyContext(key: key)
        try OpenSSL.check(check.withUnsafePointer { EVP_PKEY_public_check($0) }, "EVP_PKEY_public_check(P-256)")
        return key
    }

    /// EVP_PKEY_KEYPAIR, spelled out for the same reason.
    private static let keyPairSelection = publicKeySelection | OSSL_KEYMGMT_SELECT_PRIVATE_KEY

    /// Imports a key pair: the private scalar (big-endian, 32 bytes) and the public point, which must belong to
    /// it. OpenSSL copies the scalar into its secure heap; the little-endian copy it reads from is locked and wiped.
    static func p256PrivateKey(scalar: SecretBytes, point: [UInt8]) throws -> PKey {
        OpenSSL.beginOperation()
        // OpenSSL reads numbers in the machine's byte order (little-endian on the machines we build for).
        let native = SecretBytes(count: scalar.count) { native in
            scalar.withUnsafeBytes { scalar in
                for index in 0..<scalar.count { native[index] = scalar[scalar.count - 1 - index] }
            }
        }
        let context = try PKeyContext(algorithm: "EC")
        let key = try context.withUnsafePointer { context in
            try OpenSSL.check(EVP_PKEY_fromdata_init(context), "EVP_PKEY_fromdata_init(EC)")
            var key: OpaquePointer? = nil
            let result = native.withUnsafeBytes { native in
                point.withUnsafeBytes { point in
                    // The scalar is only read by OpenSSL, despite the mutable pointer.
                    let scalar = UnsafeMutableRawBufferPointer(mutating: native)
                    return withOSSLParameters([
                        .utf8String(key: OSSL_PKEY_PARAM_GROUP_NAME, value: "P-256"),
                        .octetString(key: OSSL_PKEY_PARAM_PUB_KEY, value: point),
                        .unsignedInteger(key: OSSL_PKEY_PARAM_PRIV_KEY, value: scalar),
                    ]) { parameters in
                        EVP_PKEY_fromdata(context, &key, keyPairSelection, parameters)
                    }
                }
            }
            try OpenSSL.check(result, "EVP_PKEY_fromdata(P-256 key pair)")
            guard let key else { throw CryptoError.library("EVP_PKEY_fromdata(P-256 key pair)") }
            return PKey(taking: key)
        }
        let check = try PKeyContext(key: key)
        try check.withUnsafePointer { context in
            try OpenSSL.check(EVP_PKEY_public_check(context), "EVP_PKEY_public_check(P-256)")
            // The public key is the file's word; that it is the private key's is checked, not assumed.
            guard EVP_PKEY_pairwise_check(context) == 1 else {
                throw CryptoError.invalidArgument("the public key in the key file is not the private key's")
            }
        }
        return key
    }

    /// The private scalar, big-endian, 32 bytes. OpenSSL writes it straight into locked memory.
    func p256Scalar() throws -> SecretBytes {
        OpenSSL.beginOperation()
        let native = try SecretBytes(count: Self.p256ScalarByteCount) { native in
            let result = withUnsafePointer { key in
                withOSSLParameters([.unsignedInteger(key: OSSL_PKEY_PARAM_PRIV_KEY, value: native)]) {
                    EVP_PKEY_get_params(key, $0)
                }
            }
            try OpenSSL.check(result, "EVP_PKEY_get_params(P-256 private key)")
        }
        return SecretBytes(count: native.count) { scalar in
            native.withUnsafeBytes { native in
                for index in 0..<native.count { scalar[index] = native[native.count - 1 - index] }
            }
        }
    }

    /// Generates a new P-256 key pair from OpenSSL's private generator.
    static func generateP256() throws -> PKey {
        OpenSSL.beginOperation()
        let context = try PKeyContext(algorithm: "EC")
        return try context.withUnsafePointer { context in
            try OpenSSL.check(EVP_PKEY_keygen_init(context), "EVP_PKEY_keygen_init(EC)")
            try OpenSSL.check(EVP_PKEY_CTX_set_group_name(context, "P-256"), "EVP_PKEY_CTX_set_group_name(P-256)")
            var key: OpaquePointer? = nil
            try OpenSSL.check(EVP_PKEY_generate(context, &key), "EVP_PKEY_generate(P-256)")
            guard let key else { throw CryptoError.library("EVP_PKEY_generate(P-256)") }
            return PKey(taking: key)
        }
    }

    /// Whether this is an elliptic-curve key on P-256 (OpenSSL calls the curve prime256v1).
    var isP256: Bool {
        withUnsafePointer { key in
            guard EVP_PKEY_is_a(key, "EC") == 1 else { return false }
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else { return false }
            let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return group == "prime256v1" || group == "P-256"
        }
    }

    /// The public point in uncompressed form (0x04, x, y), whatever form the key was encoded in.
    func uncompressedP256Point() throws -> [UInt8] {
        let x = try bigNumberParameter(OSSL_PKEY_PARAM_EC_PUB_X)
        let y = try bigNumberParameter(OSSL_PKEY_PARAM_EC_PUB_Y)
        return [0x04] + x + y
    }

    /// A number parameter of the key, as 32 big-endian bytes.
    private func bigNumberParameter(_ name: String) throws -> [UInt8] {
        OpenSSL.beginOperation()
        return try withUnsafePointer { key in
            var number: OpaquePointer? = nil
            try OpenSSL.check(EVP_PKEY_get_bn_param(key, name, &number), "EVP_PKEY_get_bn_param(\(name))")
            defer { BN_free(number) }
            var bytes = [UInt8](repeating: 0, count: Self.p256ScalarByteCount)
            guard BN_bn2binpad(number, &bytes, Int32(bytes.count)) == Int32(bytes.count) else {
                throw CryptoError.library("BN_bn2binpad(\(name))")
            }
            return bytes
        }
    }
}
