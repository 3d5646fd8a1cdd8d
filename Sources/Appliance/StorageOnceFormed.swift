import ErasureStore
import StoreFormat
import StreamStore
import Synchronization

/// The store of an array that the disks service is still forming: every request is refused as unavailable (a
/// sender retries) until ``open(_:)`` hands over the store.
final class StorageOnceFormed: StreamStorage, Sendable {
    private let store = Mutex<ErasureCodedStore?>(nil)

    func open(_ opened: ErasureCodedStore) {
        store.withLock { $0 = opened }
    }

    var current: ErasureCodedStore? { store.withLock { $0 } }

    private func formed() throws(StreamStorageError) -> ErasureCodedStore {
        guard let store = current else {
            throw .unavailable("the array is being formed from the disks in the bays; try again in a moment")
        }
        return store
    }

    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        try formed().openAppender(for: name)
    }

    func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        try formed().openReader(for: name)
    }

    func summaries(
        after: StreamName?, limit: Int, where include: (StreamName) -> Bool
    ) throws(StreamStorageError) -> [StreamSummary] {
        try formed().summaries(after: after, limit: limit, where: include)
    }
}

extension StorageKeys {
    /// The same keys without the storage private key: what a service that writes or repairs but never reads gets.
    func publicOnly() throws -> StorageKeys {
        try StorageKeys(storagePublicKey: storagePublicKey, segmentKeys: nil, journalKey: journalKey)
    }
}
