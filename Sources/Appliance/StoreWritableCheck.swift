import DurableFiles
import ErasureStore
import Foundation
import LivenessGate
import NIOPosix
import StoreFormat
import SystemPackage
import Watchdog

/// Ingest's own check: passes while every member the store counts as present takes a small write and its flush
/// within the deadline, or the store knows it is degraded (an absent member is not asked: the store already writes
/// around it, and the disks service reports it). A member whose writes fail or hang (a disk stuck in error recovery,
/// a file system gone read-only) fails the check with its name, so the watchdog stops being petted and the reason
/// is in `STATUS=`.
///
/// The writes are made on a thread of their own; one that never returns keeps that thread, and later checks wait
/// behind it and fail too, until the member answers again.
public struct StoreWritableCheck: LivenessCheck {
    let store: ErasureCodedStore
    private let pool: NIOThreadPool

    public init(store: ErasureCodedStore) {
        self.store = store
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    public func check(deadline: Duration) async -> LivenessResult {
        let store = self.store
        let outcome = await probeOnOwnThread(pool, deadline: deadline) { Self.probe(store) }
        return outcome.map { .failed(reason: "the store is not writable: \($0)") } ?? .passed
    }

    /// Writes and flushes the probe on each present member; why one failed, or nil.
    static func probe(_ store: ErasureCodedStore) -> String? {
        let absent = store.absentMemberIndices()
        let stamp = withUnsafeBytes(of: UInt64(Date().timeIntervalSince1970 * 1000).bigEndian) { Array($0) }
        for (index, directory) in store.memberDirectories.sorted(by: { $0.key < $1.key })
        where absent[index] == nil {
            let path = MemberLayout(root: directory).livenessProbe
            do {
                let descriptor = try FileSystemCalls.open(
                    path, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite, .groupRead])
                defer { FileSystemCalls.release(descriptor) }
                try stamp.withUnsafeBytes { try FileSystemCalls.writeAll(descriptor, $0, at: 0) }
                try FileSystemCalls.synchroniseData(descriptor)
            } catch {
                return "member \(index) (\(directory)) refused a write: \(error)"
            }
        }
        return nil
    }
}
