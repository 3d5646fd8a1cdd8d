import Foundation
import StoreFormat
import StreamStore

/// The journal of a stream's next segment, created in the background while the current segment fills.
///
/// Creating a journal names m + 1 files and flushes them and their directories: a commit of each member's
/// filesystem journal, which the appends that cross a segment boundary would otherwise wait for (item 7 of the
/// write path in `docs/storage-engine.md`). An
/// unused prepared journal holds no records; recovery passes such journals by (see ``StreamRecovery``).
final class PreparedJournal: @unchecked Sendable {
    // @unchecked: `condition` guards `result`.

    let segment: UInt64
    private let condition = NSCondition()
    private var result: Result<JournalWriter, StreamStorageError>?

    init(store: ErasureCodedStore, stream: String, segment: UInt64) {
        self.segment = segment
        let thread = Thread { [self] in
            let outcome = Result { () throws(StreamStorageError) in
                try JournalWriter.create(store: store, stream: stream, segment: segment)
            }
            condition.withLock {
                result = outcome
                condition.broadcast()
            }
        }
        thread.name = "journal-prepare"
        thread.start()
    }

    /// Waits for the journal, which is the caller's from then on.
    func take() throws(StreamStorageError) -> JournalWriter {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return try result!.get()
    }

    /// Waits for the preparation to end and closes what it opened. Its files stay until their segment is flushed,
    /// like any stale journal.
    func discard() {
        (try? take())?.close()
    }
}
