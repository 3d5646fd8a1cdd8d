import StoreFormat
import StreamStore

/// The journal of a stream's next segment, created on the store's background lane while the current segment fills.
///
/// Creating a journal names m + 1 files and flushes them and their directories: a commit of each member's
/// filesystem journal, which the appends that cross a segment boundary would otherwise wait for (item 7 of the
/// write path in `docs/storage-engine.md`). An unused prepared journal holds no records; recovery passes such
/// journals by (see ``StreamRecovery``).
final class PreparedJournal: Sendable {
    let segment: UInt64

    private enum State {
        case preparing
        case ready(Result<JournalWriter, StreamStorageError>)
        /// Nobody will take it: the preparation closes what it opened when it ends.
        case abandoned
        case taken
    }

    private let state = Guarded(State.preparing)

    init(store: ErasureCodedStore, stream: String, segment: UInt64) {
        self.segment = segment
        store.executor.background.submit { [state] _ in
            let outcome = Result { () throws(StreamStorageError) in
                try JournalWriter.create(store: store, stream: stream, segment: segment)
            }
            let unwanted = state.withLock { state -> JournalWriter? in
                guard case .abandoned = state else {
                    state = .ready(outcome)
                    return nil
                }
                // Nobody takes it: a journal created is closed here, and a creation that failed left nothing open.
                return try? outcome.get()
            }
            unwanted?.close()
        }
    }

    /// Waits for the journal, which is the caller's from then on.
    func take() throws(StreamStorageError) -> JournalWriter {
        let outcome = state.wait(until: { if case .preparing = $0 { false } else { true } }) {
            state, _ -> Result<JournalWriter, StreamStorageError> in
            guard case .ready(let outcome) = state else { preconditionFailure("a prepared journal is taken once") }
            state = .taken
            return outcome
        }
        return try outcome.get()
    }

    /// Waits for the preparation to end and closes what it opened. Its files stay until their segment is flushed,
    /// like any stale journal.
    func discard() {
        // A preparation that failed left nothing open: there is nothing to close and nothing to report.
        (try? take())?.close()
    }

    /// Like ``discard()``, without waiting: the preparation closes its journal itself when it ends.
    func abandon() {
        let ready = state.withLock { state -> JournalWriter? in
            defer { state = .abandoned }
            // A preparation that failed left nothing open, and nobody is left to tell.
            if case .ready(let outcome) = state { return try? outcome.get() }
            return nil
        }
        ready?.close()
    }
}
