import DurableFiles
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import ReplicationProtocol
import ReplicationTransport
import StreamStore
import SystemPackage

/// An appliance and its name in home's configuration and records.
public struct NamedEndpoint: Sendable {
    /// The configured name.
    public var name: String
    /// Where it listens, and the TLS identity to use.
    public var endpoint: ReplicationEndpoint

    /// Creates a named endpoint.
    public init(name: String, endpoint: ReplicationEndpoint) {
        self.name = name
        self.endpoint = endpoint
    }
}

/// When a send to several appliances succeeds, and what it does about the ones that do not answer.
public struct FanOutPolicy: Sendable {
    /// Appliances that must hold the whole stream before the send succeeds.
    public var required: Int
    /// Retries of each appliance while fewer than ``required`` hold the stream.
    public var retry: RetryPolicy
    /// Once ``required`` appliances hold the stream, how much longer the others may take before they are left to
    /// catch up from home's records: one unreachable embassy never holds up the others for longer than this.
    public var grace: Duration
    /// How long later sends skip an appliance that was left behind, so that each one does not wait for it again.
    public var unreachableBackoff: Duration
    /// Whether the source goes away after the send (a WAL file PostgreSQL recycles): an appliance left behind then
    /// needs a copy of it in home's spool.
    public var spoolsSource: Bool

    /// Creates a policy.
    public init(
        required: Int = 1, retry: RetryPolicy = RetryPolicy(), grace: Duration = .seconds(5),
        unreachableBackoff: Duration = .seconds(30), spoolsSource: Bool = false
    ) {
        precondition(required >= 1)
        self.required = required
        self.retry = retry
        self.grace = grace
        self.unreachableBackoff = unreachableBackoff
        self.spoolsSource = spoolsSource
    }
}

/// What a send to several appliances achieved.
public struct FanOutReport: Sendable {
    /// The stream's length: the source's size.
    public var length: UInt64
    /// The appliances that hold the whole stream durably, with their receipts when asked for.
    public var durable: [String: Receipt?]
    /// The appliances that do not, and why; each has a backlog record in home's records to catch up from.
    public var behind: [String: String]
    /// The appliances that refused in a way no retry cures (they hold other bytes under this name, or refuse this
    /// sender): the send fails, and no backlog is kept for them, since a catch-up could only fail again.
    public var rejected: [String: String] = [:]
}

/// A send to several appliances that fails: fewer than the required number hold the stream.
public struct FanOutError: Error, Sendable, CustomStringConvertible {
    /// The report of what did succeed.
    public var report: FanOutReport
    /// How many were required.
    public var required: Int

    public var description: String {
        let reasons = report.rejected.merging(report.behind) { rejected, _ in rejected }.sorted { $0.key < $1.key }
            .map { "\($0.key): \($0.value)" }
        if !report.rejected.isEmpty {
            return "refused by \(report.rejected.keys.sorted().joined(separator: ", ")), which no retry cures; "
                + reasons.joined(separator: "; ")
        }
        return "\(report.durable.count) of the \(required) appliances required hold the stream; "
            + reasons.joined(separator: "; ")
    }
}

/// Sends one file, as a whole stream, to several appliances at once; each is sent from its own descriptor, so a
/// slow or unreachable one holds up no other.
///
/// With home's records, every appliance has a ``Backlog`` while its send runs (what `saatkond lag` shows); the
/// records of those left behind are flushed before the send returns, and `saatkond catch-up` finishes them. Every
/// stream is sent whole (``SendMode/resume``): an appliance that already holds part of it is checked against its
/// hash chain and given the rest, so any appliance can be brought to the same bytes from home's copy alone.
public struct FanOutSender: Sendable {
    /// The appliances.
    public var appliances: [NamedEndpoint]
    /// Home's records, if any.
    public var records: HomeRecords?
    /// When the send succeeds.
    public var policy: FanOutPolicy
    /// Whether to ask each appliance for a signed receipt.
    public var requestsReceipt: Bool

    /// Creates a sender.
    public init(
        appliances: [NamedEndpoint], records: HomeRecords?, policy: FanOutPolicy, requestsReceipt: Bool = false
    ) {
        precondition(!appliances.isEmpty && policy.required <= appliances.count)
        self.appliances = appliances
        self.records = records
        self.policy = policy
        self.requestsReceipt = requestsReceipt
    }

    private enum Outcome: Sendable {
        case finished(String, Result<SendReport, any Error>)
        case graceOver
    }

    /// Sends the file at `path` as the whole of `stream` to every appliance; returns once ``FanOutPolicy/required``
    /// hold it and the others either hold it too or have a flushed backlog record. `progress` hears each appliance's.
    ///
    /// With `growing`, the file is still being written (standard input, spooled as it arrives) and every appliance
    /// is sent its bytes as they come; it becomes home's copy at `keptAt` when an appliance is left behind, and is
    /// removed when none is.
    public func send(
        stream: String, fileAt path: FilePath, growing: GrowingFile? = nil, keptAt: FilePath? = nil,
        progress: @escaping @Sendable (_ appliance: String, SendProgress) -> Void = { _, _ in }
    ) async throws -> FanOutReport {
        // The name becomes a file name in home's records before any appliance sees it.
        do {
            _ = try StreamName(stream)
        } catch {
            throw ReplicationError.configuration("\(error)")
        }
        var length: UInt64 = 0
        if growing == nil {
            do {
                length = try FileSystemCalls.size(at: path)
            } catch {
                throw ReplicationError.localIO("cannot read \(path): \(error)")
            }
        }
        let source = Self.absolute(path)
        let recorded = keptAt.map(Self.absolute) ?? source
        let now = millisecondsSince1970()
        var report = FanOutReport(length: length, durable: [:], behind: [:])
        let marks = self.records
        var active = appliances.filter { appliance in
            guard let until = marks?.unreachableUntil(appliance.name) else { return true }
            return until <= now
        }
        // Skipping must never make the required number unreachable: then every appliance is tried.
        if active.count < policy.required { active = appliances }
        for appliance in appliances where !active.contains(where: { $0.name == appliance.name }) {
            report.behind[appliance.name] =
                "skipped: unreachable at the last try, tried again \(policy.unreachableBackoff) after it"
        }
        // Only the appliances tried now are given records now; a skipped one's is written with the others left
        // behind, below, once it is known whether the source needs a spooled copy.
        let started = try startRecords(
            for: active.map(\.name), stream: stream, length: length, source: recorded, at: now)
        let policy = self.policy
        let records = self.records
        let requestsReceipt = self.requestsReceipt
        // A sender of a growing file waits on a pool thread for bytes, as on a pipe: one thread each, apart from the
        // process's shared pool.
        let pool = growing.map { _ in NIOThreadPool(numberOfThreads: max(1, active.count)) }
        pool?.start()
        defer { pool?.shutdownGracefully { _ in } }
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            for appliance in active {
                let lastWrite = NIOLockedValueBox(UInt64(0))
                group.addTask {
                    let result: Result<SendReport, any Error>
                    do {
                        let input = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
                        defer { FileSystemCalls.release(input) }
                        let sender = StreamSender(
                            endpoint: appliance.endpoint, retry: policy.retry, mode: .resume,
                            requestsReceipt: requestsReceipt, threadPool: pool ?? .singleton)
                        result = .success(
                            try await sender.send(stream: stream, from: input, growing: growing) { state in
                                progress(appliance.name, state)
                                if var record = started[appliance.name] {
                                    record.homeLength = max(record.homeLength, growing?.writtenSoFar ?? 0)
                                    Self.note(state, in: record, records: records, lastWrite: lastWrite)
                                }
                            })
                    } catch {
                        result = .failure(error)
                    }
                    return .finished(appliance.name, result)
                }
            }
            var pending = active.count
            var graceStarted = false
            while pending > 0, let outcome = try await group.next() {
                switch outcome {
                case .graceOver:
                    group.cancelAll()
                case .finished(let name, .success(let sent)):
                    pending -= 1
                    report.durable[name] = .some(sent.receipt)
                    // At once, not when the last appliance ends: `lag` must not show this one behind meanwhile. A
                    // failure here leaves a record that the end of the send removes again.
                    try? records?.remove(appliance: name, stream: stream)
                case .finished(let name, .failure(let error as ReplicationError)) where !error.isWorthRetrying:
                    pending -= 1
                    report.rejected[name] = "\(error)"
                case .finished(let name, .failure(let error)):
                    pending -= 1
                    report.behind[name] =
                        error is CancellationError
                        ? "still sending when \(policy.required) appliances held the stream and the grace of "
                            + "\(policy.grace) ran out"
                        : "\(error)"
                }
                if !graceStarted, pending > 0, report.durable.count >= policy.required {
                    graceStarted = true
                    group.addTask {
                        // Cancelled with the group when every send finished first; either way the loop ends.
                        try? await Task.sleep(for: policy.grace)
                        return .graceOver
                    }
                }
            }
            group.cancelAll()
        }
        if let growing {
            do {
                length = try await NIOThreadPool.singleton.runIfActive { try growing.waitForEnd() }
            } catch {
                // A stream cut off by its input is no stream to catch up on; what the appliances hold of it stays.
                for name in active.map(\.name) { try? records?.remove(appliance: name, stream: stream) }
                try? FileSystemCalls.remove(path)
                throw ReplicationError.localIO("cannot read the input: \(error)")
            }
            report.length = length
        }
        try finishRecords(
            report, stream: stream, length: length, source: source, kept: recorded, moves: keptAt != nil,
            started: started, now: now)
        guard report.durable.count >= policy.required, report.rejected.isEmpty else {
            throw FanOutError(report: report, required: policy.required)
        }
        return report
    }

    /// Writes a record for each appliance about to be sent to and returns them: one left by an earlier send of this
    /// stream keeps its time (the appliance has lacked the bytes since then) and its source (a spooled copy).
    private func startRecords(
        for names: [String], stream: String, length: UInt64, source: String, at now: UInt64
    ) throws -> [String: Backlog] {
        guard let records else { return [:] }
        var started: [String: Backlog] = [:]
        for name in names {
            // A record that cannot be read is replaced: this send starts the appliance's record of the stream afresh.
            let earlier = try? records.backlog(of: name, stream: stream)
            let record = Backlog(
                appliance: name, stream: stream, homeLength: length, acknowledged: earlier?.acknowledged ?? 0,
                behindSince: min(earlier?.behindSince ?? now, now), source: earlier?.source ?? source)
            do {
                try records.record(record, durable: false)
            } catch {
                throw ReplicationError.localIO("cannot write home's record in \(records.directory): \(error)")
            }
            started[name] = record
        }
        return started
    }

    /// Removes the records of the appliances that hold the stream (and of those that rejected it), and flushes those
    /// of the others with the head of home's copy, which a catch-up checks before it sends. When the source goes
    /// away, the records name its spooled copy and are written before the copy: a catch-up that meets a record whose
    /// copy is not there yet leaves it for later, where a copy written first could be released by a catch-up of
    /// another appliance before these records exist.
    ///
    /// With `moves`, the source is a spool file being written aside, renamed to `kept` when an appliance needs it
    /// and removed otherwise.
    private func finishRecords(
        _ report: FanOutReport, stream: String, length: UInt64, source: String, kept recorded: String, moves: Bool,
        started: [String: Backlog], now: UInt64
    ) throws {
        guard let records else { return }
        do {
            for name in report.durable.keys {
                try records.remove(appliance: name, stream: stream)
                try records.markReachable(name)
            }
            for name in report.rejected.keys {
                try records.remove(appliance: name, stream: stream)
            }
            guard !report.behind.isEmpty else {
                if moves { try FileSystemCalls.remove(FilePath(source)) }
                try records.releaseSpool(of: stream)
                return
            }
            let head = try HomeRecords.head(of: FilePath(source), length: length)
            let kept = policy.spoolsSource ? records.spoolDestination(of: stream).string : recorded
            for name in report.behind.keys.sorted() {
                // A record that cannot be read is replaced by this one, which says what the appliance lacks now.
                let previous = started[name] ?? (try? records.backlog(of: name, stream: stream))
                try records.record(
                    Backlog(
                        appliance: name, stream: stream, homeLength: length,
                        acknowledged: min(previous?.acknowledged ?? 0, length),
                        behindSince: previous?.behindSince ?? now, source: kept, head: head),
                    durable: true)
                if records.unreachableUntil(name) == nil || !report.behind[name]!.hasPrefix("skipped") {
                    try records.markUnreachable(
                        name, until: now + UInt64(policy.unreachableBackoff.components.seconds) * 1000)
                }
            }
            if policy.spoolsSource { _ = try records.spool(FilePath(source), as: stream) }
            if moves {
                var directory = FilePath(kept)
                directory.removeLastComponent()
                try FileSystemCalls.rename(FilePath(source), to: FilePath(kept))
                try FileSystemCalls.synchroniseDirectory(directory)
            }
        } catch {
            throw ReplicationError.localIO("cannot update home's records in \(records.directory): \(error)")
        }
    }

    /// Records an appliance's progress at most once a second: `saatkond lag` reads it while the send runs.
    private static func note(
        _ state: SendProgress, in record: Backlog, records: HomeRecords?, lastWrite: NIOLockedValueBox<UInt64>
    ) {
        guard let records else { return }
        let now = millisecondsSince1970()
        let due = lastWrite.withLockedValue { last in
            guard now >= last + 1000 else { return false }
            last = now
            return true
        }
        guard due else { return }
        var progressed = record
        progressed.acknowledged = min(state.startLength + state.bytesAcknowledged, record.homeLength)
        // A lost progress note only makes `lag` show less progress than there is, until the send ends.
        try? records.record(progressed, durable: false)
    }

    private static func absolute(_ path: FilePath) -> String {
        if path.isAbsolute { return path.string }
        return FilePath(FileManager.default.currentDirectoryPath).pushing(path).string
    }
}
