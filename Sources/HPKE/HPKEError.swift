import CryptoPrimitives

/// A failure of an HPKE operation (RFC 9180).
///
/// Errors compare equal when they are of the same kind, whatever their message, file or line, so a caller can
/// ask `error == HPKEError.authenticationFailure()` without caring where it was raised. An authentication failure
/// is its own kind: it is the answer for forged or corrupted data, never a sign of a broken installation.
public struct HPKEError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Sendable {
        case authenticationFailure
        case invalidEncapsulatedKey
        case invalidRecipientKey
        case messageLimitReached
        case invalidExportLength
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
        "HPKEError: \(message) (raised at \(file):\(line))"
    }

    /// Errors of the same kind are equal; message and location are context, not identity.
    public static func == (lhs: HPKEError, rhs: HPKEError) -> Bool {
        lhs.code == rhs.code
    }

    /// Opening found that the ciphertext, the encapsulated key, `info` or the additional data is not what was
    /// sealed, or that the private key is not the one it was sealed to. No plaintext was released.
    public static func authenticationFailure(file: String = #fileID, line: Int = #line) -> HPKEError {
        HPKEError(
            .authenticationFailure,
            "HPKE open failed authentication: the ciphertext, encapsulated key, info or additional data was "
                + "altered, or the private key is not the recipient's; treat the data as corrupt or forged",
            file: file,
            line: line
        )
    }

    /// The encapsulated key received with a ciphertext is unusable: it has the wrong length, or it is a point
    /// of low order whose Diffie-Hellman result is all zeros (RFC 9180 section 7.1.4).
    ///
    /// - Parameter problem: what is wrong with the key.
    public static func invalidEncapsulatedKey(
        _ problem: String = "is invalid",
        file: String = #fileID,
        line: Int = #line
    ) -> HPKEError {
        HPKEError(
            .invalidEncapsulatedKey,
            "HPKE encapsulated key \(problem); it was corrupted or forged, so the data sealed with it cannot be "
                + "opened",
            file: file,
            line: line
        )
    }

    /// The recipient's public key cannot be sealed to: it is a point of low order, whose Diffie-Hellman result
    /// is all zeros, so the message would be readable by anyone (RFC 9180 section 7.1.4).
    ///
    /// - Parameter problem: what is wrong with the key.
    public static func invalidRecipientKey(
        _ problem: String = "is invalid",
        file: String = #fileID,
        line: Int = #line
    ) -> HPKEError {
        HPKEError(
            .invalidRecipientKey,
            "HPKE recipient public key \(problem); check where the key came from, it is not a usable X25519 key",
            file: file,
            line: line
        )
    }

    /// A context has used every sequence number it can, so another message would reuse a nonce
    /// (RFC 9180 section 5.2, MessageLimitReachedError).
    public static func messageLimitReached(file: String = #fileID, line: Int = #line) -> HPKEError {
        HPKEError(
            .messageLimitReached,
            "this HPKE context has used all of its 2^64 - 1 sequence numbers; set up a new context (with a new "
                + "encapsulated key) to send more messages",
            file: file,
            line: line
        )
    }

    /// An export asked for more bytes than HKDF-SHA256 can make, or for a negative number of bytes.
    ///
    /// - Parameter length: the length that was asked for.
    public static func invalidExportLength(_ length: Int, file: String = #fileID, line: Int = #line) -> HPKEError {
        HPKEError(
            .invalidExportLength,
            "an HPKE export must be 0 to \(HPKE.maximumExportByteCount) bytes long, got \(length); fix the caller",
            file: file,
            line: line
        )
    }

    /// A primitive of CryptoPrimitives failed for a reason that is not about the data: OpenSSL or the random
    /// generator refused to work. The message carries the underlying error.
    static func library(
        _ operation: String,
        _ underlying: any Error,
        file: String = #fileID,
        line: Int = #line
    ) -> HPKEError {
        HPKEError(
            .library,
            "HPKE \(operation) failed in a primitive: \(underlying)",
            file: file,
            line: line
        )
    }

    /// Runs `body` and reports anything it throws as an `HPKEError`, so that callers of this module see one
    /// error type: HPKE errors pass through, an AEAD tag mismatch becomes `authenticationFailure()`, and every
    /// other failure becomes a library error that names `operation`.
    static func translating<Result>(
        _ operation: String,
        file: String = #fileID,
        line: Int = #line,
        _ body: () throws -> Result
    ) throws(HPKEError) -> Result {
        do {
            return try body()
        } catch let error as HPKEError {
            throw error
        } catch let error as CryptoError where error == .authenticationFailure() {
            throw .authenticationFailure(file: file, line: line)
        } catch {
            throw .library(operation, error, file: file, line: line)
        }
    }
}
