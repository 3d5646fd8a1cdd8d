import Authorization
import PropertyBased
import Testing

@Suite("Authorization policy")
struct AuthorizationPolicyTests {
    static let text = """
        # Home's senders and readers.
        ee-population-primary append ee.population.   # the primary's WAL and base backups
        ee-land append ee.land. ee.cadastre.
        ee-restore read *

        """

    @Test("grants allow exactly their identity, operation and prefixes")
    func grants() throws {
        let policy = try AuthorizationPolicy(parsing: Self.text, file: "authorization.conf")
        #expect(policy.grants.count == 3)
        #expect(policy.allows("ee-population-primary", .append, stream: "ee.population.wal"))
        #expect(!policy.allows("ee-population-primary", .append, stream: "ee.land.wal"))
        #expect(!policy.allows("ee-population-primary", .read, stream: "ee.population.wal"))
        #expect(policy.allows("ee-land", .append, stream: "ee.cadastre.dump"))
        #expect(policy.allows("ee-restore", .read, stream: "anything"))
        #expect(!policy.allows("ee-restore", .append, stream: "anything"))
        #expect(!policy.allows("someone-else", .read, stream: "ee.population.wal"))
    }

    @Test(
        "mistakes are reported with file and line",
        arguments: [
            ("a append", "policy:1: expected"),
            ("\n\na apend ee.", "policy:3: unknown operation 'apend'"),
            ("a read ee/x", "policy:1: the prefix 'ee/x'"),
            ("a read ee:x", "policy:1: the prefix 'ee:x'"),
        ])
    func mistakes(text: String, expected: String) {
        do {
            _ = try AuthorizationPolicy(parsing: text, file: "policy")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error)")
        }
    }

    /// Arbitrary text never crashes the parser: it yields a policy or a located error.
    @Test("arbitrary text parses or is refused with a location")
    func arbitrary() async {
        let alphabet: [Character] = Array("ab.*# \t\nappendread-_/Z\r") + ["\u{e9}"]
        await propertyCheck(count: 2000, input: Gen.element(of: alphabet).array(of: 0...60)) { characters in
            let text = String(characters.compactMap { $0 })
            do {
                let policy = try AuthorizationPolicy(parsing: text, file: "f")
                for grant in policy.grants { #expect(!grant.prefixes.isEmpty) }
            } catch {
                #expect("\(error)".hasPrefix("f:"))
            }
        }
    }
}
