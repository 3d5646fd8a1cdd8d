internal import CTSS2
import Synchronization

/// One started TPM 2.0, reached through ESAPI over a TCTI given as a configuration string.
///
/// Resource management: swtpm and /dev/tpm0 have no resource manager, so every transient object and
/// session created through a connection must be flushed (Esys_FlushContext) before it is dropped, or
/// the TPM's three or so slots fill up and later commands fail with TPM_RC_OBJECT_MEMORY or
/// TPM_RC_SESSION_MEMORY for every process. Each operation here flushes what it created before it returns,
/// on its error paths too, and holds at most one transient object besides the SRK at a time;
/// `handles(_:)` shows what is loaded. On real hardware prefer "device:/dev/tpmrm0", whose kernel resource
/// manager flushes what a closed connection left behind.
///
/// Only one client at a time: swtpm serves one connection and queues the next until it closes, so keep
/// one `TPMConnection` per process and share it; dropping the last reference closes the connection.
public final class TPMConnection: @unchecked Sendable {
    // @unchecked Sendable: the two pointers are immutable, and ESAPI, which is not thread-safe, is only
    // reached through `withESYSContext`, which holds `lock` for the whole call; `deinit` runs only when
    // no other reference, and so no other call, exists.

    /// The TCTI configuration this connection was opened with, for messages and logs.
    public let tcti: String

    /// Kept alive for as long as the ESYS_CONTEXT that borrows it; released after `deinit`'s body, so
    /// after Esys_Finalize, which is the order tpm2-tss requires.
    private let transport: TCTIContext
    private let esysContext: OpaquePointer
    private let lock = Mutex(())

    /// Connects to the TPM named by `tcti`, e.g. "swtpm:host=127.0.0.1,port=2321" (swtpm's server
    /// port; its control port must be the next one) or "device:/dev/tpmrm0", and starts it with
    /// TPM2_Startup(CLEAR) unless firmware or swtpm already did.
    ///
    /// - Throws: `TPM2Error` when the TCTI cannot be loaded or the TPM cannot be reached or started.
    public init(tcti: String) throws(TPM2Error) {
        let transport = try TCTIContext(configuration: tcti)
        var context: OpaquePointer?
        let initialized = transport.withUnsafeContext { Esys_Initialize(&context, $0, nil) }
        try TPM2Error.check(initialized, operation: "Esys_Initialize", tcti: tcti)
        guard let context else {
            throw .unusableResponse("Esys_Initialize succeeded on '\(tcti)' without a context; report this bug.")
        }
        // After a (re)boot firmware normally sent TPM2_Startup already, as swtpm's startup-clear flag
        // does; TPM_RC_INITIALIZE then only says so.
        let started = Esys_Startup(context, TPM2_SU_CLEAR)
        guard started == TSS2_RC_SUCCESS || started == CTSS2_RC_INITIALIZE else {
            var owned: OpaquePointer? = context
            Esys_Finalize(&owned)
            throw .responseCode(started, operation: "Esys_Startup", tcti: tcti)
        }
        self.tcti = tcti
        self.transport = transport
        self.esysContext = context
    }

    deinit {
        var context: OpaquePointer? = esysContext
        Esys_Finalize(&context)
    }

    /// Runs `body` with exclusive use of the ESYS_CONTEXT; the pointer must not escape `body`.
    func withESYSContext<Result: Sendable>(
        _ body: (OpaquePointer) throws(TPM2Error) -> Result
    ) throws(TPM2Error) -> Result {
        try lock.withLock { _ throws(TPM2Error) -> Result in
            try body(esysContext)
        }
    }

    /// Throws unless `rc` is success, naming this connection's TCTI in the message.
    func check(_ rc: UInt32, _ operation: String, file: String = #fileID, line: Int = #line) throws(TPM2Error) {
        try TPM2Error.check(rc, operation: operation, tcti: tcti, file: file, line: line)
    }
}
