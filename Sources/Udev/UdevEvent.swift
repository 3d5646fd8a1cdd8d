/// One event that systemd-udevd announced after its rules ran: a device appeared, changed or went away.
///
/// The properties are those of the event (udevd's rules included: ID_SERIAL, ID_WWN, SAATKOND_BAY, …). The sysfs
/// attributes in ``device`` are read when the event is received, not when it happened: a disk that changed again
/// meanwhile shows its newer state there, and a removed one shows none.
public struct UdevEvent: Sendable, Equatable {
    /// What happened, as the kernel's uevent ACTION says.
    public enum Action: String, Sendable {
        /// A device appeared: a disk inserted, or a fresh loop device node created.
        case add
        /// A device went away: a disk pulled (on real hardware); loop devices only disappear when deleted.
        case remove
        /// Something about the device changed: a medium inserted or ejected, a resize, a loop device attached or
        /// detached (its size becomes non-zero, or zero), or a re-probe asked for with `udevadm trigger`.
        case change
        /// The device was renamed or moved in sysfs.
        case move
        /// The device came online.
        case online
        /// The device went offline.
        case offline
        /// A driver bound to the device.
        case bind
        /// A driver was unbound from the device.
        case unbind
        /// An action this code does not know (the kernel may add some).
        case other
    }

    /// What happened.
    public var action: Action

    /// The device as the event describes it.
    public var device: BlockDevice

    /// The kernel's SEQNUM of the event, which grows by one per uevent of any device; nil when the event has none.
    public var sequenceNumber: UInt64?

    /// Creates an event from already-read values.
    public init(action: Action, device: BlockDevice, sequenceNumber: UInt64?) {
        self.action = action
        self.device = device
        self.sequenceNumber = sequenceNumber
    }
}
