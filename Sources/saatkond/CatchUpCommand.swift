import ArgumentParser
import DurableFiles
import Foundation
import ReplicationClients
import SystemPackage

/// `saatkond catch-up`: brings appliances left behind up to home's copy, from home's records. `send` and `wal-push`
/// start it in the background when an appliance with a backlog answers again; a timer may run it too.
struct CatchUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catch-up",
        abstract: "Send every appliance what home's records say it lacks.",
        discussion: "One catch-up runs at a time (a lock in home's record directory); a second exits at once.")

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print nothing when all is well (for runs started in the background).")
    var quiet = false

    @Option(help: "Seconds to go on retrying one appliance's stream without progress before leaving it for later.")
    var giveUpAfter: UInt = 30

    func run() async throws {
        guard let configuration = try client.configuration(), let records = client.records(configuration) else {
            throw CommandFailure("saatkond catch-up: needs --config (or $SAATKOND_CONFIG) with `state =`")
        }
        guard let lock = try CatchUpLock(records.catchUpLock) else {
            if !quiet { print("saatkond catch-up: another catch-up is running") }
            return
        }
        defer { lock.release() }
        let catchUp = CatchUp(
            appliances: try client.appliances(configuration), records: records,
            retry: RetryPolicy(giveUpAfter: .seconds(Int64(clamping: giveUpAfter))),
            unreachableBackoff: .seconds(configuration.skipUnreachableFor))
        let outcomes = try await catchUp.run()
        var failed = false
        for (name, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            if !quiet || !outcome.failed.isEmpty {
                FileHandle.standardError.write(
                    Data("saatkond catch-up: \(name): \(outcome.caughtUp.count) streams caught up\n".utf8))
            }
            for (stream, reason) in outcome.failed.sorted(by: { $0.key < $1.key }) {
                failed = true
                FileHandle.standardError.write(Data("saatkond catch-up: \(name): \(stream): \(reason)\n".utf8))
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// The lock one running catch-up holds: an exclusive advisory lock on a file in home's record directory that holds
/// the process id, so that a test or an operator can tell which process runs.
struct CatchUpLock {
    private let descriptor: FileDescriptor

    /// Takes the lock; nil when another process holds it.
    init?(_ path: FilePath) throws {
        var directory = path
        directory.removeLastComponent()
        try FileSystemCalls.createDirectories(directory)
        let descriptor = try FileSystemCalls.open(
            path, .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
            FileSystemCalls.release(descriptor)
            return nil
        }
        try FileSystemCalls.resize(descriptor, to: 0)
        try Array("\(getpid())\n".utf8).withUnsafeBytes { try FileSystemCalls.writeAll(descriptor, $0, at: 0) }
        self.descriptor = descriptor
    }

    /// Whether a process holds the lock at `path` now.
    static func isHeld(_ path: FilePath) -> Bool {
        guard FileSystemCalls.exists(path),
            let descriptor = try? FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
        else { return false }
        defer { FileSystemCalls.release(descriptor) }
        // Taken and let go at once: whether anyone else holds it is all this asks; an error reads as not held, and
        // the catch-up that starts then meets the lock itself.
        return (try? FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor)) == false
    }

    func release() {
        FileSystemCalls.release(descriptor)
    }
}
