import Chassis
import PropertyBased
import Testing

/// The bay map is read from a file a human edits: whatever it holds, the parser either returns a map that keeps the
/// map's promises or names the line of a mistake; it never crashes.
@Suite("Chassis bay maps, property-based")
struct BayMapPropertyTests {
    @Test("any text either parses into a valid map or is refused at a line of it")
    func arbitraryLines() async {
        let words = [
            "chassis = c", "chassis = d", "indicator = rig", "indicator = none", "indicator = blink", "[bay 1]",
            "[bay 2]", "[bay 3]", "[bay 0]", "[bay x]", "[bay 1", "label = a", "label = b", "label = \"",
            "path = p", "path = q", "enclosure-slot = 1", "enclosure-slot = -1", "enclosure-slot = 1", "= x", "#",
            "[", "]", "\u{0}", "", "label", "colour = red", " [bay 2] # two", "label = é",
        ]
        await propertyCheck(count: 3000, input: Gen.element(of: words).array(of: 0...12)) { lines in
            let text = lines.compactMap { $0 }.joined(separator: "\n")
            do throws(BayMapError) {
                let map = try BayMap(parsing: text, file: "p")
                Self.expectValid(map)
            } catch {
                #expect(error.file == "p")
                #expect((1...max(lines.count, 1)).contains(error.line), "\(error)")
            }
        }
    }

    @Test("a valid map reads back equal from its text, and from the same text reordered and commented")
    func roundTrip() async {
        await propertyCheck(count: 500, input: Gen.uint64()) { seed in
            var random = SplitMix(seed: seed)
            let map = Self.randomMap(&random)
            #expect((try? BayMap(parsing: map.text, file: "p")) == map)
            let scrambled = Self.scrambledText(of: map, &random)
            #expect((try? BayMap(parsing: scrambled, file: "p")) == map, "\(scrambled)")
        }
    }

    @Test("a valid map's text, altered by a line deleted, doubled, swapped or a character changed, never crashes")
    func mutations() async {
        await propertyCheck(count: 1500, input: Gen.uint64()) { seed in
            var random = SplitMix(seed: seed)
            var lines = Self.randomMap(&random).text.split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
            for _ in 0..<random.next(in: 1...3) {
                let index = random.next(in: 0...(lines.count - 1))
                switch random.next(in: 0...3) {
                case 0 where lines.count > 1:
                    lines.remove(at: index)
                case 1:
                    lines.insert(lines[index], at: index)
                case 2:
                    lines.swapAt(index, random.next(in: 0...(lines.count - 1)))
                default:
                    var characters = Array(lines[index])
                    let replacement = Array("[]=#x1 \"\u{0}-")[random.next(in: 0...9)]
                    if characters.isEmpty {
                        characters = [replacement]
                    } else {
                        characters[random.next(in: 0...(characters.count - 1))] = replacement
                    }
                    lines[index] = String(characters)
                }
            }
            let text = lines.joined(separator: "\n")
            do throws(BayMapError) {
                let map = try BayMap(parsing: text, file: "p")
                Self.expectValid(map)
                #expect((try? BayMap(parsing: map.text, file: "again")) == map)
            } catch {
                #expect(error.file == "p")
                #expect((1...lines.count).contains(error.line), "\(error)")
            }
        }
    }

    /// What every parsed map promises its users.
    static func expectValid(_ map: BayMap) {
        #expect(!map.chassis.isEmpty)
        #expect(map.bays.map(\.number) == Array(1...map.bays.count))
        #expect(Set(map.bays.map(\.label)).count == map.bays.count)
        let paths = map.bays.compactMap(\.path)
        #expect(Set(paths).count == paths.count)
        let slots = map.bays.compactMap(\.enclosureSlot)
        #expect(Set(slots).count == slots.count)
        for bay in map.bays {
            #expect(!bay.label.isEmpty && bay.label.first != " " && bay.label.last != " ")
            #expect(map.bay(properties: ["SAATKOND_BAY": "\(bay.number)"], enclosureSlot: nil) == bay)
            if let path = bay.path { #expect(map.bay(properties: ["ID_PATH": path], enclosureSlot: nil) == bay) }
        }
    }

    static func randomMap(_ random: inout SplitMix) -> BayMap {
        let count = random.next(in: 1...24)
        let alphabet = Array("ABCxyz019 -_.=é/()Ä")
        var labels: Set<String> = []
        var bays: [Bay] = []
        let slots = Array(0...40).shuffled(using: &random)
        let indicators: [BayIndicator] = [.enclosure, .ledctl, .rig, .none]
        let expander = String(random.next(in: 0...Int(UInt32.max)), radix: 16)
        for number in 1...count {
            var label = String(
                (0..<random.next(in: 1...12)).map { _ in alphabet[random.next(in: 0...(alphabet.count - 1))] })
            label = label.trimmingSpaces.isEmpty ? "L\(number)" : label.trimmingSpaces
            if labels.contains(label) { label = "\(label.prefix(20))+\(number)" }
            labels.insert(label)
            bays.append(
                Bay(
                    number: number, label: label,
                    path: random.next(in: 0...1) == 0
                        ? nil : "pci-0000:01:00.0-sas-exp0x\(expander)-phy\(number)-lun-0",
                    enclosureSlot: random.next(in: 0...1) == 0 ? nil : slots[number],
                    indicator: indicators[random.next(in: 0...3)]))
        }
        return BayMap(chassis: "Chassis \(random.next(in: 0...999))", bays: bays)
    }

    /// The same map written differently: sections and keys in another order, comments, blank lines, odd spacing.
    static func scrambledText(of map: BayMap, _ random: inout SplitMix) -> String {
        var sections: [[String]] = []
        for bay in map.bays {
            var keys = ["label = \(bay.label)", "indicator\t=  \(bay.indicator.rawValue)"]
            if let path = bay.path { keys.append("path=\(path)   # the slot") }
            if let slot = bay.enclosureSlot { keys.append("  enclosure-slot = 00\(slot)") }
            sections.append(["", "# bay \(bay.number)", "[ bay \(bay.number) ]"] + keys.shuffled(using: &random))
        }
        return (["# scrambled", "chassis =   \(map.chassis)  "] + sections.shuffled(using: &random).flatMap { $0 })
            .joined(separator: random.next(in: 0...1) == 0 ? "\n" : "\r\n")
    }
}

/// A small deterministic generator, so that a failing seed reproduces.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
