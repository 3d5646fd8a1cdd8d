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
        /// The PCR values differ from those an authorized policy approves.
        case measurementsDiffer
        /// A policy's signature does not verify with the key it names.
        case policyNotApproved
        /// A persistent handle is taken by another object.
        case handleOccupied
        /// No object is at a persistent handle.
        case noObjectAtHandle
        /// Bytes from outside (disk, network, another tool) are not the structure they claim to be.
        case malformedInput
        /// The TPM will not certify a message as not its own, so a restricted key cannot sign it.
        case messageNotTicketable
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

    /// The PCRs' current values are not those the authorized policy approves (the boot state or the software
    /// differ from what home signed), so nothing sealed to that policy opens; compare with `==`.
    public static let measurementsDiffer = TPM2Error(
        .measurementsDiffer,
        "The PCR values differ from those the authorized policy approves.",
        file: #fileID,
        line: #line
    )

    /// The authorized policy's signature does not verify with the signer key it names; compare with `==`.
    public static let policyNotApproved = TPM2Error(
        .policyNotApproved,
        "The policy's signature does not verify with its signer's key.",
        file: #fileID,
        line: #line
    )

    /// A persistent handle was to be used for a new object but holds one already; compare with `==`.
    public static let handleOccupied = TPM2Error(
        .handleOccupied, "The persistent handle is occupied.", file: #fileID, line: #line
    )

    /// A persistent handle named as a key or parent holds nothing; compare with `==`.
    public static let noObjectAtHandle = TPM2Error(
        .noObjectAtHandle, "No object is at the persistent handle.", file: #fileID, line: #line
    )

    /// Bytes read from a file or the network are not the structure they should be; compare with `==`.
    public static let malformedInput = TPM2Error(
        .malformedInput, "The input is malformed.", file: #fileID, line: #line
    )

    /// The TPM would not certify a message for signing with a restricted key; compare with `==`.
    public static let messageNotTicketable = TPM2Error(
        .messageNotTicketable, "The TPM does not certify this message for signing.", file: #fileID, line: #line
    )

    /// The policy session's digest after PolicyPCR is not the approved one.
    static func measurementsDiffer(
        pcrs: PCRSelection,
        approved: [UInt8],
        actual: [UInt8],
        file: String = #fileID,
        line: Int = #line
    ) -> TPM2Error {
        let message =
            "The measurements differ from those this policy approves: PolicyPCR over \(pcrs) gives policy "
            + "\(hexString(actual)), the signed policy approves \(hexString(approved)). The machine did not boot "
            + "the expected software, or home has not yet signed a policy for it; nothing sealed to it opens."
        return TPM2Error(.measurementsDiffer, message, file: file, line: line)
    }

    /// TPM2_VerifySignature refused the policy's signature with `rc`.
    static func policyNotApproved(rc: UInt32, file: String = #fileID, line: Int = #line) -> TPM2Error {
        let message =
            "The policy's signature does not verify with its signer's key (TSS2_RC 0x\(hex(rc)), \(decode(rc))): "
            + "it was not signed by that key for this policy and policy reference, or it was altered. "
            + "Ask home for a correctly signed policy."
        return TPM2Error(.policyNotApproved, message, file: file, line: line)
    }

    /// `handle` holds an object already, so a new one cannot be made persistent there.
    static func handleOccupied(_ handle: UInt32, file: String = #fileID, line: Int = #line) -> TPM2Error {
        let message =
            "Persistent handle 0x\(hex(handle)) is occupied by another object; nothing was created. Evict the "
            + "old object first if it is really no longer needed (evicting a storage parent destroys every "
            + "object sealed under it), or choose another handle."
        return TPM2Error(.handleOccupied, message, file: file, line: line)
    }

    /// Nothing is at `handle`, which should hold a `role` ("storage parent", "signing key").
    static func noObjectAtHandle(
        _ handle: UInt32,
        role: String,
        file: String = #fileID,
        line: Int = #line
    ) -> TPM2Error {
        let message =
            "No \(role) is at persistent handle 0x\(hex(handle)): it was never provisioned on this TPM, or it "
            + "was evicted (zeroized). Whatever was sealed under an evicted parent can never be opened again."
        return TPM2Error(.noObjectAtHandle, message, file: file, line: line)
    }

    /// `problem` says which structure is malformed and where.
    static func malformedInput(_ problem: String, file: String = #fileID, line: Int = #line) -> TPM2Error {
        TPM2Error(.malformedInput, "Malformed input: \(problem).", file: file, line: line)
    }

    /// TPM2_Hash gave a NULL ticket: the message starts with TPM_GENERATED_VALUE.
    static func messageNotTicketable(file: String = #fileID, line: Int = #line) -> TPM2Error {
        let message =
            "The TPM refuses to certify this message for a restricted signing key: it begins with "
            + "TPM_GENERATED_VALUE (FF 54 43 47), the mark of the TPM's own attestations, so signing it could forge "
            + "one. Frame messages so that they cannot begin with those bytes."
        return TPM2Error(.messageNotTicketable, message, file: file, line: line)
    }

    static func hexString(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    private static func hex(_ rc: UInt32) -> String {
        let digits = String(rc, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
