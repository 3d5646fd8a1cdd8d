import ArgumentParser
import Foundation
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
            are identical and fails when they differ.
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The cluster's prefix (default: the configuration's `cluster`).")
    var cluster: String?

    @Option(help: "Seconds to go on retrying the required appliances without progress.")
    var giveUpAfter: UInt = 60

    @Option(help: "Seconds the other appliances may still take once the required ones hold the file.")
    var grace: UInt = 5

    @Argument(help: "The WAL file to archive (%p).")
    var path: String

    func run() async throws {
        let configuration = try client.configuration()
        guard let cluster = cluster ?? configuration?.cluster else {
            throw CommandFailure("saatkond wal-push: give --cluster, or `cluster =` in the configuration")
        }
        let file = FilePath(path)
        guard let name = file.lastComponent?.string,
            let stream = WALArchive(cluster: cluster).stream(forFileNamed: name)
        else {
            throw CommandFailure(
                "saatkond wal-push: \(path) is not a file PostgreSQL archives (a WAL segment, history, "
                    + "backup label or partial file)")
        }
        let send = ConfiguredSend(client: client, configuration: configuration)
        let policy = FanOutPolicy(
            required: configuration?.required ?? 1,
            retry: RetryPolicy(giveUpAfter: .seconds(Int64(clamping: giveUpAfter))),
            grace: .seconds(Int64(clamping: grace)),
            unreachableBackoff: .seconds(configuration?.skipUnreachableFor ?? 30), spoolsSource: true)
        _ = try await send.fanOut(
            stream: stream, source: file, appliances: try client.appliances(configuration),
            records: client.records(configuration), policy: policy, requestsReceipt: false, command: "wal-push")
    }
}
