/// A failure of the TPM, of the software stack that reaches it, or of a call that asked for something
/// no TPM can do; its description says what happened and what to do about it.
///
/// Two errors are equal when they have the same cause (the same response code, or the same kind of
/// invalid request), whatever the call, connection or source line that raised them.
public struct TPM2Error: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Equatable, Sendable {
        /// The TPM or a layer of tpm2-tss answered with this TSS2_RC.
        case responseCode(UInt32)
        /// The caller asked for something out of range; nothing was sent to the TPM.
        case invalidArgument
        /// The TPM answered successfully but with nothing usable, so repeating the call cannot help.
        case unusableResponse
        /// The PCRs changed between the several reads one request needed, every time it was tried.
        case pcrsKeptChanging
    }

    private let code: Code

    /// What happened and what to do, in one or two sentences fit for a log line or the console.
    public let description: String

    /// The source file that raised the error, for bug reports.
    public let file: String

    /// The source line that raised the error, for bug reports.
    public let line: Int

    /// The raw TSS2_RC when tpm2-tss or the TPM reported the error; `nil` when the wrapper refused the
    /// request itself. Its top byte names the layer (0 = the TPM, 7 = ESAPI, 10 = TCTI).
    public var responseCode: UInt32? {
        if case .responseCode(let rc) = code { return rc }
        return nil
    }

    private init(_ code: Code, _ description: String, file: String, line: Int) {
        self.code = code
        self.description = description
        self.file = file
        self.line = line
    }

    /// Equality on the cause only, so that a test or a caller can compare against a factory's result.
    public static func == (lhs: TPM2Error, rhs: TPM2Error) -> Bool {
        lhs.code == rhs.code
    }

    /// The TPM stack answered `operation` with `rc`; the one place a TSS2_RC becomes an error.
    static func responseCode(
        _ rc: UInt32,
        operation: String,
        tcti: String,
        file: String = #fileID,
        line: Int = #line
    ) -> TPM2Error {
        let message = "\(operation) failed with TSS2_RC 0x\(hex(rc)) (\(decode(rc))) on TCTI '\(tcti)'. "
        return TPM2Error(.responseCode(rc), message + advice(for: rc, tcti: tcti), file: file, line: line)
    }

    /// The caller asked for something no TPM can do; `problem` names the argument and the allowed range.
    static func invalidArgument(_ problem: String, file: String = #fileID, line: Int = #line) -> TPM2Error {
        TPM2Error(.invalidArgument, "\(problem). Nothing was sent to the TPM; fix the caller.", file: file, line: line)
    }

    /// The TPM answered without error but with no usable data; `problem` says what was missing and why.
    static func unusableResponse(_ problem: String, file: String = #fileID, line: Int = #line) -> TPM2Error {
        TPM2Error(.unusableResponse, problem, file: file, line: line)
    }

    /// Every attempt at a consistent multi-call PCR read saw the PCR update counter move.
    static func pcrsKeptChanging(attempts: Int, file: String = #fileID, line: Int = #line) -> TPM2Error {
        let message =
            "The PCRs changed during each of \(attempts) attempts to read them consistently: "
            + "something is extending PCRs in a loop; find it (tpm2_eventlog, the IMA log) before trusting them."
        return TPM2Error(.pcrsKeptChanging, message, file: file, line: line)
    }

    private static func hex(_ rc: UInt32) -> String {
        let digits = String(rc, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
