internal import CLibcrypto

/// One entry of an `OSSL_PARAM` array, the key/value list through which OpenSSL 3 configures algorithms.
enum OSSLParameter {
    /// A text value, such as a digest name.
    case utf8String(key: String, value: String)
    /// Bytes owned by the caller, which must stay valid for the whole `withOSSLParameters` call.
    case octetString(key: String, value: UnsafeRawBufferPointer)
    /// A C `int` value, such as a mode.
    case integer(key: String, value: Int32)
    /// An unsigned number of any size (a BIGNUM), in native byte order, in bytes owned by the caller as for
    /// `octetString`. OpenSSL reads it from there, or writes it there when the array asks for a key's parameters.
    case unsignedInteger(key: String, value: UnsafeMutableRawBufferPointer)
}

/// Builds a terminated `OSSL_PARAM` array for `parameters` and gives it to `body`.
///
/// An `OSSL_PARAM` only points at its key and value, so every key and text value is copied, NUL-terminated,
/// into one buffer that outlives `body`; octet strings keep pointing at the caller's bytes (which may be
/// secret: they are not copied into unwiped memory).
func withOSSLParameters<R>(
    _ parameters: [OSSLParameter],
    _ body: (UnsafeMutablePointer<OSSL_PARAM>) throws -> R
) rethrows -> R {
    var text: [CChar] = []
    var textOffsets: [(key: Int, value: Int)] = []
    var integers: [Int32] = []
    for parameter in parameters {
        let keyOffset = text.count
        var valueOffset = 0
        switch parameter {
        case .utf8String(let key, let value):
            text += key.utf8CString
            valueOffset = text.count
            text += value.utf8CString
        case .octetString(let key, _), .unsignedInteger(let key, _):
            text += key.utf8CString
        case .integer(let key, let value):
            text += key.utf8CString
            valueOffset = integers.count
            integers.append(value)
        }
        textOffsets.append((keyOffset, valueOffset))
    }
    return try text.withUnsafeMutableBufferPointer { text in
        try integers.withUnsafeMutableBufferPointer { integers in
            var array: [OSSL_PARAM] = []
            for (parameter, offsets) in zip(parameters, textOffsets) {
                let key = UnsafePointer(text.baseAddress! + offsets.key)
                switch parameter {
                case .utf8String:
                    array.append(OSSL_PARAM_construct_utf8_string(key, text.baseAddress! + offsets.value, 0))
                case .octetString(_, let value):
                    // OpenSSL only reads parameters that configure an algorithm, despite the mutable pointer.
                    // An empty value still needs a non-NULL address: the key text is valid for the whole call.
                    let bytes = UnsafeMutableRawPointer(mutating: value.baseAddress ?? UnsafeRawPointer(key))
                    array.append(OSSL_PARAM_construct_octet_string(key, bytes, value.count))
                case .integer:
                    array.append(OSSL_PARAM_construct_int(key, integers.baseAddress! + offsets.value))
                case .unsignedInteger(_, let value):
                    let bytes = value.baseAddress?.assumingMemoryBound(to: UInt8.self)
                    array.append(OSSL_PARAM_construct_BN(key, bytes, value.count))
                }
            }
            array.append(OSSL_PARAM_construct_end())
            // Mutable: a query (EVP_PKEY_get_params) records in each entry how much it wrote.
            return try array.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
        }
    }
}
