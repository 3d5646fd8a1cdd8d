import Chassis
import Foundation
import Testing

@Suite("Chassis bay maps")
struct BayMapTests {
    static let example = """
        # a 3-bay example
        chassis = Example 3-bay JBOD
        indicator = enclosure   # for every bay unless it says otherwise

        [bay 2]
        label = B
        path = pci-0000:01:00.0-sas-exp0x500304801f3ab27f-phy1-lun-0
        enclosure-slot = 1
        [bay 1]
        label = Bay A
        path = pci-0000:01:00.0-sas-exp0x500304801f3ab27f-phy0-lun-0
        enclosure-slot = 0
        [ bay 3 ]
        label = C
        indicator = ledctl
        """

    @Test("a map's bays are sorted by number; a bay's own indicator wins over the default")
    func parses() throws {
        let map = try BayMap(parsing: Self.example, file: "example.bays")
        #expect(map.chassis == "Example 3-bay JBOD")
        #expect(map.bays.map(\.number) == [1, 2, 3])
        #expect(map.bays.map(\.label) == ["Bay A", "B", "C"])
        #expect(map.bays.map(\.indicator) == [.enclosure, .enclosure, .ledctl])
        #expect(map.bay(number: 2)?.enclosureSlot == 1)
        #expect(map.bay(number: 3)?.path == nil && map.bay(number: 3)?.enclosureSlot == nil)
        #expect(map.bay(number: 4) == nil && map.bay(number: 0) == nil)
    }

    @Test("Windows line ends and tabs read like Unix ones")
    func lineEnds() throws {
        let text = Self.example.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(
            of: " = ", with: "\t=\t")
        #expect(try BayMap(parsing: text, file: "w") == BayMap(parsing: Self.example, file: "u"))
    }

    @Test("a disk's bay: SAATKOND_BAY first, then ID_PATH, then the enclosure slot")
    func lookup() throws {
        let map = try BayMap(parsing: Self.example, file: "example.bays")
        let phy0 = "pci-0000:01:00.0-sas-exp0x500304801f3ab27f-phy0-lun-0"
        // The udev rules' tag decides even when the path and the slot say otherwise.
        #expect(map.bay(properties: ["SAATKOND_BAY": "3", "ID_PATH": phy0], enclosureSlot: 1)?.number == 3)
        // Without the tag (rules not installed yet), the path; then the slot.
        #expect(map.bay(properties: ["ID_PATH": phy0], enclosureSlot: 1)?.number == 1)
        #expect(map.bay(properties: ["ID_PATH": "pci-0000:02:00.0-ata-1"], enclosureSlot: 1)?.number == 2)
        #expect(map.bay(properties: [:], enclosureSlot: 0)?.number == 1)
        // A tag that names no bay of this map (another chassis's rules) is passed over.
        #expect(map.bay(properties: ["SAATKOND_BAY": "9", "ID_PATH": phy0], enclosureSlot: nil)?.number == 1)
        #expect(map.bay(properties: ["SAATKOND_BAY": "x"], enclosureSlot: nil) == nil)
        #expect(map.bay(properties: ["ID_PATH": "pci-0000:02:00.0-ata-1"], enclosureSlot: 7) == nil)
        #expect(map.bay(properties: [:], enclosureSlot: nil) == nil)
    }

    @Test(
        "every mistake is reported with file and line",
        arguments: [
            ("[bay 1]\nlabel = a\nindicator = rig\n", "m:1: the map does not name its chassis"),
            ("chassis = c\n", "m:1: the map has no bays"),
            ("chassis = c\n\n# nothing\n", "m:3: the map has no bays"),
            ("chassis = c\nlabel = a\n", "m:2: unknown key 'label' before the first [bay N]"),
            ("chassis = c\n[bay 1]\ncolour = red\n", "m:3: unknown key 'colour' in a [bay N] section"),
            ("chassis = c\n[bay 1]\nchassis = d\n", "m:3: unknown key 'chassis' in a [bay N] section"),
            ("chassis = c\nchassis = d\n", "m:2: 'chassis' is already set on line 1"),
            ("chassis = c\n[bay 1]\nlabel = a\nlabel = b\n", "m:4: 'label' is already set for bay 1 on line 3"),
            ("chassis = c\nindicator = rig\n[bay 1]\nlabel = a\n[bay 1]\n", "m:5: bay 1 is already defined on line 3"),
            ("chassis = c\nindicator = rig\n[bay 1]\nlabel = a\n[bay 3]\nlabel = c\n", "m:5: bay 2 is missing"),
            ("chassis = c\nindicator = rig\n[bay 2]\nlabel = a\n", "m:3: bay 1 is missing"),
            ("chassis = c\n[bay 0]\n", "m:2: the bay number must be a number from 1 to 999, found '0'"),
            ("chassis = c\n[bay -1]\n", "m:2: the bay number must be a number from 1 to 999"),
            ("chassis = c\n[bay one]\n", "m:2: the bay number must be a number from 1 to 999, found 'one'"),
            ("chassis = c\n[bay 1000]\n", "m:2: the bay number must be"),
            ("chassis = c\n[disk 1]\n", "m:2: expected `[bay N]`, found '[disk 1]'"),
            ("chassis = c\n[bay 1\n", "m:2: expected `[bay N]`"),
            ("chassis = c\n[bay 1 2]\n", "m:2: expected `[bay N]`"),
            ("chassis = c\njust words\n", "m:2: expected `key = value` or `[bay N]`"),
            ("chassis = c\nindicator = rig\n[bay 1]\n", "m:3: bay 1 has no label"),
            ("chassis = c\n[bay 1]\nlabel = a\n", "m:2: bay 1 has no indicator"),
            ("chassis = c\n[bay 1]\nlabel =\n", "m:3: 'label' has no value"),
            ("chassis = c\n[bay 1]\nlabel = a\"b\n", "m:3: the label 'a\"b' must be at most 32 characters"),
            ("chassis = c\n[bay 1]\nlabel = \(String(repeating: "x", count: 33))\n", "m:3: the label"),
            ("chassis = c\n[bay 1]\nindicator = blink\n", "m:3: indicator must be one of enclosure, ledctl, rig, none"),
            ("chassis = c\n[bay 1]\nenclosure-slot = +3\n", "m:3: enclosure-slot must be a number from 0 to 9999"),
            ("chassis = c\n[bay 1]\nenclosure-slot = 10000\n", "m:3: enclosure-slot must be a number"),
            ("chassis = c\n[bay 1]\npath = pci 0000\n", "m:3: path must be a udev ID_PATH"),
            ("chassis = c\n[bay 1]\npath = a/b\n", "m:3: path must be a udev ID_PATH"),
            (
                "chassis = c\nindicator = rig\n[bay 1]\nlabel = a\npath = p\n[bay 2]\nlabel = b\npath = p\n",
                "m:8: path 'p' is already bay 1's (line 5)"
            ),
            (
                "chassis = c\nindicator = rig\n[bay 1]\nlabel = a\nenclosure-slot = 4\n[bay 2]\nlabel = b\n"
                    + "enclosure-slot = 4\n",
                "m:8: enclosure-slot 4 is already bay 1's (line 5)"
            ),
            ("chassis = c\nindicator = rig\n[bay 1]\nlabel = a\n[bay 2]\nlabel = a\n", "m:6: the label 'a' is already"),
        ])
    func mistakes(text: String, expected: String) {
        do {
            let map = try BayMap(parsing: text, file: "m")
            Issue.record("accepted \(text.debugDescription) as \(map)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
            #expect(error.file == "m")
        }
    }

    @Test("a map written as text reads back equal")
    func text() throws {
        let map = try BayMap(parsing: Self.example, file: "example.bays")
        #expect(try BayMap(parsing: map.text, file: "text") == map)
    }
}
