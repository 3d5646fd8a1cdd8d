import PropertyBased
import StreamStore
import Testing

@Suite("Stream names")
struct StreamNameTests {
    @Test(
        "names that follow the rules are accepted",
        arguments: [
            "ee.population.wal", "a", "0", "ee.land-registry.base_2026", String(repeating: "x", count: 200),
            "ee.pg.wal.00000001000000000000000A", "ee.pg.wal.00000002.history", "UPPER", "Z",
        ])
    func accepted(name: String) throws {
        #expect(try StreamName(name).rawValue == name)
    }

    @Test(
        "names that break a rule are refused",
        arguments: [
            "", "..", ".hidden", "trailing.", "-leading", "a..b", "a/b", "../etc/passwd", "A.", "_A", "a b", "a\u{0}b",
            "ee.рoрulation", "a\\b", String(repeating: "x", count: 201), "a:b", "~", "a\nb",
        ])
    func refused(name: String) {
        #expect(throws: StreamNameError.self) { try StreamName(name) }
    }

    @Test("the refusal names the rule")
    func message() {
        do {
            _ = try StreamName("a/b")
            Issue.record("a/b was accepted")
        } catch {
            #expect(error.description.contains("forbidden character at byte 1"))
            #expect(error.description.contains("a-z, 0-9"))
        }
    }

    /// The validator against an independent statement of the rule, over arbitrary strings drawn mostly from the
    /// interesting alphabet (allowed characters, dots, slashes, upper case, non-ASCII).
    @Test("the validator agrees with an independent reading of the rule")
    func property() async {
        let alphabet: [Character] = Array("abz09._-/AZ[@ \u{e9}\u{0}") + ["\u{430}"]
        await propertyCheck(count: 3000, input: Gen.element(of: alphabet).array(of: 0...12)) { characters in
            let name = String(characters.compactMap { $0 })
            let expected = Self.followsRule(name)
            let accepted = (try? StreamName(name)) != nil
            #expect(accepted == expected, "\(name.debugDescription)")
        }
    }

    private static func followsRule(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        let edges = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        guard let first = name.first, let last = name.last else { return false }
        return name.utf8.count <= 200 && name.allSatisfy { allowed.contains($0) } && edges.contains(first)
            && edges.contains(last) && !name.contains("..")
    }
}
