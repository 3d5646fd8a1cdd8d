import ErasureStore
import Foundation
import LocalControl
import Logging
import Synchronization

/// Tells the disks service, through its state socket, about the I/O errors ingest's store meets on members, so that
/// a failing disk becomes suspect and then failed there. Errors are counted as they come (the store's observer must
/// be quick) and sent once a second from a thread of their own; a disks service that does not answer costs a log
/// line, never an append.
final class MemberErrorReporter: Sendable {
    private let socket: String
    private let logger: Logger
    private let pending = Mutex<[Int: Int]>([:])
    private let stopped = Atomic<Bool>(false)

    init(socket: String, logger: Logger) {
        self.socket = socket
        self.logger = logger
    }

    /// Starts counting `store`'s member errors and sending them.
    func watch(_ store: ErasureCodedStore) {
        store.observeMemberErrors { [self] error in
            pending.withLock { $0[error.member, default: 0] += 1 }
        }
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 1)
                flush()
            }
        }
        thread.name = "member-errors"
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
    }

    private func flush() {
        let counts = pending.withLock { counts in
            defer { counts = [:] }
            return counts
        }
        for (member, count) in counts.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try LocalControlClient.request(
                    path: socket, op: "report-io-errors",
                    body: ["member": .integer(Int64(member)), "count": .integer(Int64(count))], timeout: .seconds(5))
            } catch {
                logger.warning(
                    "the disks service did not take a report of I/O errors",
                    metadata: ["member": "\(member)", "count": "\(count)", "error": "\(error)"])
            }
        }
    }
}
