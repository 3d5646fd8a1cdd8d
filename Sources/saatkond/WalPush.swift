import ArgumentParser
import DurableFiles
import Foundation
import NIOConcurrencyHelpers
import ReplicationClients
import ReplicationTransport
import SystemPackage

/// `saatkond wal-push %p`: PostgreSQL's `archive_command`.
struct WalPush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-push",
        abstract: "Archive one WAL file (PostgreSQL's archive_command: saatkond wal-push %p).",
        discussion: """
            The file goes to the stream <cluster>.wal.<file name> on every configured appliance. Exits 0 only when \
            it is durable on the required number of appliances (the configuration's `required`, 1 by default) and \
            home's records hold it for any other; pushing a file the archive already holds succeeds when the bytes \
            are identical and fails when they differ. Other files PostgreSQL has marked ready are pushed after it, as \
            WAL-G does, and marked done once durable, so a busy cluster is not held to one process per file.
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The cluster's prefix (default: the configuration's `cluster`).")
    var cluster: String?

    @Option(help: "Seconds to go on retrying the required appliances without progress.")
    var giveUpAfter: UInt = 60

    @Option(help: "Seconds the other appliances may still take once the required ones hold the file.")
    var grace: UInt = 5

    @Option(
        help: """
            Files to push in one call: this one and then up to N - 1 others that PostgreSQL marked ready in the \
            file's archive_status directory (1 pushes only this one; default: the configuration's `push-ahead`, or 8).
            """)
    var pushAhead: Int?

    @Argument(help: "The WAL file to archive (%p).")
    var path: String

    func validate() throws {
        if let pushAhead, !(1...64).contains(pushAhead) { throw ValidationError("--push-ahead must be from 1 to 64") }
    }

    func run() async throws {
        let configuration = try client.configuration()
        guard let cluster = cluster ?? configuration?.cluster else {
            throw CommandFailure("saatkond wal-push: give --cluster, or `cluster =` in the configuration")
        }
        let archive = WALArchive(cluster: cluster)
        let file = FilePath(path)
        guard let name = file.lastComponent?.string, let stream = archive.stream(forFileNamed: name) else {
            throw CommandFailure(
                "saatkond wal-push: \(path) is not a file PostgreSQL archives (a WAL segment, history, backup label or "
                    + "partial file)")
        }
        let send = ConfiguredSend(client: client, configuration: configuration)
        let appliances = try client.appliances(configuration)
        let records = client.records(configuration)
        let policy = FanOutPolicy(
            required: ConfiguredSend.required(configuration, records: records, appliances: appliances.count),
            retry: RetryPolicy(giveUpAfter: .seconds(Int64(clamping: giveUpAfter))),
            grace: .seconds(Int64(clamping: grace)),
            unreachableBackoff: .seconds(configuration?.skipUnreachableFor ?? 30), spoolsSource: true)
        var directory = file
        directory.removeLastComponent()
        let ahead = ReadyFiles(walDirectory: directory).oldest(
            (pushAhead ?? configuration?.pushAhead ?? 8) - 1, besides: name)
        // The file PostgreSQL asked for first, then the others in order. One process and one configuration for
        // several files is what saves time; each next file starts once the previous one is all sent to every
        // appliance, so its
        // connection and new stream overlap the previous one's last flush, but two files never send side by side
        // (measured in Benchmarks/wal: on this machine's two cores, two streams at once were slower than one).
        // After any failure nothing more is pushed ahead: with a required appliance away, each file would wait out
        // its retries, and archive_command would hang for all of them.
        let failed = NIOLockedValueBox(false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var sent = Self.signal()
            let first = sent.fire
            group.addTask {
                defer { first() }
                do {
                    _ = try await send.fanOut(
                        stream: stream, source: file, appliances: appliances, records: records, policy: policy,
                        requestsReceipt: false, command: "wal-push",
                        progress: Self.firing(first, whenSentTo: appliances.count, path: file))
                } catch {
                    failed.withLockedValue { $0 = true }
                    throw error
                }
            }
            for other in ahead {
                await sent.wait()
                guard !failed.withLockedValue({ $0 }), let otherStream = archive.stream(forFileNamed: other.name)
                else { break }
                sent = Self.signal()
                let fire = sent.fire
                group.addTask {
                    defer { fire() }
                    // One pushed ahead that fails is simply still ready, and PostgreSQL asks for it in its turn.
                    guard
                        (try? await send.fanOut(
                            stream: otherStream, source: other.path, appliances: appliances, records: records,
                            policy: policy, requestsReceipt: false, command: "wal-push", launchesCatchUp: false,
                            progress: Self.firing(fire, whenSentTo: appliances.count, path: other.path))) != nil
                    else {
                        failed.withLockedValue { $0 = true }
                        return
                    }
                    other.markDone()
                }
            }
            try await group.waitForAll()
        }
    }

    /// A one-shot signal: `fire` may be called any number of times, from any thread; `wait` returns once it was.
    private static func signal() -> (wait: @Sendable () async -> Void, fire: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        return ({ for await _ in stream {} }, { continuation.finish() })
    }

    /// A progress handler that fires `signal` once every byte of the file at `path` is sent to each of `appliances`
    /// (while one is away, the push's end fires it instead: the next file then waits to see whether this one failed).
    private static func firing(
        _ signal: @escaping @Sendable () -> Void, whenSentTo appliances: Int, path: FilePath
    ) -> @Sendable (String, SendProgress) -> Void {
        // A size that cannot be read never fires early; the file's push ends, and fires, all the same.
        let size = (try? FileSystemCalls.size(at: path)) ?? .max
        let done = NIOLockedValueBox(Set<String>())
        return { appliance, state in
            guard state.startLength + state.bytesSent >= size else { return }
            if done.withLockedValue({ $0.insert(appliance).inserted && $0.count == appliances }) { signal() }
        }
    }
}

/// The files PostgreSQL has marked ready for archiving: `archive_status/<name>.ready` beside the WAL files. Once a
/// file is durable, renaming its status to `.done` is what PostgreSQL's archiver itself does after a successful
/// `archive_command`; the archiver checks that a status file is still `.ready` before it asks for it (PostgreSQL's
/// pgarch.c allows for an earlier archive_command having marked it done), so it does not ask again.
struct ReadyFiles {
    let walDirectory: FilePath

    struct Ready {
        let name: String
        let path: FilePath
        let status: FilePath

        /// Marks the file archived; a rename that fails leaves it ready, and PostgreSQL asks for it again.
        func markDone() {
            var done = status
            done.extension = "done"
            guard (try? FileSystemCalls.rename(status, to: done)) != nil else { return }
            var directory = status
            directory.removeLastComponent()
            // The rename being lost in a power cut only means PostgreSQL pushes the file again, which succeeds.
            try? FileSystemCalls.synchroniseDirectory(directory)
        }
    }

    /// Up to `count` ready files other than `name`, oldest first (history files first, as PostgreSQL orders them).
    func oldest(_ count: Int, besides name: String) -> [Ready] {
        guard count > 0 else { return [] }
        let statusDirectory = walDirectory.appending("archive_status")
        // No status directory (a file pushed by hand) or one that cannot be read: nothing is pushed ahead.
        guard let entries = try? FileSystemCalls.entries(of: statusDirectory) else { return [] }
        let ready = entries.filter { $0.hasSuffix(".ready") }.map { String($0.dropLast(".ready".count)) }
            .filter { $0 != name && WALArchive(cluster: "-").stream(forFileNamed: $0) != nil }
            .sorted { ($0.hasSuffix(".history") ? 0 : 1, $0) < ($1.hasSuffix(".history") ? 0 : 1, $1) }
        let present = ready.lazy.filter { FileSystemCalls.exists(walDirectory.appending($0)) }
        return present.prefix(count).map { name in
            Ready(
                name: name, path: walDirectory.appending(name), status: statusDirectory.appending(name + ".ready"))
        }
    }
}
