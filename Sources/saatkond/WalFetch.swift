import ArgumentParser
import DurableFiles
import Foundation
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// `saatkond wal-fetch %f %p`: PostgreSQL's `restore_command`.
struct WalFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-fetch",
        abstract: "Fetch one archived WAL file (PostgreSQL's restore_command: saatkond wal-fetch %f %p).",
        discussion: """
            Tries the configured appliances in order. Exits 0 once the file is written whole (checked against its \
            hash chain, and a WAL segment against the size its first page states); exits 1 with nothing written \
            when no appliance holds it, which is how PostgreSQL learns the archive ends there.
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The cluster's prefix (default: the configuration's `cluster`).")
    var cluster: String?

    @Argument(help: "The archived file's name (%f).")
    var name: String

    @Argument(help: "Where PostgreSQL wants it (%p).")
    var destination: String

    func run() async throws {
        let configuration = try client.configuration()
        guard let cluster = cluster ?? configuration?.cluster else {
            throw CommandFailure("saatkond wal-fetch: give --cluster, or `cluster =` in the configuration")
        }
        guard let stream = WALArchive(cluster: cluster).stream(forFileNamed: name) else {
            throw CommandFailure("saatkond wal-fetch: \(name) is not a name PostgreSQL archives")
        }
        var reasons: [String] = []
        var everyAnswerIsAbsent = true
        for appliance in try client.appliances(configuration, reading: true) {
            do {
                try await fetch(stream, from: appliance.endpoint)
                return
            } catch let error as ReplicationError {
                reasons.append("\(appliance.name): \(error)")
                if !(error.kind == .refused && error.code == .unknownStream) { everyAnswerIsAbsent = false }
            } catch let error as SegmentNotWhole {
                reasons.append("\(appliance.name): \(error)")
            } catch {
                reasons.append("\(appliance.name): \(error)")
                everyAnswerIsAbsent = false
            }
        }
        let text = reasons.joined(separator: "; ")
        guard everyAnswerIsAbsent else {
            // Exit 1 tells PostgreSQL the archive ends here, and it would end the recovery (and choose a timeline)
            // without this file. An appliance that did not answer may hold it: a status above 125 makes PostgreSQL
            // stop the recovery instead, to be run again when the appliances answer.
            FileHandle.standardError.write(
                Data(
                    "saatkond wal-fetch: \(name) cannot be fetched, and not every appliance says it lacks it: \(text)\n"
                        .utf8))
            throw ExitCode(255)
        }
        throw CommandFailure("saatkond wal-fetch: \(name) is not in the archive: \(text)")
    }

    /// Restores `stream` next to the destination, checks a segment is whole, and only then gives it its name.
    private func fetch(_ stream: String, from endpoint: ReplicationEndpoint) async throws {
        let target = FilePath(destination)
        let fetched = FilePath(destination + ".saatkond-fetch")
        let length = try await StreamRestorer(endpoint: endpoint).restore(stream: stream, toFileAt: fetched)
        do {
            if WALArchive.isSegment(name) {
                var first = [UInt8](repeating: 0, count: WALSegmentHeader.length)
                let read = try first.withUnsafeMutableBytes { try FileSystemCalls.read(fetched, into: $0) }
                guard let header = WALSegmentHeader(first[..<read]) else {
                    throw SegmentNotWhole("the archived \(name) does not begin with a WAL segment's long page header")
                }
                guard UInt64(header.segmentSize) == length else {
                    throw SegmentNotWhole(
                        "the archive holds \(length) bytes of segment \(name), whose header states \(header.segmentSize) "
                            + "(a push that was cut off): treated as absent")
                }
            }
            try FileSystemCalls.rename(fetched, to: target)
        } catch {
            // The fetched copy is either not whole or could not be named; either way nothing may look fetched.
            try? FileSystemCalls.remove(fetched)
            throw error
        }
        var directory = target
        directory.removeLastComponent()
        try FileSystemCalls.synchroniseDirectory(directory.isEmpty ? "." : directory)
    }
}

/// An archived segment that is not a whole one: as good as absent, for PostgreSQL.
private struct SegmentNotWhole: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
