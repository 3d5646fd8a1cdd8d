/// The array's disks as a pure state machine: udev facts, outcomes of the shell's work and the console's orders go
/// in as ``DiskEvent``s, and what the shell must do comes out as ``DiskAction``s. No I/O, no clock: time comes in
/// with ``DiskEvent/tick(_:)``.
///
/// An order or outcome that does not fit the current state is refused with a ``LifecycleRefusal`` and changes
/// nothing: an adoption reported for a disk that was pulled meanwhile, a removal that would leave too few members.
/// A fact (a disk appeared, a device lost its disk) is never refused; it is what it is.
public struct DiskLifecycle: Sendable {
    public let configuration: LifecycleConfiguration
    /// The array's identity (hex), once formed or found on the disks.
    public internal(set) var arrayID: String?
    /// Every disk in the chassis, and every member that left it and has not been replaced.
    public internal(set) var disks: [DiskIdentity: DiskRecord]
    /// Bays whose locate LED the console turned on.
    public internal(set) var locatedBays: Set<Int> = []
    var missingSince: [DiskIdentity: ContinuousClock.Instant] = [:]
    var now: ContinuousClock.Instant?
    var forming = false

    /// A lifecycle with nothing known, or the one persisted before a restart; until ``DiskEvent/discovered(_:)``
    /// no recorded disk counts as present.
    public init(configuration: LifecycleConfiguration, restoring snapshot: LifecycleSnapshot? = nil) {
        self.configuration = configuration
        arrayID = snapshot?.arrayID
        var disks: [DiskIdentity: DiskRecord] = [:]
        for var record in snapshot?.disks ?? [] {
            // A formation that a crash interrupted is found again from the disks' labels at discovery.
            if case .adopting = record.state, snapshot?.arrayID == nil { continue }
            record.device = nil
            disks[record.identity] = record
        }
        self.disks = disks
    }

    /// What survives a restart: the array's identity and every disk's record.
    public var snapshot: LifecycleSnapshot {
        LifecycleSnapshot(arrayID: arrayID, disks: disks.values.sorted { $0.identity < $1.identity })
    }

    /// Runs one event; on a refusal nothing changes.
    public mutating func handle(_ event: DiskEvent) throws(LifecycleRefusal) -> [DiskAction] {
        var copy = self
        let actions = try copy.apply(event)
        self = copy
        return actions
    }

    private mutating func apply(_ event: DiskEvent) throws(LifecycleRefusal) -> [DiskAction] {
        switch event {
        case .discovered(let reports): return discovered(reports)
        case .appeared(let report): return appeared(report)
        case .disappeared(let device): return disappeared(device: device)
        case .formed(let arrayID): return try formed(arrayID: arrayID)
        case .formationFailed(let reason): return try formationFailed(reason: reason)
        case .adopted(let identity): return try adopted(identity)
        case .adoptionFailed(let identity, let reason): return try adoptionFailed(identity, reason: reason)
        case .rebuilt(let identity): return try rebuilt(identity)
        case .rebuildFailed(let identity, let reason): return try rebuildFailed(identity, reason: reason)
        case .ioErrors(let member, let count): return try ioErrors(member: member, count: count)
        case .health(let identity, let verdict, let reasons): return try health(identity, verdict, reasons: reasons)
        case .prepareRemoval(let bay): return try prepareRemoval(bay: bay)
        case .adopt(let bay, let authorised): return try adopt(bay: bay, authorised: authorised)
        case .locate(let bay, let on): return locate(bay: bay, on: on)
        case .tick(let instant): return tick(instant)
        }
    }

    // MARK: Queries

    /// The disk now in `bay`.
    public func disk(inBay bay: Int) -> DiskRecord? {
        disks.values.first { $0.isPresent && $0.bay == bay }
    }

    /// The disk holding member position `index`: adopting, rebuilding, whole or suspect.
    public func holder(of index: Int) -> DiskRecord? {
        disks.values.first { record in
            switch record.state {
            case .adopting(let member), .rebuilding(let member), .member(let member), .suspect(let member):
                member == index
            default: false
            }
        }
    }

    /// Members whose data is whole (member or suspect).
    public var wholeMembers: Int { disks.values.filter { $0.state.holdsWholeData }.count }

    /// How many more members the array can lose and still read everything: whole members − k (negative: data is
    /// unreadable until members come back).
    public var redundancyMargin: Int { wholeMembers - configuration.dataShards }

    /// Positions with no whole member, in order.
    public var degradedPositions: [Int] {
        guard arrayID != nil else { return [] }
        return (0..<configuration.memberCount).filter { holder(of: $0)?.state.holdsWholeData != true }
    }

    func record(_ identity: DiskIdentity) throws(LifecycleRefusal) -> DiskRecord {
        guard let record = disks[identity] else { throw LifecycleRefusal("no disk \(identity) is known") }
        return record
    }
}

/// The lifecycle's persisted state.
public struct LifecycleSnapshot: Sendable, Hashable, Codable {
    public var arrayID: String?
    public var disks: [DiskRecord]

    public init(arrayID: String?, disks: [DiskRecord]) {
        self.arrayID = arrayID
        self.disks = disks
    }
}
