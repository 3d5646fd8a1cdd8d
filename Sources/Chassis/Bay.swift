/// One drive bay of a chassis, as its bay map describes it.
public struct Bay: Sendable, Hashable {
    /// The bay's number in the map, from 1: what the appliance's records, console and attestation use.
    public var number: Int

    /// What is printed on the chassis at this bay (on the caddy or beside the slot), so that a technician finds it.
    public var label: String

    /// The udev `ID_PATH` of the slot (controller, expander, phy), e.g.
    /// `pci-0000:01:00.0-sas-exp0x500304801f3ab27f-phy0-lun-0`; nil when the bay is found another way.
    public var path: String?

    /// The slot number the SES enclosure reports for this bay (sysfs `/sys/class/enclosure/*/*/slot`); nil when the
    /// chassis has no enclosure services.
    public var enclosureSlot: Int?

    /// How the bay's locate and fault lights are driven.
    public var indicator: BayIndicator

    /// Creates a bay.
    public init(number: Int, label: String, path: String? = nil, enclosureSlot: Int? = nil, indicator: BayIndicator) {
        self.number = number
        self.label = label
        self.path = path
        self.enclosureSlot = enclosureSlot
        self.indicator = indicator
    }
}

/// How a bay's locate and fault lights are driven.
public enum BayIndicator: String, Sendable, Hashable, CaseIterable {
    /// The SES enclosure's sysfs attributes: `/sys/class/enclosure/<enclosure>/<slot>/locate` and `fault`.
    case enclosure
    /// `ledctl locate=/dev/sdX` (IBPI through SGPIO or the controller), for chassis without SES.
    case ledctl
    /// The test rig: a state file per bay in the rig's `leds/` directory, read by tests and humans.
    case rig
    /// The bay has no light the appliance can drive; the console shows the label only.
    case none
}
