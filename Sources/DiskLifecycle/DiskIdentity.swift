/// What names a disk across bays, reboots and chassis: its World Wide Name, else its serial number, else the label
/// the appliance wrote on it at adoption.
///
/// A bay is where a disk is, never what it is: a disk moved to another bay is the same disk, and a different disk in
/// a member's bay is not that member.
public struct DiskIdentity: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// Where the identity comes from, in the order of preference.
    public enum Source: String, Sendable, Codable, Comparable {
        case wwn, serial, label

        private var rank: Int {
            switch self {
            case .wwn: 0
            case .serial: 1
            case .label: 2
            }
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
    }

    public var source: Source
    public var value: String

    public init(source: Source, value: String) {
        self.source = source
        self.value = value
    }

    /// The identity udev reports: `ID_WWN` (with its vendor extension where there is one), else `ID_SERIAL`; else
    /// the file system label, which the appliance writes only on disks it adopts. Nil for a disk that reports none.
    public init?(properties: [String: String], adoptionLabel: String? = nil) {
        if let wwn = Self.nonEmpty(properties["ID_WWN_WITH_EXTENSION"] ?? properties["ID_WWN"]) {
            self.init(source: .wwn, value: wwn)
        } else if let serial = Self.nonEmpty(properties["ID_SERIAL"] ?? properties["ID_SERIAL_SHORT"]) {
            self.init(source: .serial, value: serial)
        } else if let label = Self.nonEmpty(adoptionLabel) {
            self.init(source: .label, value: label)
        } else {
            return nil
        }
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text = text?.trimmingWhitespace, !text.isEmpty else { return nil }
        return text
    }

    /// `wwn-0x5000c500a1b2c3d4`, `serial-SAATKOND-RIG-07`, `label-sk3f9a2c1b07`.
    public var description: String { "\(source.rawValue)-\(value)" }

    /// A name for the disk's mount point under the members root: the description with every byte outside
    /// `[A-Za-z0-9._-]` replaced by `_`, and never `.` or `..`. Serial numbers are vendor text; a `/` in one must not
    /// reach a path.
    public var directoryName: String {
        let safe = String(
            description.unicodeScalars.map { scalar -> Character in
                let allowed =
                    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || scalar == "." || scalar == "_" || scalar == "-"
                return allowed ? Character(scalar) : "_"
            })
        return String(safe.prefix(200))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.source, lhs.value) < (rhs.source, rhs.value)
    }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
