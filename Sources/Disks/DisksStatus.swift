import CustodyLog
import DiskLifecycle

/// What the state socket shows: the bay map with each disk's state, the array's margin, the rebuild and scrub, and
/// the alarms. Contains no key and nothing of any stream's contents.
public struct DisksStatus: Sendable, Codable, Hashable {
    public struct BayStatus: Sendable, Codable, Hashable {
        public var bay: Int
        public var label: String
        public var indicator: String
        public var disk: DiskStatus?
    }

    public struct DiskStatus: Sendable, Codable, Hashable {
        public var identity: String
        public var state: String
        public var member: Int?
        public var device: String?
        public var ioErrors: Int
        public var smart: String?
        public var detail: String
    }

    public struct ArrayStatus: Sendable, Codable, Hashable {
        public var id: String?
        public var dataShards: Int
        public var parityShards: Int
        public var wholeMembers: Int
        /// Members the array can still lose and read everything.
        public var redundancyMargin: Int
        public var degradedPositions: [Int]
    }

    public struct RebuildStatus: Sendable, Codable, Hashable {
        public var member: Int
        public var disk: String
        public var segmentsDone: Int
        public var segmentsTotal: Int
        public var bytesWritten: Int
        public var bytesPerSecond: Double
        /// Shards found intact on the disk already (a resumed rebuild, or a member caught up).
        public var shardsAlreadyIntact: Int?
    }

    public struct ScrubStatus: Sendable, Codable, Hashable {
        public var running: Bool
        /// Seconds since the epoch.
        public var lastCompleted: Double?
        public var lastReport: String?
        public var shardsChecked: Int?
        public var shardsDamaged: Int?
        public var shardsRepaired: Int?
        public var unrepairable: [String]?
        public var scrubsCompleted: Int
    }

    public struct Alarm: Sendable, Codable, Hashable {
        public var key: String
        public var message: String
    }

    public var chassis: String
    public var monitor: String
    public var array: ArrayStatus
    public var bays: [BayStatus]
    /// Members that left the chassis and are not replaced yet.
    public var away: [DiskStatus]
    public var rebuild: RebuildStatus?
    public var lastRebuild: RebuildStatus?
    public var scrub: ScrubStatus
    public var alarms: [Alarm]
    /// The custody log's head (the one log of every event, kept on the members): reports sign it.
    public var audit: CustodyLog.HeadSummary?
    /// The services' watchdog history, as the custody log tells it (kept across boots).
    public var watchdog: ServiceHistory?
}
