import Authorization
import PropertyBased
import Testing

/// Grants cover whole name components, can be tied to the CA that issued the certificate, and give way to the
/// deny list.
@Suite("Grant scope, issuers and revocation")
struct GrantScopeTests {
    @Test(
        "a prefix covers whole name components, never a longer name that starts with the same letters",
        arguments: [
            ("ee.pop", "ee.pop", true), ("ee.pop", "ee.pop.wal", true), ("ee.pop", "ee.population.wal", false),
            ("ee.pop", "ee.pop-archive", false), ("ee.pop", "ee.po", false), ("ee.", "ee.land", true),
            ("ee.", "eex.land", false), ("ee", "ee.land", true), ("ee", "eel", false), ("*", "anything", true),
        ])
    func components(prefix: String, stream: String, covered: Bool) {
        #expect(AuthorizationPolicy.covers(prefix, stream: stream) == covered)
    }

    @Test("a grant for ee.pop does not open ee.population.wal")
    func shortPrefixDoesNotOpenLongerName() throws {
        let policy = try AuthorizationPolicy(parsing: "sender append ee.pop", file: "p")
        #expect(policy.allows("sender", .append, stream: "ee.pop.wal"))
        #expect(!policy.allows("sender", .append, stream: "ee.population.wal"))
    }

    @Test("a grant that names its issuer admits only certificates of that CA")
    func issuer() throws {
        let policy = try AuthorizationPolicy(
            parsing: "sender@home-ca-1 append ee.\nother append ee.", file: "p")
        #expect(policy.grants[0].issuer == "home-ca-1")
        #expect(policy.grants[0].location == "p:1")
        let fromFirst = CertifiedPeer(commonName: "sender", issuer: "home-ca-1", serialNumber: "1")
        let fromSecond = CertifiedPeer(commonName: "sender", issuer: "home-ca-2", serialNumber: "1")
        #expect(policy.allows(fromFirst, .append, stream: "ee.wal"))
        #expect(!policy.allows(fromSecond, .append, stream: "ee.wal"))
        #expect(policy.allows(CertifiedPeer(commonName: "other", issuer: "home-ca-2"), .append, stream: "ee.wal"))
    }

    @Test("an issuer's name may be quoted to hold spaces; an open quote is a located mistake")
    func quotedIssuer() throws {
        let policy = try AuthorizationPolicy(parsing: "sender@\"Home CA 2\" append ee.", file: "p")
        #expect(policy.grants.first?.issuer == "Home CA 2")
        #expect(policy.allows("sender", issuer: "Home CA 2", .append, stream: "ee.wal"))
        #expect(throws: PolicyError.self) {
            _ = try AuthorizationPolicy(parsing: "sender@\"Home CA append ee.", file: "p")
        }
    }

    @Test("where more than one CA is trusted, a grant without its issuer is refused, naming its line")
    func issuersRequired() throws {
        let open = try AuthorizationPolicy(parsing: "a@ca-1 append ee.\n\nb append ee.", file: "p")
        try open.requireIssuers(trustedAuthorities: 1)
        #expect(throws: PolicyError.self) { try open.requireIssuers(trustedAuthorities: 2) }
        do {
            try open.requireIssuers(trustedAuthorities: 2)
        } catch {
            #expect(error.description.hasPrefix("p:3: 2 CAs are trusted"), "\(error)")
        }
        let named = try AuthorizationPolicy(parsing: "a@ca-1 append ee.\nb@ca-2 read ee.", file: "p")
        try named.requireIssuers(trustedAuthorities: 2)
    }

    @Test("a revoked certificate holds no grant, by serial or by public key")
    func revoked() throws {
        var policy = try AuthorizationPolicy(parsing: "sender append *", file: "p")
        let key = String(repeating: "ab", count: 32)
        policy.revoked = try DenyList(
            parsing: "# stolen laptop\nserial 0A:1b:FF\npublic-key sha256:\(key.uppercased())\n", file: "d")
        #expect(policy.revoked.serialNumbers == ["a1bff"])
        let good = CertifiedPeer(
            commonName: "sender", serialNumber: "02", publicKeySHA256: String(repeating: "0", count: 64))
        #expect(policy.allows(good, .append, stream: "ee.wal"))
        #expect(!policy.allows(CertifiedPeer(commonName: "sender", serialNumber: "0a1bff"), .append, stream: "ee.wal"))
        #expect(
            !policy.allows(
                CertifiedPeer(commonName: "sender", serialNumber: "7", publicKeySHA256: key), .append, stream: "ee.wal")
        )
        #expect(!policy.allows(CertifiedPeer(commonName: nil, serialNumber: "2"), .append, stream: "ee.wal"))
    }

    @Test(
        "deny-list mistakes are reported with file and line",
        arguments: [
            ("serial", "d:1: expected `serial <hex>`"),
            ("\nserial xyz", "d:2: 'xyz' is not a hexadecimal serial number"),
            ("serial \(String(repeating: "1", count: 41))", "d:1: '1111"),
            ("public-key sha1:00", "d:1: a public key is `sha256:`"),
            ("public-key sha256:\(String(repeating: "g", count: 64))", "d:1: a public key is"),
            ("fingerprint 00", "d:1: unknown entry 'fingerprint'"),
        ])
    func denyListMistakes(text: String, expected: String) {
        do {
            _ = try DenyList(parsing: text, file: "d")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error)")
        }
    }

    /// Arbitrary text never crashes the deny-list parser: it yields a list or a located error.
    @Test("arbitrary deny-list text parses or is refused with a location")
    func arbitraryDenyList() async {
        let alphabet: [Character] = Array("serialpublic-key sha256:0aF9#\t\n\r:xz") + ["\u{e9}"]
        await propertyCheck(count: 2000, input: Gen.element(of: alphabet).array(of: 0...80)) { characters in
            let text = String(characters.compactMap { $0 })
            do {
                let list = try DenyList(parsing: text, file: "f")
                for serial in list.serialNumbers { #expect(!serial.isEmpty && !serial.contains(":")) }
                for key in list.publicKeys { #expect(key.utf8.count == 64) }
            } catch {
                #expect("\(error)".hasPrefix("f:"))
            }
        }
    }

    @Test(
        "grant identities with a malformed issuer are refused",
        arguments: ["@ca append ee.", "a@ append ee.", "a@b@c append ee."])
    func malformedIssuer(text: String) {
        #expect(throws: PolicyError.self) { _ = try AuthorizationPolicy(parsing: text, file: "p") }
    }
}
