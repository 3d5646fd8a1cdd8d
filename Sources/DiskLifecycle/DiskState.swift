/// What the disks service found on a disk when it appeared, before deciding anything about it.
public enum DiskContent: Sendable, Hashable, Codable {
    /// No file system, partition table or RAID signature, and no member label: a disk the appliance may adopt.
    case blank
    /// A member label of an array: this appliance's array or another's (hex identity), at a position.
    case member(arrayID: String, index: Int)
    /// Data of its own (a file system, a partition table, another RAID's signature): never formatted without an
    /// authorised order.
    case occupied(String)
    /// What it holds could not be read (I/O error, a mount that failed): a failing disk, not a blank one.
    case unreadable(String)
}

/// A disk seen in a bay: what the shell reports to the lifecycle when udev announces it, once inspected.
public struct DiskReport: Sendable, Hashable, Codable {
    public var identity: DiskIdentity
    /// The chassis bay (from the bay map); nil for a disk outside any mapped bay, which is never adopted.
    public var bay: Int?
    /// The device node, e.g. `/dev/sdc` or `/dev/loop4`.
    public var device: String
    public var sizeBytes: UInt64
    public var content: DiskContent

    public init(identity: DiskIdentity, bay: Int?, device: String, sizeBytes: UInt64, content: DiskContent) {
        self.identity = identity
        self.bay = bay
        self.device = device
        self.sizeBytes = sizeBytes
        self.content = content
    }
}

/// A disk's place in its lifecycle (docs/disks.md has the diagram).
public enum DiskState: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Blank, in a bay, not needed yet: taken when a member fails (or when the array is formed).
    case spare
    /// Being formatted, mounted and labelled as member `member`.
    case adopting(member: Int)
    /// Labelled as member `member` and being filled (a replacement) or caught up (a member that came back).
    case rebuilding(member: Int)
    /// A whole, healthy member.
    case member(Int)
    /// A member with SMART warnings or I/O errors: still used, watched.
    case suspect(member: Int)
    /// A member given up on (too many I/O errors, SMART failing): no longer used; its position waits for a
    /// replacement.
    case failed(member: Int)
    /// A member that was pulled without being prepared: its position is absent until it comes back or is replaced.
    case missing(member: Int)
    /// Prepared for removal: no longer written to, unmounted, its bay's locate LED lit.
    case removing(member: Int?)
    /// Another array's member: never wiped or adopted without an authorised order.
    case foreign(arrayID: String, position: Int?)
    /// Data of its own, or a disk outside any bay: left untouched.
    case occupied(String)
    /// Its contents could not be read: left untouched and reported.
    case unreadable(String)

    /// The array position this disk holds or held, if any.
    public var memberIndex: Int? {
        switch self {
        case .adopting(let index), .rebuilding(let index), .member(let index), .suspect(let index),
            .failed(let index), .missing(let index):
            index
        case .removing(let index): index
        case .spare, .foreign, .occupied, .unreadable: nil
        }
    }

    /// Whether the store may count on the disk for every shard: a member whose data is whole.
    public var holdsWholeData: Bool {
        switch self {
        case .member, .suspect: true
        default: false
        }
    }

    /// One word, as the console and the state socket show it.
    public var name: String {
        switch self {
        case .spare: "spare"
        case .adopting: "adopting"
        case .rebuilding: "rebuilding"
        case .member: "member"
        case .suspect: "suspect"
        case .failed: "failed"
        case .missing: "missing"
        case .removing: "removing"
        case .foreign: "foreign"
        case .occupied: "occupied"
        case .unreadable: "unreadable"
        }
    }

    public var description: String {
        switch self {
        case .foreign(let arrayID, _): "foreign (array \(arrayID))"
        case .occupied(let what): "occupied (\(what))"
        case .unreadable(let why): "unreadable (\(why))"
        default: memberIndex.map { "\(name) (member \($0))" } ?? name
        }
    }
}

/// Everything the lifecycle keeps about one disk.
public struct DiskRecord: Sendable, Hashable, Codable {
    public var identity: DiskIdentity
    public var state: DiskState
    /// Where it is now; nil while it is not in the chassis (a missing member).
    public var bay: Int?
    public var device: String?
    public var sizeBytes: UInt64
    /// I/O errors the store reported on it since it became a member.
    public var ioErrors: Int = 0
    /// The last SMART verdict, when the device reports SMART.
    public var smart: HealthVerdict?

    public init(identity: DiskIdentity, state: DiskState, bay: Int?, device: String?, sizeBytes: UInt64) {
        self.identity = identity
        self.state = state
        self.bay = bay
        self.device = device
        self.sizeBytes = sizeBytes
    }

    /// Whether the disk is in the chassis now.
    public var isPresent: Bool { device != nil }
}

/// A disk's health as SMART reports it, in the lifecycle's terms.
public enum HealthVerdict: String, Sendable, Hashable, Codable {
    case healthy, warning, failing, unknown
}

/// A bay's indicator LEDs.
public enum IndicatorState: String, Sendable, Hashable, Codable {
    case off, locate, fault
}
