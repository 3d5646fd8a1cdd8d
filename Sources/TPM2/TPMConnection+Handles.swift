internal import CTSS2

/// The kinds of handle a TPM lists (TPM2_GetCapability, TPM_CAP_HANDLES), by their top byte.
public enum TPMHandleKind: Sendable, CaseIterable {
    /// Transient objects: loaded keys, sealed objects and hash sequences, which must be flushed.
    case transientObject
    /// Sessions loaded in the TPM; listed by their own handles, 02… for HMAC and 03… for policy sessions.
    case loadedSession
    /// Sessions whose context was saved out of the TPM but which are still open.
    case savedSession
    /// Objects kept in the TPM's NV memory across reboots.
    case persistentObject

    /// The first handle of the kind: its top byte is the kind's TPM_HT.
    var firstHandle: UInt32 {
        switch self {
        case .transientObject: 0x8000_0000
        case .loadedSession: 0x0200_0000
        case .savedSession: 0x0300_0000
        case .persistentObject: 0x8100_0000
        }
    }
}

extension TPMConnection {
    /// Persistent handles the owner may use (TCG handle registry: 0x81000000–0x817FFFFF).
    public static let ownerPersistentHandles: ClosedRange<UInt32> = 0x8100_0000...0x817F_FFFF

    /// Every handle of `kind` the TPM holds now, ascending; for diagnosing leaked objects and sessions, and
    /// for finding what is persistent.
    public func handles(_ kind: TPMHandleKind) throws(TPM2Error) -> [UInt32] {
        try withESYSContext { (context) throws(TPM2Error) -> [UInt32] in
            try listHandles(from: kind.firstHandle, context: context)
        }
    }

    /// Whether an object is persistent at `handle`.
    ///
    /// - Throws: `TPM2Error` for a handle outside 0x81000000–0x817FFFFF or when the TPM fails.
    public func persistentHandleExists(_ handle: UInt32) throws(TPM2Error) -> Bool {
        try Self.validatePersistent(handle)
        return try withESYSContext { (context) throws(TPM2Error) -> Bool in
            try persistentHandleExists(handle, context: context)
        }
    }

    /// Removes the persistent object at `handle` from the TPM's NV memory.
    ///
    /// For a storage parent made by `makeStorageParent(at:)` this is zeroization: its private part exists
    /// nowhere else, so every object sealed under it becomes unloadable, on this TPM and any other.
    ///
    /// - Throws: `TPM2Error.noObjectAtHandle` when nothing is there; `TPM2Error` when the TPM fails.
    public func evict(_ handle: UInt32) throws(TPM2Error) {
        try Self.validatePersistent(handle)
        try withESYSContext { (context) throws(TPM2Error) in
            let object = try openPersistent(handle, role: "object", context: context)
            var removed: ESYS_TR = ESYS_TR_NONE
            let rc = Esys_EvictControl(
                context, ESYS_TR_RH_OWNER, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle, &removed
            )
            // ESAPI may already have dropped its record of an evicted object; closing what is gone only
            // returns an error, so both are closed regardless.
            closeRecord(object, context: context)
            if removed != ESYS_TR_NONE { closeRecord(removed, context: context) }
            try check(rc, "Esys_EvictControl (evict 0x\(String(handle, radix: 16)))")
        }
    }

    /// Refuses a handle the owner cannot make persistent, before anything reaches the TPM.
    static func validatePersistent(_ handle: UInt32) throws(TPM2Error) {
        guard ownerPersistentHandles.contains(handle) else {
            throw .invalidArgument(
                "0x\(String(handle, radix: 16)) is not an owner persistent handle (0x81000000–0x817fffff)"
            )
        }
    }

    func persistentHandleExists(_ handle: UInt32, context: OpaquePointer) throws(TPM2Error) -> Bool {
        try listHandles(from: handle, limit: 1, context: context).first == handle
    }

    /// An ESAPI record (ESYS_TR) of the persistent object at `handle`, read from the TPM; the caller closes
    /// it with `closeRecord`, which frees ESAPI's memory and leaves the object alone.
    ///
    /// - Throws: `TPM2Error.noObjectAtHandle` naming `role` when nothing is there.
    func openPersistent(_ handle: UInt32, role: String, context: OpaquePointer) throws(TPM2Error) -> ESYS_TR {
        // Asked first, because ESAPI logs a missing handle as an error on stderr, and a missing key is an
        // expected state (not provisioned yet, or zeroized), not a fault.
        guard try persistentHandleExists(handle, context: context) else {
            throw .noObjectAtHandle(handle, role: role)
        }
        var object: ESYS_TR = ESYS_TR_NONE
        let rc = Esys_TR_FromTPMPublic(context, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &object)
        try check(rc, "Esys_TR_FromTPMPublic(0x\(String(handle, radix: 16)))")
        return object
    }

    /// Forgets ESAPI's record of a persistent object without touching the object.
    func closeRecord(_ object: ESYS_TR, context: OpaquePointer) {
        var record = object
        _ = Esys_TR_Close(context, &record)
    }

    /// Removes a transient object or session from the TPM. Called from `defer` on every path, so it cannot
    /// throw; a failed flush shows up as a leaked handle in `handles(_:)`, which the tests check.
    func flush(_ handle: ESYS_TR, context: OpaquePointer) {
        _ = Esys_FlushContext(context, handle)
    }

    /// Handles of `first`'s kind from `first` upwards, in as many GetCapability calls as needed.
    private func listHandles(
        from first: UInt32, limit: Int = .max, context: OpaquePointer
    ) throws(TPM2Error)
        -> [UInt32]
    {
        let perCall = UInt32(MemoryLayout<TPML_HANDLE>.size / MemoryLayout<TPM2_HANDLE>.stride - 1)
        var handles: [UInt32] = []
        var property = first
        while handles.count < limit {
            var more: TPMI_YES_NO = 0
            var data: UnsafeMutablePointer<TPMS_CAPABILITY_DATA>?
            defer { Esys_Free(data) }
            let rc = Esys_GetCapability(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, property,
                UInt32(min(limit - handles.count, Int(perCall))), &more, &data
            )
            try check(rc, "Esys_GetCapability(TPM_CAP_HANDLES)")
            guard let data else {
                throw .unusableResponse("Esys_GetCapability on '\(tcti)' succeeded without data; report this bug.")
            }
            let list = data.pointee.data.handles
            let page = withElements(of: list.handle, as: TPM2_HANDLE.self, count: Int(list.count)) { Array($0) }
            handles += page
            // The TPM reads the kind from the property's top byte, but a loaded policy session's handle has
            // the top byte of an active one (03, not 02); so the next page starts after the last handle's
            // index within the kind that was asked for.
            let kind = first & 0xFF00_0000
            guard more != 0, let last = page.last, last & 0x00FF_FFFF < 0x00FF_FFFF else { break }
            property = kind | (last & 0x00FF_FFFF) + 1
        }
        return handles
    }
}
