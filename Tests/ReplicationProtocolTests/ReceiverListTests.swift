import Authorization
import HashChain
import ReplicationProtocol
import StreamStore
import Testing

/// The listing session told as events and the actions they must produce.
@Suite("Receiver state machine: listing")
struct ReceiverListTests {
    /// "reader" may read ee.pop and x.y; "sender" may only append; "both" reads everything.
    static let policy = try! AuthorizationPolicy(
        parsing: "reader read ee.pop x.y\nsender append *\nboth read *", file: "test")

    static func machine(_ identity: String?) -> ReceiverStateMachine {
        var machine = ReceiverStateMachine(policy: policy)
        machine.peerIdentified(identity)
        return machine
    }

    static let page = ProtocolLimits.maximumListingEntries

    /// `count` summaries named `ee.pop.<first + i>` (zero-padded, so that name order is number order).
    static func summaries(_ count: Int, from first: Int = 0) -> [StreamSummary] {
        (first..<first + count).map {
            let digits = String($0)
            let name = "ee.pop." + String(repeating: "0", count: 6 - digits.count) + digits
            return StreamSummary(
                name: try! StreamName(name), length: UInt64($0), head: .empty, lastAppendMilliseconds: 1)
        }
    }

    @Test("a list hello from a reader asks storage for the first page, with its read prefixes and the asked prefix")
    func authorisedList() {
        var machine = Self.machine("reader")
        let action = machine.frameReceived(.hello(Hello(intent: .list, stream: "ee")))
        #expect(action.frames.isEmpty && !action.close)
        #expect(action.storage == .list(prefix: "ee", readable: ["ee.pop", "x.y"], after: nil, limit: Self.page))
        // A short page is the last: it is sent, then the count of everything listed.
        let entries = Self.summaries(2)
        let done = machine.listPageCompleted(entries)
        #expect(done.frames == [.listing(entries), .end(offset: 2)])
        #expect(done.storage == nil && !done.close)
        // Nothing more is allowed; the client closes.
        #expect(machine.frameReceived(.sync).frames.first?.errorCode == .unexpectedFrame)
    }

    @Test("a peer without a read grant may not list, whatever it may append; nor may one without a certificate name")
    func listWithoutReadGrantIsRefused() {
        for identity in ["sender", "stranger", nil] as [String?] {
            var machine = Self.machine(identity)
            let action = machine.frameReceived(.hello(Hello(intent: .list, stream: "")))
            #expect(action.frames.first?.errorCode == .notAuthorized, "\(identity ?? "no name")")
            #expect(action.frames.first?.errorMessage?.contains("may not read any stream") == true)
            #expect(action.close)
            #expect(action.storage == nil || action.storage.isRelease)
        }
    }

    @Test("the read prefixes of a peer are its grants' for its name and issuer, none once its certificate is revoked")
    func readPrefixes() throws {
        let both = CertifiedPeer(commonName: "both", serialNumber: "1f")
        #expect(Self.policy.prefixes(both, .read) == ["*"])
        #expect(Self.policy.prefixes(CertifiedPeer(commonName: "reader"), .read) == ["ee.pop", "x.y"])
        #expect(Self.policy.prefixes(CertifiedPeer(commonName: "sender"), .read).isEmpty)
        var policy = Self.policy
        policy.revoked = try DenyList(parsing: "serial 1f", file: "revoked")
        #expect(policy.prefixes(both, .read).isEmpty)
    }

    @Test("a prefix is checked like a grant's: an empty one lists everything, a path or a long one is refused")
    func prefixValidation() {
        var everything = Self.machine("both")
        #expect(
            everything.frameReceived(.hello(Hello(intent: .list, stream: ""))).storage
                == .list(prefix: "", readable: ["*"], after: nil, limit: Self.page))
        for prefix in ["../ee", "ee/pop", "ee pop", String(repeating: "e", count: 201), "*"] {
            var machine = Self.machine("both")
            let action = machine.frameReceived(.hello(Hello(intent: .list, stream: prefix)))
            #expect(action.frames.first?.errorCode == .invalidStreamName, "\(prefix)")
            #expect(action.close)
        }
        var longest = Self.machine("both")
        #expect(
            longest.frameReceived(.hello(Hello(intent: .list, stream: String(repeating: "e", count: 200)))).storage
                != nil)
    }

    @Test("full pages are sent one at a time, each next page asked for after the last name sent")
    func pagingWithCursor() {
        var machine = Self.machine("reader")
        _ = machine.frameReceived(.hello(Hello(intent: .list, stream: "")))
        let first = Self.summaries(Self.page)
        let afterFirst = machine.listPageCompleted(first)
        #expect(afterFirst.frames == [.listing(first)])
        #expect(
            afterFirst.storage
                == .list(prefix: "", readable: ["ee.pop", "x.y"], after: first.last!.name, limit: Self.page))
        let second = Self.summaries(Self.page, from: Self.page)
        let afterSecond = machine.listPageCompleted(second)
        #expect(
            afterSecond.storage
                == .list(prefix: "", readable: ["ee.pop", "x.y"], after: second.last!.name, limit: Self.page))
        // A full page may be the last: the next comes back empty, and only the end is sent.
        #expect(machine.listPageCompleted([]).frames == [.end(offset: UInt64(2 * Self.page))])
    }

    @Test("a client that does not read gets no next page until it does, and is timed out meanwhile")
    func backpressure() {
        var machine = Self.machine("reader")
        _ = machine.frameReceived(.hello(Hello(intent: .list, stream: "")))
        // The client stops reading while the first page is being read from storage.
        let paused = machine.writabilityChanged(isWritable: false)
        #expect(paused.reading == .pause && paused.storage == nil)
        #expect(machine.clientDeadline == nil, "storage is at work; the client is not keeping anyone waiting")
        let first = Self.summaries(Self.page)
        let sent = machine.listPageCompleted(first)
        #expect(sent.frames == [.listing(first)])
        #expect(sent.storage == nil, "a next page was asked for while the client does not read")
        #expect(machine.clientDeadline != nil)
        let resumed = machine.writabilityChanged(isWritable: true)
        #expect(resumed.reading == .resume)
        #expect(
            resumed.storage
                == .list(prefix: "", readable: ["ee.pop", "x.y"], after: first.last!.name, limit: Self.page))
        // The client never reads again: it is cut off.
        _ = machine.listPageCompleted(Self.summaries(Self.page, from: Self.page))
        _ = machine.writabilityChanged(isWritable: false)
        #expect(machine.clientTimedOut().frames.first?.errorCode == .timedOut)
    }

    @Test("a storage failure ends the listing with storage-failure; a page after the connection closed is dropped")
    func failures() {
        var machine = Self.machine("reader")
        _ = machine.frameReceived(.hello(Hello(intent: .list, stream: "")))
        let failed = machine.storageFailed(.unavailable("members are missing"))
        #expect(failed.frames.first?.errorCode == .storageFailure && failed.close)

        var closed = Self.machine("reader")
        _ = closed.frameReceived(.hello(Hello(intent: .list, stream: "")))
        #expect(closed.connectionClosed() == .none, "the page in flight is still being read")
        #expect(closed.listPageCompleted(Self.summaries(1)) == .none)
    }

    @Test("a listing includes a stream only where a read grant and the prefix both cover it, by whole components")
    func inclusion() throws {
        let readable = ["ee.pop", "x.y"]
        func included(_ name: String, _ prefix: String) throws -> Bool {
            ReceiverStateMachine.listingIncludes(try StreamName(name), prefix: prefix, readable: readable)
        }
        #expect(try included("ee.pop.wal", ""))
        #expect(try included("ee.pop", "ee"))
        #expect(try included("x.y.z", "x"))
        #expect(try !included("ee.population", ""))
        #expect(try !included("ee.land.x", "ee"))
        #expect(try !included("ee.pop.wal", "ee.po"))
        #expect(try !included("ee.pop.wal", "x"))
        #expect(try included("ee.pop.wal", "ee.pop.wal"))
    }
}
