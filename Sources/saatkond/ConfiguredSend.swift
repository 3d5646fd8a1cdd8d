import DurableFiles
import Foundation
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// A send through home's sender configuration: to every configured appliance at once, with home's records of what
/// each still lacks; used by `send --config` and `wal-push`.
struct ConfiguredSend {
    let client: ClientOptions
    let configuration: SenderConfiguration?

    /// Sends `input` (a file, or `-` for standard input) as the whole of `stream`. Standard input is written to
    /// home's spool as it arrives and sent to every appliance from there at the same time, so one that is slow or
    /// away holds up no other; the spooled copy stays only when an appliance is left behind.
    func send(stream: String, input: String, receipt: String?, giveUpAfter: UInt) async throws {
        let appliances = try client.appliances(configuration)
        let records = client.records(configuration)
        var source = FilePath(input)
        var growing: GrowingFile?
        var keptAt: FilePath?
        if input == "-" {
            guard let records else {
                throw CommandFailure(
                    "saatkond send: a send from standard input with --config needs `state =` in the configuration: "
                        + "the input is kept in home's spool until every appliance holds it")
            }
            if try records.spoolIsNeeded(for: stream) {
                throw CommandFailure(
                    "saatkond send: an earlier send of \(stream) still waits in home's spool for an appliance to catch "
                        + "up; run `saatkond catch-up` (or send the same input again with that file) first")
            }
            let spooled = try spool(standardInputAs: stream, in: records)
            (source, growing, keptAt) = (spooled.path, spooled.growing, records.spoolDestination(of: stream))
        }
        let policy = FanOutPolicy(
            required: Self.required(configuration, records: records, appliances: appliances.count),
            retry: RetryPolicy(giveUpAfter: .seconds(Int64(clamping: giveUpAfter))),
            grace: .seconds(Int64(clamping: giveUpAfter)),
            unreachableBackoff: .seconds(configuration?.skipUnreachableFor ?? 30))
        let report = try await fanOut(
            stream: stream, source: source, appliances: appliances, records: records, policy: policy,
            requestsReceipt: receipt != nil, command: "send", growing: growing, keptAt: keptAt)
        if let receipt {
            for (name, signed) in report.durable {
                guard let signed else { continue }
                let path = appliances.count == 1 ? receipt : "\(receipt).\(name)"
                do {
                    try signed.text.write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw CommandFailure(
                        "saatkond send: everything is durable, but the receipt cannot be written to \(path): \(error)")
                }
            }
        }
    }

    /// Sends `source` to every appliance under `policy`, tells the operator about any left behind, and starts a
    /// catch-up when an appliance that answered has older streams to catch up on.
    func fanOut(
        stream: String, source: FilePath, appliances: [NamedEndpoint], records: HomeRecords?, policy: FanOutPolicy,
        requestsReceipt: Bool, command: String, launchesCatchUp: Bool = true, growing: GrowingFile? = nil,
        keptAt: FilePath? = nil, progress: @escaping @Sendable (_ appliance: String, SendProgress) -> Void = { _, _ in }
    ) async throws -> FanOutReport {
        let sender = FanOutSender(
            appliances: appliances, records: records, policy: policy, requestsReceipt: requestsReceipt)
        let report: FanOutReport
        do {
            report = try await sender.send(
                stream: stream, fileAt: source, growing: growing, keptAt: keptAt, progress: progress)
        } catch let error as FanOutError {
            throw CommandFailure("saatkond \(command): \(stream): \(error)")
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond \(command): \(stream): \(error)")
        }
        let durable = report.durable.keys.sorted().joined(separator: ", ")
        for (name, reason) in report.behind.sorted(by: { $0.key < $1.key }) {
            let line =
                "saatkond \(command): \(stream) is durable on \(durable) but not yet on \(name) (\(reason)); home's "
                + "records keep it for catch-up\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        if launchesCatchUp, let records, let path = client.configurationPath {
            CatchUpLauncher.startIfNeeded(configuration: path, records: records, answered: Array(report.durable.keys))
        }
        return report
    }

    /// The configuration's `required`, or every appliance when home keeps no records: without them, an appliance
    /// left behind could never catch up, so none may be left behind.
    static func required(_ configuration: SenderConfiguration?, records: HomeRecords?, appliances: Int) -> Int {
        records == nil ? appliances : min(configuration?.required ?? 1, appliances)
    }

    /// Starts copying standard input into home's spool, aside from the copy's final name, on a thread of its own
    /// (a blocking read of a pipe); returns the file being written and what tells its readers how far it is.
    private func spool(
        standardInputAs stream: String, in records: HomeRecords
    ) throws -> (path: FilePath, growing: GrowingFile) {
        let path = FilePath(records.spoolDestination(of: stream).string + "~")
        let output: FileDescriptor
        do {
            var directory = path
            directory.removeLastComponent()
            try FileSystemCalls.createDirectories(directory)
            output = try FileSystemCalls.open(
                path, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch {
            throw CommandFailure("saatkond send: cannot keep standard input in home's spool: \(error)")
        }
        let growing = GrowingFile()
        let copier = Thread {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            var total: UInt64 = 0
            do {
                while true {
                    let count = try FileSystemCalls.readSome(.standardInput, into: buffer)
                    if count == 0 { break }
                    try FileSystemCalls.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    total += UInt64(count)
                    growing.grew(by: count)
                }
                // Home's copy must survive a power cut once a record names it: flushed before the input ends.
                try FileSystemCalls.synchroniseData(output)
                try FileSystemCalls.close(output)
                growing.ended(.success(total))
            } catch {
                FileSystemCalls.release(output)
                growing.ended(.failure(error))
            }
        }
        copier.start()
        return (path, growing)
    }
}

/// Starts `saatkond catch-up` in the background when an appliance that just answered has a backlog and no catch-up
/// runs; as pgBackRest's asynchronous archiving does, so that `archive_command` returns without waiting for it.
enum CatchUpLauncher {
    static func startIfNeeded(configuration: String, records: HomeRecords, answered: [String]) {
        guard answered.contains(where: records.hasBacklog) else { return }
        guard !CatchUpLock.isHeld(records.catchUpLock) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["catch-up", "--config", URL(fileURLWithPath: configuration).path, "--quiet"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let log = records.directory.appending("catch-up.log").string
        if FileManager.default.createFile(atPath: log, contents: nil) || FileManager.default.fileExists(atPath: log),
            let handle = FileHandle(forWritingAtPath: log)
        {
            process.standardError = handle
        } else {
            process.standardError = FileHandle.nullDevice
        }
        // The send succeeded either way; a catch-up that cannot start now starts with a later send, or by hand.
        try? process.run()
    }
}
