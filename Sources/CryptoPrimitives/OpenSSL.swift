internal import CLibcrypto

/// The funnel through which CryptoPrimitives talks to OpenSSL's per-thread error queue.
///
/// OpenSSL reports a failure by returning 0 (or a negative number, or NULL) and pushing the reasons onto a
/// per-thread queue. Entries left over from an earlier, unrelated call would be blamed on the next failure, so
/// every operation starts with `beginOperation()`; a failure is turned into an error by `check`, which drains
/// the queue through `CryptoError.library`.
enum OpenSSL {
    /// Empties the error queue, so that a failure reports only its own causes.
    static func beginOperation() {
        ERR_clear_error()
    }

    /// Throws a `CryptoError` carrying the error queue unless `result` is OpenSSL's success value, 1.
    static func check(_ result: Int32, _ operation: String, file: String = #fileID, line: Int = #line) throws {
        guard result == 1 else {
            throw CryptoError.library(operation, file: file, line: line)
        }
    }

    /// Reads and removes every entry of this thread's error queue, oldest first, as one line of text.
    static func drainErrorQueue() -> String {
        var entries: [String] = []
        while true {
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 {
                break
            }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            var entry = String(decoding: bytes, as: UTF8.self)
            if flags & ERR_TXT_STRING != 0, let data {
                entry += " (\(String(cString: data)))"
            }
            entries.append(entry)
        }
        return entries.isEmpty ? "OpenSSL gave no reason" : entries.joined(separator: "; ")
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with a pointer that is never NULL, even for an empty array.
    ///
    /// OpenSSL treats a NULL data pointer as "argument missing" in some calls even when the length is 0, and
    /// an empty Swift array may hand out a NULL base address.
    func withNonNullBytes<R>(_ body: (UnsafeRawPointer, Int) throws -> R) rethrows -> R {
        try withUnsafeBytes { bytes in
            try bytes.withNonNullBase(body)
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Calls `body` with a base address that is never NULL, even for an empty buffer; see
    /// `Array.withNonNullBytes`.
    func withNonNullBase<R>(_ body: (UnsafeRawPointer, Int) throws -> R) rethrows -> R {
        if let base = baseAddress {
            return try body(base, count)
        }
        var placeholder: UInt8 = 0
        return try Swift.withUnsafeBytes(of: &placeholder) { try body($0.baseAddress!, 0) }
    }
}
