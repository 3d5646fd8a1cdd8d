/// Picks the summary's values out of smartctl's JSON, for each kind of device: ATA (`ata_smart_attributes`), SCSI and
/// SAS (`scsi_*`), NVMe (`nvme_smart_health_information_log`). A member that is absent or of an unexpected type is
/// left out, never guessed.
struct SmartReader {
    let document: SmartJSON

    /// The longest text kept from the disk: a model or serial is far shorter, and the console has 80 columns.
    static let maximumTextLength = 64

    /// ATA and NVMe name the model; SCSI names it, or gives its vendor and product.
    var model: String? {
        if let model = text(document["model_name"]) ?? text(document["scsi_model_name"]) { return model }
        let parts = [text(document["scsi_vendor"]), text(document["scsi_product"])].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// Text the disk reported, made safe to show: control characters dropped, blanks trimmed, at most 64 characters.
    func text(_ value: SmartJSON?) -> String? {
        guard let string = value?.string else { return nil }
        let printable = String(string.unicodeScalars.filter { !$0.properties.generalCategory.isControlOrFormat })
        let trimmed = printable.trimmingBlanks()
        guard !trimmed.isEmpty else { return nil }
        return String(trimmed.prefix(Self.maximumTextLength))
    }

    /// The WWN as udev's ID_WWN writes it: from ATA's `wwn` (NAA 4 bits, OUI 24 bits, vendor id 36 bits), or SCSI's
    /// `logical_unit_id` when it is already a hex NAA identifier.
    var wwn: String? {
        if let naa = document["wwn", "naa"]?.integer, let oui = document["wwn", "oui"]?.integer,
            let id = document["wwn", "id"]?.integer, (0..<16).contains(naa), (0..<(1 << 24)).contains(oui),
            (0..<(1 << 36)).contains(id)
        {
            let value = UInt64(naa) << 60 | UInt64(oui) << 36 | UInt64(id)
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
        }
        if let unit = document["logical_unit_id"]?.string?.lowercased(), unit.hasPrefix("0x"),
            [18, 34].contains(unit.count), unit.dropFirst(2).allSatisfy(\.isHexDigit)
        {
            return unit
        }
        return nil
    }

    /// The raw value of ATA attribute `id`, when the table has it.
    func attribute(_ id: Int) -> Int? {
        ataAttributes.first { $0["id"]?.integer == id }?["raw", "value"]?.integer
    }

    private var ataAttributes: [SmartJSON] {
        document["ata_smart_attributes", "table"]?.array ?? []
    }

    /// ATA attribute 5, or the SCSI grown defect list (the sectors a SCSI disk has remapped).
    var reallocatedSectors: Int? {
        attribute(5) ?? document["scsi_grown_defect_list"]?.integer
    }

    /// The larger of ATA attributes 187 (reported uncorrectable) and 198 (offline uncorrectable), or the sum of the
    /// SCSI error counter log's uncorrected errors.
    var uncorrectableErrors: Int? {
        let ata = [attribute(187), attribute(198)].compactMap { $0 }
        if let worst = ata.max() { return worst }
        guard let log = document["scsi_error_counter_log"] else { return nil }
        let counts = ["read", "write", "verify"].compactMap { log[$0, "total_uncorrected_errors"]?.integer }
        guard !counts.isEmpty else { return nil }
        return counts.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 }
    }

    /// Each ATA attribute at or below its threshold now (prefail ones) or in the past, as a phrase.
    var attributesBelowThreshold: [String] {
        ataAttributes.compactMap { attribute in
            guard let when = attribute["when_failed"]?.string, when == "now" || when == "past" else { return nil }
            let id = attribute["id"]?.integer.map(String.init) ?? "?"
            let name = text(attribute["name"]).map { " \($0)" } ?? ""
            let prefail = attribute["flags", "prefailure"]?.bool == true
            let values = [attribute["value"]?.integer, attribute["thresh"]?.integer]
            let detail = values[0].flatMap { value in values[1].map { " (\(value), threshold \($0))" } } ?? ""
            if when == "now" {
                return "\(prefail ? "prefail" : "usage") attribute \(id)\(name) at or below threshold now\(detail)"
            }
            return "\(prefail ? "prefail" : "usage") attribute \(id)\(name) was at or below threshold in the past"
        }
    }

    /// smartctl's first error message (why it could not read the device), made safe to show.
    var errorMessage: String? {
        let messages = document["smartctl", "messages"]?.array ?? []
        let error = messages.first { $0["severity"]?.string == "error" } ?? messages.first
        guard let string = error?["string"]?.string else { return nil }
        let printable = String(string.unicodeScalars.filter { !$0.properties.generalCategory.isControlOrFormat })
        let trimmed = printable.trimmingBlanks()
        guard !trimmed.isEmpty else { return nil }
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "…" : trimmed
    }
}

extension Unicode.GeneralCategory {
    fileprivate var isControlOrFormat: Bool {
        switch self {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: true
        default: false
        }
    }
}

extension String {
    fileprivate func trimmingBlanks() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
