/// A failure of a CryptoPrimitives operation.
///
/// Errors compare equal when they are of the same kind, whatever their message, file or line, so a caller can
/// ask `error == .authenticationFailure()` without caring where it was raised.
public struct CryptoError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Sendable {
        case invalidArgument
        case authenticationFailure
        case library
    }

    private let code: Code

    /// What happened and what to do about it.
    public let message: String

    /// The source file of the call that raised the error.
    public let file: String

    /// The source line of the call that raised the error.
    public let line: Int

    private init(_ code: Code, _ message: String, file: String, line: Int) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The message with the place it was raised, for logs.
    public var description: String {
        "CryptoError: \(message) (raised at \(file):\(line))"
    }

    /// Errors of the same kind are equal; message and location are context, not identity.
    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool {
        lhs.code == rhs.code
    }

    /// A caller passed a value of the wrong size or out of range; nothing was computed.
    ///
    /// - Parameter problem: which argument was wrong and what was expected.
    public static func invalidArgument(
        _ problem: String = "an argument was invalid",
        file: String = #fileID,
        line: Int = #line
    ) -> CryptoError {
        CryptoError(
            .invalidArgument,
            "\(problem); fix the caller, retrying with the same value fails the same way",
            file: file,
            line: line
        )
    }

    /// Authenticated decryption found that the ciphertext, tag, nonce, key or additional data is not what was
    /// sealed. No plaintext was released.
    public static func authenticationFailure(file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError(
            .authenticationFailure,
            "authentication failed: the ciphertext, tag or additional data was altered, or the key or nonce "
                + "is not the one it was sealed with; treat the data as corrupt or forged, never as plaintext",
            file: file,
            line: line
        )
    }

    /// OpenSSL refused an operation. The message carries OpenSSL's whole error queue, which this call empties.
    ///
    /// This is the one place that reads OpenSSL's error queue; every operation clears the queue before it
    /// starts (`OpenSSL.beginOperation()`), so what is drained here belongs to the failed operation only.
    static func library(_ operation: String, file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError(
            .library,
            "OpenSSL failed in \(operation): \(OpenSSL.drainErrorQueue()); if this is not explained by the "
                + "input (for example an all-zero X25519 shared secret), check the installed libssl3 and the "
                + "OpenSSL configuration (providers, FIPS mode)",
            file: file,
            line: line
        )
    }
}
