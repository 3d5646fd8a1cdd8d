/// A chassis's bay map: which bays it has, what is printed at each, and how to tell which bay a disk sits in.
///
/// Written by hand once per supported chassis (see `hardware/chassis/`), as `key = value` lines with `#` comments:
///
///     chassis = Supermicro SC826BE1C-R920LPB (BPN-SAS3-826EL1)
///     indicator = enclosure          # the default for every bay; a bay may set its own
///     [bay 1]
///     label = 0                      # printed on the chassis (required)
///     path = pci-0000:01:00.0-sas-exp0x500304801f3ab27f-phy0-lun-0   # udev ID_PATH of the slot
///     enclosure-slot = 0             # the SES enclosure's slot number
///     [bay 2]
///     …
///
/// Bays are numbered 1 to n without gaps; labels, paths and enclosure slots are each unique. The parser reports every
/// mistake with the file and line, before anything uses the map.
public struct BayMap: Sendable, Equatable {
    /// The chassis's model, as the map names it.
    public var chassis: String

    /// The bays, sorted by number.
    public var bays: [Bay]

    /// Creates a map from values already checked by the caller (tests, generated maps); the bays are sorted.
    public init(chassis: String, bays: [Bay]) {
        self.chassis = chassis
        self.bays = bays.sorted { $0.number < $1.number }
    }

    /// The bay numbered `number`, or nil when the chassis has none.
    public func bay(number: Int) -> Bay? {
        bays.first { $0.number == number }
    }

    /// The bay a disk sits in: its udev property SAATKOND_BAY first (set by our udev rules), else its ID_PATH
    /// matched against `path`, else `enclosureSlot` (read from sysfs by the caller) matched against `enclosure-slot`.
    ///
    /// A SAATKOND_BAY that names no bay of this map (rules written for another chassis) is passed over, so that the
    /// disk is still found by its path or slot; nil when nothing matches.
    public func bay(properties: [String: String], enclosureSlot: Int?) -> Bay? {
        if let tagged = properties["SAATKOND_BAY"].flatMap({ Int($0) }), let bay = bay(number: tagged) {
            return bay
        }
        if let path = properties["ID_PATH"], let bay = bays.first(where: { $0.path == path }) {
            return bay
        }
        if let enclosureSlot, let bay = bays.first(where: { $0.enclosureSlot == enclosureSlot }) {
            return bay
        }
        return nil
    }

    /// The map as text that ``init(parsing:file:)`` reads back to an equal map: one `[bay N]` section per bay, each
    /// with its own `indicator`.
    public var text: String {
        var lines = ["chassis = \(chassis)"]
        for bay in bays {
            lines += ["", "[bay \(bay.number)]", "label = \(bay.label)"]
            if let path = bay.path { lines.append("path = \(path)") }
            if let slot = bay.enclosureSlot { lines.append("enclosure-slot = \(slot)") }
            lines.append("indicator = \(bay.indicator.rawValue)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
