import TPM2
import Testing

/// swtpm has no resource manager: a transient object or session left behind by one call fills one of its
/// few slots for good. Checked after every success and every failure in these tests.
func expectNothingLeftLoaded(_ tpm: TPMConnection, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for kind in [TPMHandleKind.transientObject, .loadedSession, .savedSession] {
        let left = try tpm.handles(kind)
        #expect(
            left.isEmpty, "\(kind) handles left: \(left.map { String($0, radix: 16) })", sourceLocation: sourceLocation)
    }
}
