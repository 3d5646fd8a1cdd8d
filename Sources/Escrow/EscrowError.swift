/// A failure of secret sharing, of an escrow bundle or share, or of a recovery.
///
/// Errors compare equal when they are of the same kind, whatever their message, file or line, so a test or a
/// caller can ask `error == EscrowError.wrongShares()` without caring where it was raised.
public struct EscrowError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Sendable {
        case invalidArgument
        case invalidShares
        case malformedBundle
        case malformedShare
        case shareNotForBundle
        case unknownOfficial
        case cannotOpenShare
        case notEnoughShares
        case wrongShares
        case file
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

    /// The message alone: it is printed to the officials running a recovery, who need no source location.
    public var description: String {
        message
    }

    /// Errors of the same kind are equal; message and location are context, not identity.
    public static func == (lhs: EscrowError, rhs: EscrowError) -> Bool {
        lhs.code == rhs.code
    }

    /// A caller passed a value out of range (a threshold, a key, a name); nothing was made.
    public static func invalidArgument(_ problem: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(.invalidArgument, problem, file: file, line: line)
    }

    /// Shares handed to `Shamir.combine` cannot be combined (none, a repeated or zero x, differing lengths).
    public static func invalidShares(_ problem: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(.invalidShares, "these shares cannot be combined: \(problem)", file: file, line: line)
    }

    /// The bundle file is not a well-formed escrow bundle of a version this program reads.
    public static func malformedBundle(_ problem: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(
            .malformedBundle,
            "not a valid escrow bundle: \(problem); use the bundle file exactly as the appliance wrote it",
            file: file, line: line)
    }

    /// The share file is not a well-formed escrow share.
    public static func malformedShare(_ problem: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(
            .malformedShare,
            "not a valid escrow share: \(problem); open the share again with `saatkond keys open-share`",
            file: file, line: line)
    }

    /// A share was opened from another bundle, or names another appliance or an official the bundle gives
    /// another x.
    public static func shareNotForBundle(
        _ problem: String, file: String = #fileID, line: Int = #line
    )
        -> EscrowError
    {
        EscrowError(
            .shareNotForBundle,
            "\(problem); every share must be opened from this bundle", file: file, line: line)
    }

    /// The bundle holds no share for the named official.
    public static func unknownOfficial(
        _ name: String, known: [String], file: String = #fileID, line: Int = #line
    )
        -> EscrowError
    {
        EscrowError(
            .unknownOfficial,
            "the bundle holds no share for '\(name)'; its officials are: \(known.joined(separator: ", "))",
            file: file, line: line)
    }

    /// HPKE refused to open an official's share: the private key is not that official's, or the bundle was
    /// altered.
    public static func cannotOpenShare(_ official: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(
            .cannotOpenShare,
            "the share of '\(official)' does not open with this private key: the key is not the one this "
                + "official's public key in the bundle belongs to, or the bundle was altered",
            file: file, line: line)
    }

    /// Fewer shares than the bundle's threshold were given.
    public static func notEnoughShares(
        have: Int, need: Int, file: String = #fileID, line: Int = #line
    )
        -> EscrowError
    {
        EscrowError(
            .notEnoughShares,
            "\(have) share(s) given, but this bundle needs \(need) from different officials", file: file, line: line)
    }

    /// The shares combined, but not into this appliance's secret: at least one share was altered.
    public static func wrongShares(file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(
            .wrongShares,
            "these shares do not recover this appliance's key: at least one share file was altered or damaged; "
                + "open the shares again from the bundle",
            file: file, line: line)
    }

    /// A file could not be read or written.
    public static func file(_ problem: String, file: String = #fileID, line: Int = #line) -> EscrowError {
        EscrowError(.file, problem, file: file, line: line)
    }
}
