import Chassis
import CustodyLog
import DiskHealth
import DiskLifecycle
import DurableFiles
import ErasureStore
import Foundation
import Logging
import StoreFormat
import Synchronization
import SystemPackage
import Udev

/// The disks service's shell around the ``DiskLifecycle``: turns udev events into lifecycle events, runs the
/// actions the lifecycle returns, records them, and publishes the state. Touched only on the event loop's thread
/// (hence `@unchecked Sendable`), except for ``status``, which any thread may read.
final class DisksCore: @unchecked Sendable {
    let configuration: DisksConfiguration
    let map: BayMap
    let loop: DisksEventLoop
    let logger: Logger
    let udev: UdevContext
    let monitor: UdevMonitor
    let custody: CustodyLog
    let formatter: DiskFormatter
    let inspector: DiskInspector
    let indicators: BayIndicators
    let keys: StorageKeys
    let maintenance: MaintenanceWorker
    let now: @Sendable () -> ContinuousClock.Instant
    /// The published state, for the socket and the watchdog.
    let status: Mutex<DisksStatus>

    var lifecycle: DiskLifecycle
    /// Udev events waiting out the coalescing window, the last per kernel name.
    private var pending: [String: UdevEvent] = [:]
    private var coalesceUntil: ContinuousClock.Instant?
    /// The medium reported to the lifecycle at each device node, by its kernel disk sequence number.
    private var media: [String: UInt64] = [:]
    private var nextTick: ContinuousClock.Instant
    private var nextHealthPoll: ContinuousClock.Instant
    private var nextRebuildRetry: ContinuousClock.Instant
    private let healthPolling = Atomic<Bool>(false)
    var alarms: [String: String] = [:]
    /// The size each audit source had when last copied in: a source that did not grow is not read again.
    var auditSourceSizes: [String: UInt64] = [:]
    /// Per recorder uid: when its current minute began and how many records it added in it.
    var recordWindows: [UInt32: (start: ContinuousClock.Instant, count: Int)] = [:]
    private var indicatorStates: [Int: IndicatorState] = [:]
    var currentAlarms: [String: String] { alarms }
    func indicatorState(_ bay: Int) -> IndicatorState? { indicatorStates[bay] }
    private(set) var monitorFailure: String?
    private var store: ErasureCodedStore?

    /// How long a burst of udev events is gathered before the devices are read again: a disk inserted raises several
    /// (add, change, the partition scan), and one inspection of its final state is enough.
    static let coalescing = Duration.milliseconds(50)

    init(
        configuration: DisksConfiguration, map: BayMap, loop: DisksEventLoop, logger: Logger, keys: StorageKeys,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) throws {
        self.configuration = configuration
        self.map = map
        self.loop = loop
        self.logger = logger
        self.keys = keys
        self.now = now
        udev = try UdevContext()
        // The monitor listens before the enumeration, so a disk that comes during it is not lost.
        monitor = try UdevMonitor(context: udev)
        try FileManager.default.createDirectory(atPath: configuration.state, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: configuration.membersRoot, withIntermediateDirectories: true)
        custody = try CustodyLog(path: FilePath("\(configuration.state)/custody.log"))
        formatter = DiskFormatter(membersRoot: configuration.membersRoot, owner: configuration.storageOwner)
        inspector = DiskInspector(inspectionRoot: "\(configuration.state)/inspect", formatter: formatter)
        indicators = BayIndicators(map: map, rig: configuration.rig)
        let snapshot = try Self.loadSnapshot(configuration.state)
        var lifecycleConfiguration = LifecycleConfiguration(
            dataShards: configuration.dataShards, parityShards: configuration.parityShards)
        lifecycleConfiguration.minimumDiskBytes = 300 << 20
        lifecycle = DiskLifecycle(configuration: lifecycleConfiguration, restoring: snapshot)
        maintenance = MaintenanceWorker(
            state: configuration.state, rebuildBytesPerSecond: configuration.rebuildBytesPerSecond,
            scrubEvery: configuration.scrubEvery, logger: logger,
            owner: configuration.storageOwner.map { (root: configuration.membersRoot, uid: $0.uid, gid: $0.gid) })
        nextTick = now()
        nextHealthPoll = now() + .seconds(5)
        nextRebuildRetry = now() + .seconds(30)
        status = Mutex(
            DisksStatus(
                chassis: map.chassis, monitor: "starting",
                array: .init(
                    id: nil, dataShards: configuration.dataShards, parityShards: configuration.parityShards,
                    wholeMembers: 0, redundancyMargin: 0, degradedPositions: []),
                bays: [], away: [], rebuild: nil, lastRebuild: nil,
                scrub: .init(running: false, scrubsCompleted: 0), alarms: []))
    }

    // MARK: Start

    /// Watches the monitor, enumerates the chassis and hands the lifecycle the first picture: on the loop.
    func start() throws {
        try loop.watch(monitor.descriptor) { [self] in receiveUdevEvents() }
        maintenance.onFinished = { [self] outcome in loop.execute { self.maintenanceFinished(outcome) } }
        maintenance.onProgress = { [self] in loop.execute { self.publish() } }
        loop.execute { [self] in
            // Disks attached just before the start may still be in udevd's queue, without their bay tags yet.
            if let udevadm = try? ExternalTool("udevadm", package: "udev") {
                _ = try? udevadm.run(["settle", "--timeout=30"])
            }
            var reports: [DiskReport] = []
            do {
                for device in try udev.blockDevices() where device.devType == "disk" {
                    if let report = report(for: device) { reports.append(report) }
                }
            } catch {
                logger.error("enumerating the block devices failed", metadata: ["error": "\(error)"])
            }
            handle(.discovered(reports))
            // After the discovery's mounts: a new log (a new system disk) continues the chain the members kept.
            recordStart()
            importAuditSources()
            publish()
        }
        loop.start { [self] in idle() }
    }

    /// Ends what the service holds once its loop has stopped: the workers, the custody log's lock, the store.
    func stop() {
        maintenance.onFinished = nil
        maintenance.onProgress = nil
        maintenance.stop()
        record("service.stopped", ["service": "disks"])
        custody.close()
        store?.shutdown()
        store = nil
    }

    // MARK: udev

    private func receiveUdevEvents() {
        do {
            while let event = try monitor.receive() {
                pending[event.device.sysName] = event
            }
        } catch let error as UdevError where error == UdevError.eventsLost() {
            // The socket's buffer overflowed in a burst: whatever was lost, every device is read again.
            logger.warning("udev events were lost; reading every device again")
            lostEvents()
        } catch {
            monitorFailure = "the udev monitor failed: \(error)"
            logger.error("udev monitor failed", metadata: ["error": "\(error)"])
            publish()
        }
        if !pending.isEmpty && coalesceUntil == nil { coalesceUntil = now() + Self.coalescing }
    }

    /// Queues a look at every block disk, and at every node a medium was reported at, as if each had an event.
    private func lostEvents() {
        let devices = (try? udev.blockDevices()) ?? []
        for device in devices where device.devType == "disk" {
            pending[device.sysName] = UdevEvent(action: .change, device: device, sequenceNumber: nil)
        }
        let seen = Set(devices.compactMap(\.devNode))
        for node in media.keys where !seen.contains(node) {
            let name = String(node.split(separator: "/").last ?? "")
            pending[name] = UdevEvent(
                action: .remove,
                device: BlockDevice(
                    sysPath: "", sysName: name, devNode: node, devType: "disk", sizeBytes: 0, properties: [:],
                    sysAttributes: [:]),
                sequenceNumber: nil)
        }
    }

    /// Runs after every wake-up of the loop: coalesced udev events, the once-a-second tick, maintenance due.
    private func idle() -> Duration {
        let instant = now()
        if let until = coalesceUntil, until <= instant {
            coalesceUntil = nil
            let events = pending
            pending = [:]
            for (sysName, event) in events.sorted(by: { $0.key < $1.key }) { deviceChanged(sysName, event: event) }
            publish()
        }
        if nextTick <= instant {
            nextTick = instant + .seconds(1)
            handle(.tick(instant))
            syncAuditCopies()
            importAuditSources()
            if nextRebuildRetry <= instant {
                nextRebuildRetry = instant + .seconds(30)
                resumeRebuilds()
            }
            if maintenance.scrubDue(), let store = openStore() { maintenance.enqueueScrub(store: store) }
            if nextHealthPoll <= instant {
                nextHealthPoll = instant + configuration.smartEvery
                pollHealth()
            }
            publish()
        }
        let wake = [coalesceUntil, nextTick].compactMap { $0 }.min() ?? instant + .seconds(1)
        return max(.zero, wake - now())
    }

    /// A device's medium came, went or changed: read it again now, whatever the events in between said.
    private func deviceChanged(_ sysName: String, event: UdevEvent) {
        let current = event.action == .remove ? nil : (try? udev.blockDevice(sysName: sysName)) ?? nil
        let node = current?.devNode ?? event.device.devNode ?? "/dev/\(sysName)"
        let medium = current.flatMap { device -> UInt64? in
            guard device.devType == "disk", (device.sizeBytes ?? 0) > 0 else { return nil }
            return device.currentDiskSequence ?? device.diskSequence ?? 0
        }
        if let reported = media[node], reported != medium {
            media[node] = nil
            handle(.disappeared(device: node))
        }
        guard let current, let medium, media[node] == nil, let report = report(for: current) else { return }
        media[node] = medium
        handle(.appeared(report))
    }

    /// The lifecycle's view of a disk in a mapped bay, inspected; nil for a device in no bay (the system disk,
    /// another loop device), which the service leaves alone.
    private func report(for device: BlockDevice) -> DiskReport? {
        guard let node = device.devNode, let size = device.sizeBytes, size > 0 else { return nil }
        // A test rig's disks are its own loop devices only: another rig on the same machine (another test, a
        // workstation's `saatkond dev`) is tagged with bays by the same rule.
        if let rig = configuration.rig, device.loopBackingFile?.hasPrefix(rig + "/") != true { return nil }
        let slot = BayIndicators.enclosureSlot(ofSysPath: device.sysPath)
        guard let bay = map.bay(properties: device.properties, enclosureSlot: slot) else { return nil }
        guard let identity = DiskIdentity(properties: device.properties) else {
            logger.warning(
                "a disk without a WWN or serial number is in a bay; it is not adopted",
                metadata: ["bay": "\(bay.number)", "device": "\(node)"])
            return nil
        }
        media[node] = device.currentDiskSequence ?? device.diskSequence ?? 0
        return DiskReport(
            identity: identity, bay: bay.number, device: node, sizeBytes: size,
            content: inspector.content(of: node, identity: identity))
    }

    /// Asks smartctl about every disk in a bay, off the loop (a disk can take seconds to answer); each verdict comes
    /// back as an event. A device without SMART (a loop device) reads as unknown and changes nothing.
    private func pollHealth() {
        guard healthPolling.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        let disks = lifecycle.disks.values.compactMap { record in record.device.map { (record.identity, $0) } }
        let thread = Thread { [self] in
            defer { healthPolling.store(false, ordering: .releasing) }
            let runner = SmartctlRunner(timeout: .seconds(30))
            for (identity, device) in disks {
                guard let summary = try? runner.summary(device: device) else { continue }
                loop.execute {
                    self.handle(
                        .health(
                            identity, HealthVerdict(rawValue: summary.verdict.rawValue) ?? .unknown,
                            reasons: summary.reasons))
                }
            }
        }
        thread.name = "disks-smart"
        thread.start()
    }

    // MARK: Lifecycle

    /// Runs one event through the lifecycle and its actions through the shell; a refusal is returned (and
    /// logged), never ignored.
    @discardableResult
    func handle(_ event: DiskEvent) -> LifecycleRefusal? {
        let actions: [DiskAction]
        do {
            actions = try lifecycle.handle(event)
        } catch {
            logger.notice("refused", metadata: ["event": "\(event)", "reason": "\(error.reason)"])
            return error
        }
        // Adoptions and rebuilds last: they open the array, which needs every mount of this event done first (a
        // start mounts eleven members, and a rebuild among them must not find the array short).
        let needStore = { (action: DiskAction) -> Bool in
            switch action {
            case .adopt, .rebuild: true
            default: false
            }
        }
        for action in actions where !needStore(action) { run(action) }
        for action in actions where needStore(action) { run(action) }
        switch event {
        case .appeared, .discovered: resumeRebuilds()
        default: break
        }
        persist()
        return nil
    }

    /// Runs again every rebuild that is not running or queued: one that failed for want of members (more than m were
    /// away) can succeed once another comes back. The worker never queues one twice.
    func resumeRebuilds() {
        for record in lifecycle.disks.values.sorted(by: { $0.identity < $1.identity }) {
            guard case .rebuilding(let member) = record.state, let device = record.device,
                !maintenance.isRebuilding(record.identity), let store = openStore()
            else { continue }
            maintenance.enqueueRebuild(
                DiskAssignment(identity: record.identity, device: device, bay: record.bay, member: member),
                store: store)
        }
    }

    private func run(_ action: DiskAction) {
        switch action {
        case .formArray(let members):
            maintenance.enqueueFormation(members, formatter: formatter, configuration: configuration)
        case .adopt(let assignment):
            guard let store = openStore() else {
                handle(.adoptionFailed(assignment.identity, reason: "the array's store cannot be opened"))
                return
            }
            maintenance.enqueueAdoption(assignment, formatter: formatter, store: store)
        case .mount(let assignment):
            do {
                try formatter.mount(assignment.device, at: formatter.mountPoint(of: assignment.identity))
            } catch {
                logger.error(
                    "mounting a member failed", metadata: ["disk": "\(assignment.identity)", "error": "\(error)"])
                raise(
                    "mount-\(assignment.member)",
                    "member \(assignment.member) (\(assignment.identity)) does not mount: \(error)")
            }
        case .unmount(let identity):
            let mountPoint = formatter.mountPoint(of: identity)
            do {
                try formatter.unmount(mountPoint)
                try? FileManager.default.removeItem(atPath: mountPoint)
            } catch {
                logger.error("unmounting a member failed", metadata: ["disk": "\(identity)", "error": "\(error)"])
            }
        case .rebuild(let assignment):
            guard let store = openStore() else {
                handle(.rebuildFailed(assignment.identity, reason: "the array's store cannot be opened"))
                return
            }
            maintenance.enqueueRebuild(assignment, store: store)
        case .indicator(let bay, let state):
            indicatorStates[bay] = state
            do {
                try indicators.set(state, bay: bay, device: lifecycle.disk(inBay: bay)?.device)
            } catch {
                logger.warning("setting a bay LED failed", metadata: ["bay": "\(bay)", "error": "\(error)"])
            }
        case .record(let event, let fields):
            record(event, fields)
        case .alarm(let key, let message):
            raise(key, message)
        case .clearAlarm(let key):
            alarms[key] = nil
        }
    }

    func raise(_ key: String, _ message: String) {
        if alarms[key] != message { logger.warning("alarm", metadata: ["alarm": "\(key)", "message": "\(message)"]) }
        alarms[key] = message
    }

    /// The service's own view of the array, for adoptions, rebuilds and scrubs: no private key.
    func openStoreForMaintenance() -> ErasureCodedStore? { openStore() }

    private func openStore() -> ErasureCodedStore? {
        if let store { return store }
        guard lifecycle.arrayID != nil else { return nil }
        do {
            store = try ErasureCodedStore(memberRoot: FilePath(configuration.membersRoot), keys: keys)
        } catch {
            logger.error("opening the array failed", metadata: ["error": "\(error)"])
        }
        if let store {
            store.observeMemberErrors { [weak self] error in
                guard let core = self else { return }
                core.loop.execute { core.handle(.ioErrors(member: error.member, count: 1)) }
            }
        }
        return store
    }

    private func maintenanceFinished(_ outcome: MaintenanceWorker.Outcome) {
        switch outcome {
        case .formed(let arrayID): handle(.formed(arrayID: arrayID))
        case .formationFailed(let reason): handle(.formationFailed(reason: reason))
        case .adopted(let identity): handle(.adopted(identity))
        case .adoptionFailed(let identity, let reason): handle(.adoptionFailed(identity, reason: reason))
        case .rebuilt(let identity): handle(.rebuilt(identity))
        case .rebuildFailed(let identity, let reason): handle(.rebuildFailed(identity, reason: reason))
        case .scrubbed: break
        }
        publish()
    }

    // MARK: Persistence

    static func loadSnapshot(_ state: String) throws -> LifecycleSnapshot? {
        let path = "\(state)/lifecycle.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            return try JSONDecoder().decode(LifecycleSnapshot.self, from: data)
        } catch {
            throw DisksConfigurationError(
                "\(path) cannot be read (\(error)); it is kept as it is: move it away to start afresh")
        }
    }

    private func persist() {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let bytes = Array(try encoder.encode(lifecycle.snapshot))
            try bytes.withUnsafeBytes {
                try FileSystemCalls.writeAtomically($0, to: FilePath("\(configuration.state)/lifecycle.json"))
            }
        } catch {
            logger.critical("the disks' state cannot be saved", metadata: ["error": "\(error)"])
            raise("state", "the disks' state cannot be saved: \(error)")
        }
    }
}
