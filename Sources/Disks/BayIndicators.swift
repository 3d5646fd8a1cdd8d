import Chassis
import DiskLifecycle
import Foundation

/// Lights a bay's locate or fault LED the way its chassis map says: the SES enclosure's sysfs attributes, ledctl,
/// or, in the test rig, a state file a person (or a test) reads.
struct BayIndicators: Sendable {
    let map: BayMap
    /// The test rig's directory, whose `leds/NN` files stand in for LEDs.
    let rig: String?

    /// Sets the LED of `bay`; `device` is the disk in it, if any (ledctl addresses a bay through its disk).
    func set(_ state: IndicatorState, bay number: Int, device: String?) throws {
        guard let bay = map.bay(number: number) else {
            throw ExternalTool.Failure(description: "bay \(number) is not in the chassis map \(map.chassis)")
        }
        switch bay.indicator {
        case .none:
            return
        case .rig:
            guard let rig else {
                throw ExternalTool.Failure(description: "bay \(number) has a rig LED but no rig is configured")
            }
            let directory = "\(rig)/leds"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let file = "\(directory)/\(String(format: "%02d", number))"
            try "\(state.rawValue)\n".write(toFile: file, atomically: true, encoding: .utf8)
        case .ledctl:
            guard let device else { return }  // ledctl needs the disk; an empty bay's LED stays as it is.
            let pattern: String
            switch state {
            case .off: pattern = "normal"
            case .locate: pattern = "locate"
            case .fault: pattern = "failure"
            }
            try ExternalTool("ledctl", package: "ledmon").check(["\(pattern)=\(device)"])
        case .enclosure:
            guard let slot = bay.enclosureSlot, let directory = Self.enclosureSlotDirectory(slot) else {
                throw ExternalTool.Failure(description: "no SES enclosure slot \(bay.enclosureSlot ?? -1) in sysfs")
            }
            try (state == .locate ? "1" : "0").write(toFile: "\(directory)/locate", atomically: false, encoding: .utf8)
            try (state == .fault ? "1" : "0").write(toFile: "\(directory)/fault", atomically: false, encoding: .utf8)
        }
    }

    /// The sysfs directory of an enclosure slot: `/sys/class/enclosure/<enclosure>/<component>` whose `slot`
    /// attribute is the number.
    static func enclosureSlotDirectory(_ slot: Int) -> String? {
        let root = "/sys/class/enclosure"
        for enclosure in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            let base = "\(root)/\(enclosure)"
            for component in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
                let text = try? String(contentsOfFile: "\(base)/\(component)/slot", encoding: .utf8)
                if let text, Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) == slot {
                    return "\(base)/\(component)"
                }
            }
        }
        return nil
    }

    /// The SES slot a SCSI disk sits in: its device directory links to the enclosure component
    /// (`enclosure_device:<name>`), whose `slot` attribute is the number.
    static func enclosureSlot(ofSysPath sysPath: String) -> Int? {
        let deviceDirectory = "\(sysPath)/device"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: deviceDirectory) else { return nil }
        for entry in entries where entry.hasPrefix("enclosure_device:") {
            let text = try? String(contentsOfFile: "\(deviceDirectory)/\(entry)/slot", encoding: .utf8)
            if let text, let slot = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return slot }
        }
        return nil
    }
}
