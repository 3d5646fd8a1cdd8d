import DiskHealth
import Foundation
import Testing

/// The summary of real smartctl outputs, one of each kind of disk the appliance may hold and of each way one goes
/// wrong (Fixtures/README.md: where each came from).
@Suite("SMART summaries of real smartctl outputs")
struct SmartSummaryTests {
    private func summary(_ fixture: String, exitStatus: Int32? = nil) throws -> SmartSummary {
        try SmartSummary(json: Fixture.bytes(fixture), exitStatus: exitStatus)
    }

    @Test("a healthy SATA hard disk: identity, temperature, hours, zero counters")
    func sataHardDisk() throws {
        let disk = try summary("sata-hdd-seagate-exos-x16.json")
        #expect(disk.verdict == .healthy)
        #expect(disk.reasons.isEmpty)
        #expect(disk.model == "ST16000NM001G-2KK103")
        #expect(disk.serial == "REDACTED")
        // NAA 5, OUI 0x000c50 (Seagate), id 1234567890: what udev's ID_WWN shows.
        #expect(disk.wwn == "0x5000c500499602d2")
        #expect(disk.temperatureCelsius == 26)
        #expect(disk.powerOnHours == 13114)
        #expect(disk.reallocatedSectors == 0)
        #expect(disk.pendingSectors == 0)
        #expect(disk.uncorrectableErrors == 0)
        #expect(disk.mediaErrors == nil)
        #expect(disk.smartctlExitStatus == 0)
    }

    @Test("a healthy SATA SSD")
    func sataSolidState() throws {
        let disk = try summary("sata-ssd-samsung-pm883.json")
        #expect(disk.verdict == .healthy, "\(disk.reasons)")
        #expect(disk.model == "SAMSUNG MZ7LH1T9HMLT-00005")
        #expect(disk.reallocatedSectors == 0)
        #expect(disk.wwn?.hasPrefix("0x5002538") == true)
    }

    @Test("a healthy SAS disk: SCSI model, logical unit id as WWN, the error counter log")
    func sasDisk() throws {
        let disk = try summary("sas-hitachi-h109060.json")
        #expect(disk.verdict == .healthy, "\(disk.reasons)")
        #expect(disk.model == "HITACHI H109060SESUN600G")
        #expect(disk.wwn == "0x1234567890abcdef")
        #expect(disk.temperatureCelsius == 26)
        #expect(disk.powerOnHours == 22364)
        #expect(disk.reallocatedSectors == 0)
        #expect(disk.uncorrectableErrors == 0)
    }

    @Test("a SAS disk with a grown defect list and uncorrected errors is a warning")
    func sasGrownDefects() throws {
        let disk = try summary("sas-seagate-st373453-grown-defects.json")
        #expect(disk.verdict == .warning)
        #expect(disk.reallocatedSectors == 260)
        #expect(disk.uncorrectableErrors == 536)
        #expect(disk.reasons == ["260 reallocated sectors", "536 uncorrectable errors"])
    }

    @Test("a healthy NVMe drive: media errors counted, no WWN")
    func nvmeDrive() throws {
        let disk = try summary("nvme-samsung-970-evo-plus.json")
        #expect(disk.verdict == .healthy, "\(disk.reasons)")
        #expect(disk.model == "Samsung SSD 970 EVO Plus 250GB")
        #expect(disk.mediaErrors == 0)
        #expect(disk.wwn == nil)
        #expect(disk.temperatureCelsius != nil && disk.powerOnHours != nil)
    }

    @Test("an NVMe drive with a critical warning that fails its health check is failing, and says why")
    func nvmeCriticalWarning() throws {
        let disk = try summary("nvme-samsung-pm1725b-critical-warning.json")
        #expect(disk.verdict == .failing)
        #expect(disk.smartctlExitStatus == 8)
        #expect(disk.reasons.contains("SMART overall health: FAILED"))
        #expect(disk.reasons.contains("NVMe critical warning 0x10: volatile memory backup failed"))
    }

    @Test("a SATA disk with reallocated sectors that still passes is a warning")
    func reallocatedSectors() throws {
        let disk = try summary("sata-hdd-seagate-st3500418-reallocated.json")
        #expect(disk.verdict == .warning)
        #expect(disk.reallocatedSectors == 304)
        #expect(disk.reasons == ["304 reallocated sectors"])
    }

    @Test("errors in a disk's error log (exit bit 6) are a warning")
    func errorLog() throws {
        let disk = try summary("sata-hdd-hgst-error-log.json")
        #expect(disk.verdict == .warning)
        #expect(disk.reasons == ["errors in the device's error log (exit bit 6)"])
    }

    @Test("a disk whose SMART health FAILED, with reallocated and pending sectors, is failing")
    func failingDisk() throws {
        let disk = try summary("sata-hdd-usb-failing.json")
        #expect(disk.verdict == .failing)
        #expect(disk.model == "Hitachi HDS721050DLE630")
        #expect(disk.wwn == "0x5000cca37fca81a8")
        #expect(disk.reallocatedSectors == 1975)
        #expect(disk.pendingSectors == 8)
        #expect(disk.smartctlExitStatus == 216)
        #expect(disk.reasons.first == "SMART overall health: FAILED")
        #expect(disk.reasons.contains("1975 reallocated sectors"))
        #expect(disk.reasons.contains("8 pending sectors"))
        #expect(
            disk.reasons.contains(
                "prefail attribute 5 Reallocated_Sector_Ct at or below threshold now (1, threshold 5)"))
        #expect(disk.reasons.contains("errors in the device's self-test log (exit bit 7)"))
    }

    @Test(
        "a device smartctl could not open or identify is unknown, with smartctl's own words",
        arguments: [
            ("open-failed-windows.json", "smartctl could not open the device (exit bit 1): Smartctl open device"),
            (
                "nonexistent-device.json",
                "smartctl could not use the device as given (exit bit 0): "
                    + "/dev/nonexistent: Unable to detect device type"
            ),
            (
                "loop-device-no-smart.json",
                "smartctl could not use the device as given (exit bit 0): /dev/loop0: Unable to detect device type"
            ),
        ])
    func unreadable(fixture: String, reason: String) throws {
        let disk = try summary(fixture)
        #expect(disk.verdict == .unknown)
        #expect(disk.reasons.count == 1)
        #expect(disk.reasons.first?.hasPrefix(reason) == true, "\(disk.reasons)")
        #expect(disk.model == nil && disk.wwn == nil)
    }

    @Test("the exit status given wins over the one in the JSON: bit 3 makes a passing disk failing")
    func exitStatusGiven() throws {
        let disk = try summary("sata-hdd-seagate-exos-x16.json", exitStatus: 8)
        #expect(disk.verdict == .failing)
        #expect(disk.smartctlExitStatus == 8)
        #expect(disk.reasons == ["smartctl: SMART status says the disk is failing (exit bit 3)"])
        let prefail = try summary("sata-hdd-seagate-exos-x16.json", exitStatus: 16 | 32)
        #expect(prefail.verdict == .warning)
        #expect(prefail.reasons.count == 2)
        let commandFailed = try summary("sata-hdd-seagate-exos-x16.json", exitStatus: 4)
        #expect(commandFailed.verdict == .unknown)
    }

    @Test("text from the disk is made safe to show on the console: no control characters, at most 64 characters")
    func hostileText() throws {
        let json = """
            {"json_format_version":[1,0],"smartctl":{"exit_status":0},"smart_status":{"passed":true},
             "model_name":"  EVIL\\u001b[2J\\u0007 DISK\\n  ","serial_number":"\(String(repeating: "S", count: 500))",
             "wwn":{"naa":99,"oui":1,"id":1}}
            """
        let disk = try SmartSummary(json: Array(json.utf8), exitStatus: nil)
        #expect(disk.model == "EVIL[2J DISK")
        #expect(disk.serial?.count == 64)
        #expect(disk.wwn == nil, "an NAA beyond 4 bits is not a WWN")
        #expect(disk.verdict == .healthy)
    }

    @Test("output that is not smartctl's JSON is refused, whatever it is")
    func refusals() {
        func code(_ bytes: [UInt8]) -> SmartParseError.Code? {
            do {
                _ = try SmartSummary(json: bytes, exitStatus: 0)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code([]) == .notJSON)
        #expect(code(Array("smartctl 7.3 2022-02-28 r5338".utf8)) == .notJSON)
        #expect(code(Array("[1,2]".utf8)) == .notSmartctl)
        #expect(code(Array(#"{"other":1}"#.utf8)) == .notSmartctl)
        #expect(code([UInt8](repeating: UInt8(ascii: " "), count: SmartSummary.maximumBytes + 1)) == .tooLarge)
        // Nesting far deeper than any report: refused by the parser's depth limit, not by a stack overflow.
        #expect(code([UInt8](repeating: UInt8(ascii: "["), count: 200_000)) == .notJSON)
        let deep = Array(#"{"smartctl":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(code(deep) == .notJSON)
    }

    @Test("a summary encodes and decodes as JSON, for the disks service's state")
    func codable() throws {
        let disk = try summary("sata-hdd-usb-failing.json")
        let decoded = try JSONDecoder().decode(SmartSummary.self, from: JSONEncoder().encode(disk))
        #expect(decoded == disk)
    }
}
