import Attestation
import Testing

/// The dead man's switch with time given: every rule without waiting.
@Suite("Heartbeat watch")
struct HeartbeatWatchTests {
    static let start: Int64 = 1_796_000_000

    static func watch() -> HeartbeatWatch {
        HeartbeatWatch(appliances: [.init(name: "lu1", period: 10), .init(name: "lu2", period: 10)], now: start)
    }

    @Test("silence for two periods raises an alarm once; a heartbeat clears it")
    func silence() throws {
        var watch = Self.watch()
        #expect(watch.tick(now: Self.start + 20).isEmpty)
        #expect(
            watch.tick(now: Self.start + 21) == [
                .raised(appliance: "lu1", reason: "silent: no heartbeat since the watch started"),
                .raised(appliance: "lu2", reason: "silent: no heartbeat since the watch started"),
            ])
        #expect(watch.tick(now: Self.start + 22).isEmpty, "an alarm is said once")
        let cleared = try watch.received(
            from: "lu1", sequence: 1, issuedAt: Self.start + 22, trouble: nil, now: Self.start + 22
        ).get()
        #expect(cleared == [.cleared(appliance: "lu1")])
        #expect(watch.tick(now: Self.start + 42).isEmpty)
        #expect(
            watch.tick(now: Self.start + 43) == [
                .raised(appliance: "lu1", reason: "silent: no heartbeat for more than 20 s (expected every 10 s)")
            ])
        #expect(watch.all.first { $0.appliance == "lu1" }?.alarm?.hasPrefix("silent") == true)
        _ = try watch.received(from: "lu1", sequence: 2, issuedAt: Self.start + 44, trouble: nil, now: Self.start + 44)
            .get()
        #expect(watch.all.first { $0.appliance == "lu1" }?.alarm == nil)
    }

    @Test("a replayed, future-dated or unknown heartbeat is refused and changes nothing")
    func refusals() throws {
        var watch = Self.watch()
        _ = try watch.received(from: "lu1", sequence: 5, issuedAt: Self.start, trouble: nil, now: Self.start).get()
        for (sequence, issued, name) in [
            (5, Self.start, "lu1"), (4, Self.start, "lu1"), (6, Self.start + 11, "lu1"),
            (7, Self.start, "lu9"),
        ] as [(UInt64, Int64, String)] {
            #expect(throws: AttestationError.self) {
                try watch.received(from: name, sequence: sequence, issuedAt: issued, trouble: nil, now: Self.start)
                    .get()
            }
        }
        #expect(watch.all.first { $0.appliance == "lu1" }?.lastSequence == 5)
    }

    @Test("after a restart the watch keeps refusing what it accepted before; silence is judged afresh")
    func restoredSequences() throws {
        var watch = Self.watch()
        watch.restore(lastSequences: ["lu1": 9, "lu9": 3])
        #expect(throws: AttestationError.self) {
            try watch.received(from: "lu1", sequence: 9, issuedAt: Self.start, trouble: nil, now: Self.start).get()
        }
        _ = try watch.received(from: "lu1", sequence: 10, issuedAt: Self.start, trouble: nil, now: Self.start).get()
        watch.restore(lastSequences: ["lu1": 4])
        #expect(watch.all.first { $0.appliance == "lu1" }?.lastSequence == 10, "an older record never lowers it")
        #expect(watch.all.first { $0.appliance == "lu2" }?.lastReceived == nil)
        #expect(watch.all.count == 2)
    }

    @Test("a stale heartbeat, or one that reports trouble, is an alarm until a good one comes")
    func staleAndTrouble() throws {
        var watch = Self.watch()
        let stale = try watch.received(
            from: "lu1", sequence: 1, issuedAt: Self.start - 30, trouble: nil, now: Self.start
        ).get()
        #expect(
            stale == [
                .raised(appliance: "lu1", reason: "stale: its last heartbeat was made more than 20 s before it arrived")
            ])
        let trouble = try watch.received(
            from: "lu1", sequence: 2, issuedAt: Self.start + 1, trouble: "keys locked", now: Self.start + 1
        ).get()
        #expect(trouble == [.raised(appliance: "lu1", reason: "reports trouble: keys locked")])
        #expect(
            watch.tick(now: Self.start + 2).filter { if case .raised("lu1", _) = $0 { true } else { false } }.isEmpty)
        let good = try watch.received(
            from: "lu1", sequence: 3, issuedAt: Self.start + 3, trouble: nil, now: Self.start + 3
        )
        .get()
        #expect(good == [.cleared(appliance: "lu1")])
    }

    @Test("a sequence number round-trips through eat_nonce; anything else is not one")
    func sequences() {
        for value: UInt64 in [0, 1, 1_796_000_000_123, .max] {
            #expect(HeartbeatSequence.decode(Base64URL.encode(HeartbeatSequence.encode(value))) == value)
        }
        #expect(HeartbeatSequence.decode(Base64URL.encode([1, 2, 3])) == nil)
        #expect(HeartbeatSequence.decode("not base64url!") == nil)
    }
}

extension HeartbeatWatchTests {
    @Test("a heartbeat's sequence is its time; a report (with a quote, or a verifier's nonce) is not a heartbeat")
    func onlyHeartbeats() {
        let issued: Int64 = Self.start
        func claims(nonce: [UInt8], issuedAt: Int64 = issued, quoted: Bool = false) -> AttestationClaims {
            AttestationClaims(
                nonce: Base64URL.encode(nonce), ueid: "", issuedAt: issuedAt, softwareVersion: ["t"], appliance: "lu1",
                buildDigest: "",
                submods: .init(
                    tpm: quoted ? .init(attest: "", signature: "", pcrs: "sha256:0", values: [:]) : nil,
                    keys: .init(state: "unsealed")))
        }
        let sequence = UInt64(issued) * 1000 + 417
        #expect(HeartbeatSequence.sequence(of: claims(nonce: HeartbeatSequence.encode(sequence))) == sequence)
        #expect(HeartbeatSequence.sequence(of: claims(nonce: HeartbeatSequence.encode(.max))) == nil)
        #expect(HeartbeatSequence.sequence(of: claims(nonce: HeartbeatSequence.encode(sequence), quoted: true)) == nil)
        #expect(
            HeartbeatSequence.sequence(of: claims(nonce: HeartbeatSequence.encode(sequence), issuedAt: .min)) == nil)
        #expect(HeartbeatSequence.sequence(of: claims(nonce: Array(repeating: 7, count: 32))) == nil)
    }

    @Test("dates at the ends of Int64 are refused, never trapped on")
    func extremeDates() {
        var watch = Self.watch()
        for issued in [Int64.min, -1, .max] {
            #expect(throws: AttestationError.self) {
                try watch.received(from: "lu1", sequence: 1, issuedAt: issued, trouble: nil, now: Self.start).get()
            }
        }
        #expect(watch.tick(now: .max).count == 2)
    }
}
