import Foundation

/// What `smartctl --json -a` says of one disk, reduced to what the disks service acts on: a verdict with its reasons,
/// the disk's identity, and the counters that predict its failure. Pure: made from smartctl's output bytes and exit
/// status, so that it is tested with real outputs (Tests/DiskHealthTests/Fixtures) and never needs a disk.
public struct SmartSummary: Sendable, Hashable, Codable {
    /// The disk's health, from worst to best: `failing`, `warning`, `unknown`, `healthy`. When evidence of several
    /// kinds is present the worst wins: a disk that reports failing is failing even if some command also failed.
    public enum Verdict: String, Sendable, Codable {
        /// smartctl read the disk's overall health, it passed, and nothing shows wear or damage.
        case healthy
        /// The disk works but shows wear or damage: sectors reallocated, pending or uncorrectable, media errors,
        /// attributes at or below threshold now or in the past, an NVMe critical warning, errors in its logs.
        case warning
        /// The disk says it is failing (SMART overall health FAILED, exit bit 3).
        case failing
        /// smartctl could not read the disk's health (exit bits 0–2, or no health in the output): `reasons` says why.
        case unknown
    }

    /// The verdict.
    public var verdict: Verdict
    /// Why the verdict is not `healthy`: one short phrase each, in the order found; empty when healthy.
    public var reasons: [String]
    /// The disk's model (ATA and NVMe model name, or SCSI vendor and product), without control characters.
    public var model: String?
    /// The disk's serial number, without control characters.
    public var serial: String?
    /// The disk's World Wide Name as udev's ID_WWN shows it: `0x` and 16 (or 32) lowercase hex digits.
    public var wwn: String?
    /// The current temperature.
    public var temperatureCelsius: Int?
    /// The hours the disk has been powered on.
    public var powerOnHours: Int?
    /// Reallocated sectors: ATA attribute 5, or the SCSI grown defect list.
    public var reallocatedSectors: Int?
    /// Sectors waiting to be reallocated: ATA attribute 197.
    public var pendingSectors: Int?
    /// Errors the disk could not correct: the larger of ATA attributes 187 and 198, or the SCSI error counter log's
    /// uncorrected reads, writes and verifies.
    public var uncorrectableErrors: Int?
    /// NVMe media and data integrity errors.
    public var mediaErrors: Int?
    /// smartctl's exit status, the bit mask of smartctl(8)'s EXIT STATUS, when known.
    public var smartctlExitStatus: Int?

    /// The largest output read: a full `-a` report is tens of kilobytes; anything far larger is not smartctl's.
    public static let maximumBytes = 4 << 20

    /// Summarises smartctl's JSON output `json` (from `--json` or `--json=c`). `exitStatus` is smartctl's exit status
    /// if the caller has it; otherwise the one smartctl wrote into its JSON is used. Never crashes: output that is not
    /// smartctl's JSON is refused with a ``SmartParseError``.
    public init(json: [UInt8], exitStatus: Int32?) throws(SmartParseError) {
        guard json.count <= Self.maximumBytes else {
            throw SmartParseError(
                .tooLarge, "smartctl's output has \(json.count) bytes, more than \(Self.maximumBytes): not a report")
        }
        let document: SmartJSON
        do {
            document = try JSONDecoder().decode(SmartJSON.self, from: Data(json))
        } catch {
            throw SmartParseError(.notJSON, "smartctl's output is not JSON (\(json.count) bytes): was --json given?")
        }
        guard case .object = document, document["json_format_version"] != nil || document["smartctl"] != nil else {
            throw SmartParseError(.notSmartctl, "the JSON is not smartctl's: it has no json_format_version or smartctl")
        }
        self.init(
            document: document, exitStatus: exitStatus.map(Int.init) ?? document["smartctl", "exit_status"]?.integer)
    }

    init(document: SmartJSON, exitStatus: Int?) {
        let reader = SmartReader(document: document)
        verdict = .healthy
        reasons = []
        model = reader.model
        serial = reader.text(document["serial_number"])
        wwn = reader.wwn
        temperatureCelsius = document["temperature", "current"]?.integer
        powerOnHours = document["power_on_time", "hours"]?.integer
        reallocatedSectors = reader.reallocatedSectors
        pendingSectors = reader.attribute(197)
        uncorrectableErrors = reader.uncorrectableErrors
        mediaErrors = document["nvme_smart_health_information_log", "media_errors"]?.integer
        smartctlExitStatus = exitStatus
        judge(reader: reader, exitStatus: exitStatus.map(SmartctlExitStatus.init))
    }
}
