import DiskLifecycle
import ErasureStore
import Foundation
import Logging
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage

/// The disks service's long work, off the event loop: formatting (forming an array, adopting a disk) on one
/// thread, rebuilds and scrubs on another, each in order. Outcomes go back to the loop through ``onFinished``.
final class MaintenanceWorker: Sendable {
    enum Outcome: Sendable {
        case formed(arrayID: String)
        case formationFailed(String)
        case adopted(DiskIdentity)
        case adoptionFailed(DiskIdentity, String)
        case rebuilt(DiskIdentity)
        case rebuildFailed(DiskIdentity, String)
        case scrubbed
    }

    struct State: Sendable {
        var rebuild: DisksStatus.RebuildStatus?
        var lastRebuild: DisksStatus.RebuildStatus?
        var scrub = DisksStatus.ScrubStatus(running: false, scrubsCompleted: 0)
        var queuedRebuilds: Set<DiskIdentity> = []
    }

    /// What survives a restart: when the last scrub ended, and what it found.
    struct ScrubRecord: Codable {
        var lastCompleted: Double
        var scrubsCompleted: Int
        var report: String?
        var shardsChecked: Int?
        var shardsDamaged: Int?
        var shardsRepaired: Int?
        var unrepairable: [String]?
        /// The last stream a scrub that has not ended finished: a restart resumes after it.
        var resumeAfter: String?
        var interrupted: Bool?
    }

    private let provisioning = SerialWorkQueue(name: "disks-format")
    private let repairs = SerialWorkQueue(name: "disks-rebuild")
    private let shared = Mutex(State())
    private let callbacks = Mutex<(finished: (@Sendable (Outcome) -> Void)?, progress: (@Sendable () -> Void)?)>(
        (nil, nil))
    private let recordPath: String
    private let rebuildBytesPerSecond: Int?
    private let scrubEvery: Duration
    private let logger: Logger

    /// The members root and the storage user that owns what is in it (ingest's): what a rebuild or a scrub writes is
    /// given to that user when it ends, since this service writes as another.
    private let owner: (root: String, uid: UInt32, gid: UInt32)?

    init(
        state: String, rebuildBytesPerSecond: Int?, scrubEvery: Duration, logger: Logger,
        owner: (root: String, uid: UInt32, gid: UInt32)? = nil
    ) {
        self.owner = owner
        recordPath = "\(state)/scrub.json"
        self.rebuildBytesPerSecond = rebuildBytesPerSecond
        self.scrubEvery = scrubEvery
        self.logger = logger
        var record = Self.loadRecord(recordPath)
        if record == nil {
            // The schedule starts with the service, as checkarray's does with the machine: no scrub at first boot.
            record = ScrubRecord(lastCompleted: Date().timeIntervalSince1970, scrubsCompleted: 0)
            Self.save(record!, to: recordPath)
        }
        shared.withLock { state in
            state.scrub = DisksStatus.ScrubStatus(
                running: false, lastCompleted: record?.lastCompleted, lastReport: record?.report,
                shardsChecked: record?.shardsChecked, shardsDamaged: record?.shardsDamaged,
                shardsRepaired: record?.shardsRepaired, unrepairable: record?.unrepairable,
                scrubsCompleted: record?.scrubsCompleted ?? 0)
        }
    }

    var onFinished: (@Sendable (Outcome) -> Void)? {
        get { callbacks.withLock { $0.finished } }
        set { callbacks.withLock { $0.finished = newValue } }
    }

    var onProgress: (@Sendable () -> Void)? {
        get { callbacks.withLock { $0.progress } }
        set { callbacks.withLock { $0.progress = newValue } }
    }

    var state: State { shared.withLock { $0 } }

    private func finish(_ outcome: Outcome) { onFinished?(outcome) }

    // MARK: Formatting

    func enqueueFormation(_ members: [DiskAssignment], formatter: DiskFormatter, configuration: DisksConfiguration) {
        provisioning.enqueue { [self] in
            do {
                var roots: [FilePath] = []
                for member in members.sorted(by: { $0.member < $1.member }) {
                    try formatter.format(member.device, overwrite: false)
                    let mountPoint = formatter.mountPoint(of: member.identity)
                    try formatter.mount(member.device, at: mountPoint)
                    roots.append(FilePath(mountPoint))
                }
                let geometry = try ArrayGeometry(
                    dataShards: configuration.dataShards, parityShards: configuration.parityShards,
                    memberCount: configuration.dataShards + configuration.parityShards)
                let arrayID = try ErasureCodedStore.create(members: roots, geometry: geometry)
                giveToOwner()
                finish(.formed(arrayID: DiskInspector.hex(arrayID)))
            } catch {
                finish(.formationFailed("\(error)"))
            }
        }
    }

    func enqueueAdoption(_ assignment: DiskAssignment, formatter: DiskFormatter, store: ErasureCodedStore) {
        provisioning.enqueue { [self] in
            do {
                try formatter.format(assignment.device, overwrite: assignment.overwrite)
                let mountPoint = formatter.mountPoint(of: assignment.identity)
                try formatter.mount(assignment.device, at: mountPoint)
                try store.adoptReplacement(FilePath(mountPoint), as: assignment.member)
                giveToOwner()
                finish(.adopted(assignment.identity))
            } catch {
                finish(.adoptionFailed(assignment.identity, "\(error)"))
            }
        }
    }

    // MARK: Rebuilds and scrubs

    /// Whether a rebuild of `identity` is queued or running.
    func isRebuilding(_ identity: DiskIdentity) -> Bool {
        shared.withLock { $0.queuedRebuilds.contains(identity) }
    }

    func enqueueRebuild(_ assignment: DiskAssignment, store: ErasureCodedStore) {
        let fresh = shared.withLock { $0.queuedRebuilds.insert(assignment.identity).inserted }
        guard fresh else { return }
        repairs.enqueue { [self] in
            defer { _ = shared.withLock { $0.queuedRebuilds.remove(assignment.identity) } }
            let identity = assignment.identity.description
            let start = RebuildStatus(member: assignment.member, disk: identity)
            shared.withLock { $0.rebuild = start.status }
            logger.info("rebuild started", metadata: ["member": "\(assignment.member)", "disk": "\(identity)"])
            // The store finds a disk mounted for an absent position at its next look at the members root (rate
            // limited): give it a few of those before the rebuild asks for the position.
            let deadline = ContinuousClock.now + .seconds(10)
            while store.memberDirectories[assignment.member] == nil
                || store.absentMemberIndices()[assignment.member] != nil, ContinuousClock.now < deadline
            {
                Thread.sleep(forTimeInterval: 0.1)
            }
            do {
                let report = try store.rebuild(member: assignment.member, bytesPerSecond: rebuildBytesPerSecond) {
                    progress in
                    self.shared.withLock { state in
                        state.rebuild = DisksStatus.RebuildStatus(
                            member: assignment.member, disk: identity, segmentsDone: progress.segmentsDone,
                            segmentsTotal: progress.segmentsTotal, bytesWritten: progress.bytesWritten,
                            bytesPerSecond: progress.bytesPerSecond, shardsAlreadyIntact: nil)
                    }
                    self.onProgress?()
                }
                shared.withLock { state in
                    var last = state.rebuild ?? start.status
                    last.shardsAlreadyIntact = report.shardsAlreadyIntact
                    last.segmentsDone = last.segmentsTotal
                    state.lastRebuild = last
                    state.rebuild = nil
                }
                logger.info(
                    "rebuild finished",
                    metadata: [
                        "member": "\(assignment.member)", "written": "\(report.shardsWritten)",
                        "intact": "\(report.shardsAlreadyIntact)", "unrepairable": "\(report.unrepairable.count)",
                    ])
                giveToOwner()
                // `caughtUp`: every shard and journal copy of the position is on the disk and its records of missed
                // writes are gone. Not yet (a stream's appender held its journal, more than m members were away):
                // the rebuild runs again when a disk arrives, or within 30 s.
                if report.caughtUp {
                    finish(.rebuilt(assignment.identity))
                } else {
                    let behind = report.unrepairable + report.journalsBehind
                    finish(
                        .rebuildFailed(
                            assignment.identity,
                            "not caught up yet: \(report.unrepairable.count) segments cannot be rebuilt now, "
                                + "\(report.journalsBehind.count) journals are behind"
                                + (behind.isEmpty ? "" : " (\(behind.prefix(5).joined(separator: ", ")))")))
                }
            } catch {
                shared.withLock { $0.rebuild = nil }
                finish(.rebuildFailed(assignment.identity, "\(error)"))
            }
        }
    }

    /// Whether a scheduled scrub is due: its period passed since the last one ended, and no rebuild waits.
    func scrubDue() -> Bool {
        let interrupted = Self.loadRecord(recordPath)?.interrupted == true
        return shared.withLock { state in
            guard !state.scrub.running, state.rebuild == nil, state.queuedRebuilds.isEmpty else { return false }
            if interrupted { return true }
            let last = state.scrub.lastCompleted ?? 0
            return Date().timeIntervalSince1970 - last >= Double(scrubEvery.components.seconds)
        }
    }

    /// Scrubs the whole array now (also on demand); a scrub already queued or running is not doubled.
    @discardableResult
    func enqueueScrub(store: ErasureCodedStore) -> Bool {
        let fresh = shared.withLock { state in
            guard !state.scrub.running else { return false }
            state.scrub.running = true
            return true
        }
        guard fresh else { return false }
        onProgress?()
        repairs.enqueue { [self] in
            var record = Self.loadRecord(recordPath) ?? ScrubRecord(lastCompleted: 0, scrubsCompleted: 0)
            let resumeAfter = record.interrupted == true ? record.resumeAfter.flatMap { try? StreamName($0) } : nil
            logger.info("scrub started", metadata: ["after": "\(resumeAfter?.rawValue ?? "the first stream")"])
            record.interrupted = true
            record.resumeAfter = resumeAfter?.rawValue
            Self.save(record, to: recordPath)
            let report = store.scrub(resumingAfter: resumeAfter, bytesPerSecond: rebuildBytesPerSecond) {
                finished, soFar in
                // Where a restart takes the scrub up again, and what it found so far, for the state socket.
                record.resumeAfter = finished.rawValue
                Self.save(record, to: recordPath)
                self.shared.withLock { state in
                    state.scrub.shardsChecked = soFar.shardsChecked
                    state.scrub.shardsDamaged = soFar.shardsDamaged
                    state.scrub.shardsRepaired = soFar.shardsRepaired
                }
                self.onProgress?()
                return true
            }
            record = ScrubRecord(
                lastCompleted: Date().timeIntervalSince1970,
                scrubsCompleted: shared.withLock { $0.scrub.scrubsCompleted } + 1, report: report.description,
                shardsChecked: report.shardsChecked, shardsDamaged: report.shardsDamaged,
                shardsRepaired: report.shardsRepaired, unrepairable: report.unrepairable, resumeAfter: nil,
                interrupted: false)
            Self.save(record, to: recordPath)
            giveToOwner()
            shared.withLock { state in
                state.scrub = DisksStatus.ScrubStatus(
                    running: false, lastCompleted: record.lastCompleted, lastReport: record.report,
                    shardsChecked: record.shardsChecked, shardsDamaged: record.shardsDamaged,
                    shardsRepaired: record.shardsRepaired, unrepairable: record.unrepairable,
                    scrubsCompleted: record.scrubsCompleted)
            }
            logger.info("scrub finished", metadata: ["report": "\(report)"])
            finish(.scrubbed)
        }
        return true
    }

    /// Gives the members root to the storage user: files a rebuild or scrub created belong to it, as those ingest
    /// writes do (each member is its own file system, so the walk stays on the members). The custody log's copies
    /// (`audit.log` and those set aside) stay root's: ingest may read them, never write them, not even for a moment.
    private func giveToOwner() {
        guard let owner else { return }
        do {
            try ExternalTool("find", package: "findutils").check([
                owner.root, "!", "-name", "audit.log", "!", "-name", "audit.log.set-aside-*", "-exec", "chown", "-h",
                "\(owner.uid):\(owner.gid)", "{}", "+",
            ])
        } catch {
            logger.error("giving rebuilt files to the storage user failed", metadata: ["error": "\(error)"])
        }
    }

    func stop() {
        provisioning.stop()
        repairs.stop()
    }

    private static func loadRecord(_ path: String) -> ScrubRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(ScrubRecord.self, from: data)
    }

    private static func save(_ record: ScrubRecord, to path: String) {
        guard let data = try? JSONEncoder().encode(record) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    private struct RebuildStatus {
        var member: Int
        var disk: String
        var status: DisksStatus.RebuildStatus {
            DisksStatus.RebuildStatus(
                member: member, disk: disk, segmentsDone: 0, segmentsTotal: 0, bytesWritten: 0, bytesPerSecond: 0,
                shardsAlreadyIntact: nil)
        }
    }
}

/// One thread running queued work in order.
final class SerialWorkQueue: Sendable {
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let condition = NSCondition()
    private let stopping = Atomic<Bool>(false)

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.withLock { $0.append(work) }
        condition.signal()
        condition.unlock()
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.withLock({ $0.isEmpty }) && !stopping.load(ordering: .acquiring) { condition.wait() }
            condition.unlock()
            if stopping.load(ordering: .acquiring) { return }
            let work = queue.withLock { $0.removeFirst() }
            work()
        }
    }
}
