import DurableFiles
import ReplicationTransport
import SystemPackage

/// Brings appliances that were left behind up to home's copy, from home's records: for each appliance, its backlog
/// in stream order (WAL files in the order PostgreSQL wrote them), each sent whole from its source (an appliance
/// that holds part of it is checked against the hash chain and given the rest). Appliances are caught up side by
/// side; one that is still unreachable stops only its own catch-up, and its records stay for the next one.
public struct CatchUp: Sendable {
    /// The appliances, by name.
    public var appliances: [NamedEndpoint]
    /// Home's records.
    public var records: HomeRecords
    /// Retries of each stream before its appliance is left for the next catch-up.
    public var retry: RetryPolicy
    /// How long later sends skip an appliance this catch-up could not reach.
    public var unreachableBackoff: Duration

    /// Creates a catch-up.
    public init(
        appliances: [NamedEndpoint], records: HomeRecords, retry: RetryPolicy = RetryPolicy(giveUpAfter: .seconds(30)),
        unreachableBackoff: Duration = .seconds(30)
    ) {
        self.appliances = appliances
        self.records = records
        self.retry = retry
        self.unreachableBackoff = unreachableBackoff
    }

    /// What one appliance's catch-up did.
    public struct Outcome: Sendable, Hashable {
        /// Streams it now holds whole.
        public var caughtUp: [String] = []
        /// Streams it still lacks, with the reason.
        public var failed: [String: String] = [:]
    }

    /// Runs the catch-up of every appliance with a backlog; returns what each achieved.
    public func run() async throws -> [String: Outcome] {
        let backlogs = try records.backlogs()
        let names = Set(backlogs.map(\.appliance))
        let records = self.records
        let retry = self.retry
        let backoff = self.unreachableBackoff
        return await withTaskGroup(of: (String, Outcome).self) { group in
            for appliance in appliances where names.contains(appliance.name) {
                let mine = backlogs.filter { $0.appliance == appliance.name }
                group.addTask {
                    (appliance.name, await Self.catchUp(appliance, mine, records, retry, backoff))
                }
            }
            var outcomes: [String: Outcome] = [:]
            for await (name, outcome) in group { outcomes[name] = outcome }
            for name in names where !appliances.contains(where: { $0.name == name }) {
                outcomes[name] = Outcome(failed: ["*": "the configuration no longer names this appliance"])
            }
            return outcomes
        }
    }

    private static func catchUp(
        _ appliance: NamedEndpoint, _ backlogs: [Backlog], _ records: HomeRecords, _ retry: RetryPolicy,
        _ backoff: Duration
    ) async -> Outcome {
        var outcome = Outcome()
        let sender = StreamSender(endpoint: appliance.endpoint, retry: retry, mode: .resume)
        for backlog in backlogs {
            // Home's copy must still be the bytes the appliance was left without: a file changed or replaced at home
            // is never sent as the stream. A record of a send that was killed has no head; its source is then sent
            // as it is, and the appliance's prefix is still checked against it.
            if let head = backlog.head {
                do {
                    guard try HomeRecords.head(of: FilePath(backlog.source), length: backlog.homeLength) == head else {
                        outcome.failed[backlog.stream] =
                            "home's copy \(backlog.source) no longer hashes to the head it had when it was sent"
                        continue
                    }
                } catch {
                    // Never a reason to forget the record: home's copy may be on a disk that comes back.
                    outcome.failed[backlog.stream] = "home's copy \(backlog.source) cannot be read: \(error)"
                    continue
                }
            }
            let input: FileDescriptor
            do {
                input = try FileSystemCalls.open(FilePath(backlog.source), .readOnly, options: [.closeOnExec])
            } catch {
                outcome.failed[backlog.stream] = "home's copy \(backlog.source) cannot be opened: \(error)"
                continue
            }
            defer { FileSystemCalls.release(input) }
            let sent: SendReport
            do {
                sent = try await sender.send(stream: backlog.stream, from: input)
            } catch let error as ReplicationError where error.kind == .connection {
                outcome.failed[backlog.stream] = "\(error)"
                // Only makes later sends try it again sooner: the record stays, whatever this write does.
                try? records.markUnreachable(
                    appliance.name, until: millisecondsSince1970() + UInt64(backoff.components.seconds) * 1000)
                return outcome
            } catch {
                outcome.failed[backlog.stream] = "\(error)"
                continue
            }
            guard backlog.head == nil || sent.durableLength == backlog.homeLength else {
                outcome.failed[backlog.stream] =
                    "the appliance holds \(sent.durableLength) bytes, home's copy \(backlog.homeLength)"
                continue
            }
            do {
                try records.remove(appliance: appliance.name, stream: backlog.stream)
                try records.releaseSpool(of: backlog.stream)
            } catch {
                outcome.failed[backlog.stream] = "caught up, but home's record cannot be updated: \(error)"
                continue
            }
            outcome.caughtUp.append(backlog.stream)
        }
        // A stale mark only delays the next send's try of this appliance.
        try? records.markReachable(appliance.name)
        return outcome
    }
}

/// How far each appliance is behind home's copy, from home's records.
public struct LagReport: Sendable, Hashable {
    /// One appliance's lag.
    public struct Appliance: Sendable, Hashable {
        /// Its name.
        public var name: String
        /// The streams it lacks bytes of (or is being sent), in order.
        public var streams: [Backlog]
        /// Bytes home holds that it does not.
        public var bytesBehind: UInt64 { streams.reduce(0) { $0 + ($1.homeLength - $1.acknowledged) } }
        /// Seconds since home first held a byte it does not; zero when it holds everything.
        public func secondsBehind(now: UInt64) -> Double {
            guard let oldest = streams.map(\.behindSince).min() else { return 0 }
            return Double(now >= oldest ? now - oldest : 0) / 1000
        }
    }

    /// Every configured appliance, and any other that home's records name.
    public var appliances: [Appliance]

    /// The lag of `configured` appliances (and of any other the records name), as home's records say now.
    public init(configured: [String], records: HomeRecords) throws {
        let backlogs = try records.backlogs()
        var names = configured
        for backlog in backlogs where !names.contains(backlog.appliance) { names.append(backlog.appliance) }
        appliances = names.map { name in Appliance(name: name, streams: backlogs.filter { $0.appliance == name }) }
    }
}
