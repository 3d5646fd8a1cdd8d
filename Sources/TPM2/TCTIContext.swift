internal import CTSS2

/// Owns one TSS2_TCTI_CONTEXT made by the TCTI loader: the transport (socket or device file) to a TPM.
///
/// ESAPI borrows this context and never frees it, so whoever owns an ESYS_CONTEXT built on it must keep
/// this object alive until after Esys_Finalize.
final class TCTIContext {
    private let context: OpaquePointer

    /// The configuration string this transport was opened with.
    let configuration: String

    /// Loads the TCTI named in `configuration` ("swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0")
    /// and opens it; for a socket TCTI this connects at once, so an absent TPM fails here.
    init(configuration: String) throws(TPM2Error) {
        var context: OpaquePointer?
        let rc = Tss2_TctiLdr_Initialize(configuration, &context)
        try TPM2Error.check(rc, operation: "Tss2_TctiLdr_Initialize", tcti: configuration)
        guard let context else {
            throw .unusableResponse("Tss2_TctiLdr_Initialize succeeded for '\(configuration)' without a context.")
        }
        self.context = context
        self.configuration = configuration
    }

    deinit {
        var context: OpaquePointer? = self.context
        Tss2_TctiLdr_Finalize(&context)
    }

    /// Lends the raw context for the duration of `body`; it must not be kept beyond it.
    func withUnsafeContext<Result, Failure: Error>(
        _ body: (OpaquePointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(context)
    }
}
