/// What happens to the array: udev facts, the outcome of work the shell ran, and orders from the console.
public enum DiskEvent: Sendable, Hashable {
    /// The first enumeration after a start, as one batch: every disk in the chassis, inspected. Members recorded
    /// before the start and not among them are missing.
    case discovered([DiskReport])
    /// A disk appeared in a bay (udev `add`, or a `change` that gave a device a medium).
    case appeared(DiskReport)
    /// The device node lost its disk (udev `remove`, or a `change` to no medium).
    case disappeared(device: String)

    /// The shell formatted, mounted and labelled the members of a new array, whose identity the labels carry.
    case formed(arrayID: String)
    /// Forming the array failed; nothing was labelled, or the labels written are reported as foreign next time.
    case formationFailed(reason: String)
    /// The shell formatted, mounted and labelled `identity` as its member position.
    case adopted(DiskIdentity)
    case adoptionFailed(DiskIdentity, reason: String)
    /// A rebuild (or the catch-up of a returned member) finished: every shard of the position is on the disk.
    case rebuilt(DiskIdentity)
    case rebuildFailed(DiskIdentity, reason: String)

    /// The store met I/O errors on a member position.
    case ioErrors(member: Int, count: Int)
    /// SMART's verdict on a disk.
    case health(DiskIdentity, HealthVerdict, reasons: [String])

    /// The console asks to make the disk in `bay` safe to pull.
    case prepareRemoval(bay: Int)
    /// The console asks to adopt the disk in `bay`; `authorised` for a disk with data of its own or another array's
    /// label (an order signed by home), which otherwise is refused.
    case adopt(bay: Int, authorised: Bool)
    /// The console turns a bay's locate LED on or off.
    case locate(bay: Int, on: Bool)

    /// Time passes: a missing member left long enough is replaced by a spare.
    case tick(ContinuousClock.Instant)
}

/// What the shell must do; the lifecycle has already moved to the state that expects the outcome.
public enum DiskAction: Sendable, Hashable {
    /// Format each disk (mkfs.xfs), mount it under the members root by identity, and label them as one new array's
    /// members in this order; then report ``DiskEvent/formed(arrayID:)``.
    case formArray([DiskAssignment])
    /// Format, mount and label one disk as a member position of the array; then ``DiskEvent/adopted(_:)``.
    case adopt(DiskAssignment)
    /// Mount a disk that already carries this array's member label (a member that came back, or every member at a
    /// start) under the members root.
    case mount(DiskAssignment)
    /// Take a member's file system away from the store at once (a lazy unmount): pulled, failed or prepared.
    case unmount(DiskIdentity)
    /// Fill (or catch up) a position from the other members; then ``DiskEvent/rebuilt(_:)``.
    case rebuild(DiskAssignment)
    case indicator(bay: Int, IndicatorState)
    /// An entry for the custody log.
    case record(event: String, fields: [String: String])
    /// Something a person must look at; `key` identifies it so that a later ``clearAlarm(key:)`` ends it.
    case alarm(key: String, message: String)
    case clearAlarm(key: String)
}

/// A disk and the member position it takes.
public struct DiskAssignment: Sendable, Hashable, Codable {
    public var identity: DiskIdentity
    public var device: String
    public var bay: Int?
    public var member: Int
    /// Whether the disk holds data the format will destroy (an authorised order only); otherwise the shell refuses
    /// to format anything that is not blank, whatever it was told.
    public var overwrite: Bool

    public init(identity: DiskIdentity, device: String, bay: Int?, member: Int, overwrite: Bool = false) {
        self.identity = identity
        self.device = device
        self.bay = bay
        self.member = member
        self.overwrite = overwrite
    }
}

/// Why an order or a reported outcome was not taken; the state is unchanged.
public struct LifecycleRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// The array's shape and the lifecycle's limits.
public struct LifecycleConfiguration: Sendable, Hashable, Codable {
    /// Data shards (k) and parity shards (m); members = k + m.
    public var dataShards: Int
    public var parityShards: Int
    /// I/O errors that make a member suspect, and that make it failed.
    public var suspectAfterErrors: Int = 1
    public var failAfterErrors: Int = 8
    /// How long a missing member may stay away before a spare takes its position (it may be a wrong pull and come
    /// back); nil never.
    public var spareReplacesMissingAfter: Duration? = .seconds(15 * 60)
    /// The smallest disk adopted, in bytes (mkfs.xfs needs 300 MiB).
    public var minimumDiskBytes: UInt64 = 512 << 20

    public init(dataShards: Int, parityShards: Int) {
        self.dataShards = dataShards
        self.parityShards = parityShards
    }

    public var memberCount: Int { dataShards + parityShards }
}
