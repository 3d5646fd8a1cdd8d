import Chassis
import Foundation
import Testing

/// The files in hardware/ are read by the appliance and by udevd: each bay map must parse, and each udev rules file
/// must tag exactly the bays, paths and labels its map has, or a technician would be sent to the wrong bay.
@Suite("hardware/: bay maps and their udev rules")
struct HardwareFilesTests {
    /// The repository's hardware/ directory, found from this file's place in Tests/ChassisTests.
    static let hardware = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hardware")

    static func map(_ relativePath: String) throws -> BayMap {
        let url = hardware.appendingPathComponent(relativePath)
        return try BayMap(parsing: try String(contentsOf: url, encoding: .utf8), file: relativePath)
    }

    /// The rules of a udev file that assign SAATKOND_BAY, as (matches, assignments); continuation lines are joined
    /// first, as udevd joins them.
    static func tagging(_ relativePath: String) throws -> [(matches: [String: String], sets: [String: String])] {
        let text = try String(contentsOf: hardware.appendingPathComponent(relativePath), encoding: .utf8)
        let joined = text.replacingOccurrences(of: "\\\n", with: "").split(separator: "\n")
        let pair = /([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|=)\s*"([^"]*)"/
        return joined.compactMap { line in
            guard !line.hasPrefix("#"), line.contains("SAATKOND_BAY") else { return nil }
            var matches: [String: String] = [:]
            var sets: [String: String] = [:]
            for match in line.matches(of: pair) {
                if match.2 == "==" { matches[String(match.1)] = String(match.3) }
                if match.2 == "=" { sets[String(match.1)] = String(match.3) }
            }
            return (matches, sets)
        }
    }

    @Test("every bay map in hardware/ parses")
    func mapsParse() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.hardware.path).filter {
            $0.hasSuffix(".bays")
        }
        #expect(files.count >= 2, "\(files)")
        for file in files {
            #expect(throws: Never.self, "\(file)") { _ = try Self.map(file) }
        }
    }

    @Test("the SC826BE1C map: twelve bays behind one expander, each with its path, slot and lights")
    func supermicroMap() throws {
        let map = try Self.map("chassis/supermicro-sc826be1c.bays")
        #expect(map.bays.count == 12)
        #expect(map.bays.map(\.label) == (0...11).map(String.init))
        #expect(map.bays.map(\.enclosureSlot) == Array(0...11))
        #expect(map.bays.allSatisfy { $0.indicator == .enclosure })
        for bay in map.bays {
            let path = try #require(bay.path)
            #expect(
                path.hasPrefix("pci-0000:01:00.0-sas-exp0x5003048") && path.hasSuffix("-phy\(bay.number - 1)-lun-0"))
        }
    }

    @Test("the SC826BE1C rules tag each bay's ID_PATH with that bay's number and label, and nothing else")
    func supermicroRules() throws {
        let map = try Self.map("chassis/supermicro-sc826be1c.bays")
        let rules = try Self.tagging("udev/61-saatkond-supermicro-sc826be1c.rules")
        #expect(rules.count == map.bays.count)
        for rule in rules {
            let path = try #require(rule.matches["ENV{ID_PATH}"], "\(rule)")
            let bay = try #require(map.bays.first { $0.path == path }, "\(path) is in no bay of the map")
            #expect(rule.sets["ENV{SAATKOND_BAY}"] == "\(bay.number)")
            #expect(rule.sets["ENV{SAATKOND_BAY_LABEL}"] == bay.label)
        }
        #expect(Set(rules.compactMap { $0.matches["ENV{ID_PATH}"] }) == Set(map.bays.compactMap(\.path)))
    }

    @Test("the test rig: twelve bays labelled as the SC826BE1C, and rules that give each its label")
    func testRig() throws {
        let map = try Self.map("test-rig/test-rig.bays")
        let chassis = try Self.map("chassis/supermicro-sc826be1c.bays")
        #expect(map.bays.map(\.label) == chassis.bays.map(\.label))
        #expect(map.bays.allSatisfy { $0.indicator == .rig && $0.path == nil && $0.enclosureSlot == nil })
        let rules = try Self.tagging("test-rig/61-saatkond-test-rig.rules").filter {
            $0.matches["ENV{SAATKOND_BAY}"] != nil
        }
        #expect(rules.count == map.bays.count)
        for rule in rules {
            let number = try #require(rule.matches["ENV{SAATKOND_BAY}"].flatMap { Int($0) })
            #expect(rule.sets["ENV{SAATKOND_BAY_LABEL}"] == map.bay(number: number)?.label, "bay \(number)")
        }
    }
}
