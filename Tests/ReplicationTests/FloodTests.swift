import Foundation
import HostileClients
import NIOCore
import NIOPosix
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import SystemPackage
import Testing

/// One sender cannot starve the others: floods of idle connections, of syncs and receipt requests that are never
/// read, and of streams held open, against a real receiver over loopback TLS. Memory is this process's resident
/// memory (the receiver runs in it) above what it was before the attack; the bounds are generous, far below what
/// the same attacks cost without the defences (measured on the code before them: see the commit messages).
@Suite("Floods", .serialized)
struct FloodTests {
    /// The process may hold the attackers' sockets and the receiver's ends of them.
    static func raiseDescriptorLimit(to wanted: rlim_t = 8192) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < wanted else {
            return
        }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Runs `body` with an event loop of its own for the attackers, so that the attacking clients, which run in this
    /// process, do not take the receiver's event loops from it as a separate attacker could not.
    static func withAttackerLoop<Result>(
        _ body: (any EventLoopGroup) async throws -> Result
    ) async throws -> Result {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let result = try await body(group)
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Samples this process's resident memory every 50 ms until cancelled; returns the highest.
    static func sampleMemory() -> Task<Int, Never> {
        Task {
            var peak = 0
            while !Task.isCancelled {
                peak = max(peak, ResidentMemory.sample()?.current ?? 0)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return peak
        }
    }

    /// From 100 addresses, 11 each: under the per-address share, so the flood fills the handshake pool itself.
    @Test("1100 idle TCP connections from 100 addresses, re-opened when closed: a sender sends 1 MiB within 30 s")
    func idleConnections() async throws {
        Self.raiseDescriptorLimit()
        // A handshake deadline longer than the test: it is the handshake pool that lets the sender in, not the
        // deadline closing the attackers' connections.
        try await ReceiverHarness.run(limits: .init(helloTimeout: .seconds(120))) { harness in
            try await Self.withAttackerLoop { attackers in
                let flood = IdleConnectionFlood(
                    host: "127.0.0.1", port: harness.port, sources: IdleConnectionFlood.sources(100), count: 1100,
                    group: attackers)
                do {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while flood.connects < 1100 && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    #expect(flood.connects >= 1100)
                    let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
                    let start = ContinuousClock.now
                    _ = try await harness.send(
                        bytes, to: "ee.flood.idle", retry: RetryPolicy(giveUpAfter: .seconds(30)))
                    let waited = start.duration(to: .now)
                    #expect(waited < .seconds(30), "the send took \(waited)")
                    await flood.stop()
                    #expect(try await harness.restore("ee.flood.idle") == bytes)
                } catch {
                    await flood.stop()
                    throw error
                }
            }
        }
    }

    @Test("a plain TCP connection that never starts its TLS handshake is closed at the handshake deadline")
    func handshakeDeadline() async throws {
        try await ReceiverHarness.run(limits: .init(helloTimeout: .milliseconds(400))) { harness in
            let socket = try await RawClient.openSocket(port: harness.port)
            let closed = Task { try await socket.closeFuture.get() }
            let watchdog = Task {
                try await Task.sleep(for: .seconds(30))
                try await socket.close()
            }
            let start = ContinuousClock.now
            try await closed.value
            watchdog.cancel()
            #expect(start.duration(to: .now) < .seconds(20))
        }
    }

    @Test("before its stream is open for append, a client cannot make the receiver buffer a large frame")
    func largeFrameBeforeAppend() async throws {
        try await ReceiverHarness.run { harness in
            let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            // A data frame's header declaring 64 KiB, and nothing more: refused at once, not waited for.
            let frames = try await client.exchange([0, 1, 0, 0, 0x03])
            #expect(frames.compactMap(\.errorCode) == [.malformedFrame], "\(frames)")
        }
    }

    @Test("senders flooding syncs and receipt requests without reading: memory stays bounded, others are served")
    func syncFlood() async throws {
        try await ReceiverHarness.run { harness in
            try await Self.withAttackerLoop { attackers in
                let tls = try harness.endpoint().tls
                let baseline = ResidentMemory.sample()?.current ?? 0
                let sampler = Self.sampleMemory()
                var flooders: [HostileConnection] = []
                for index in 0..<4 {
                    flooders.append(
                        try await HostileConnection.connect(
                            host: "127.0.0.1", port: harness.port, tls: tls, stream: "ee.flood.syncs.\(index)",
                            plan: .syncFlood(duration: .seconds(30), receiptEvery: .milliseconds(1100)),
                            group: attackers
                        ))
                }
                let receipts = try await HostileConnection.connect(
                    host: "127.0.0.1", port: harness.port, tls: tls, stream: "ee.flood.receipts",
                    plan: .receiptFlood(duration: .seconds(30)), group: attackers)
                defer {
                    for flooder in flooders + [receipts] { flooder.channel.close(promise: nil) }
                }
                for flooder in flooders + [receipts] {
                    guard case .ready = try await flooder.firstFrame.get() else {
                        Issue.record("a flooder was refused before it started")
                        return
                    }
                }
                let bytes = [UInt8](repeating: 9, count: 1 << 20)
                _ = try await harness.send(bytes, to: "ee.flood.honest")
                for flooder in flooders { try await flooder.finished.get() }
                try await receipts.finished.get()
                sampler.cancel()
                let grown = await sampler.value - baseline
                #expect(grown < 128 << 20, "resident memory grew by \(grown >> 20) MiB")
                // The sync flooders were slowed down, not cut off; the receipt flooder was refused (rate-limited).
                #expect(flooders.allSatisfy { $0.channel.isActive })
                #expect(!receipts.channel.isActive)
                #expect(try await harness.restore("ee.flood.honest") == bytes)
            }
        }
    }

    @Test("150 connections each holding 7 MiB unsynced in its own stream: refused beyond the caps, memory bounded")
    func heldStreams() async throws {
        Self.raiseDescriptorLimit()
        let policy = """
            development-sender append *
            development-sender read *
            other-sender append *
            other-sender read *
            """
        // 8 MiB segments, as the appliance's 8 + 3 geometry has: each open stream pins one.
        try await ReceiverHarness.run(policy: policy, shardBytes: 2 << 20) { harness in
            try await Self.withAttackerLoop { attackers in
                let tls = try harness.endpoint().tls
                let baseline = ResidentMemory.sample()?.current ?? 0
                let sampler = Self.sampleMemory()
                var holders: [HostileConnection] = []
                defer { for holder in holders { holder.channel.close(promise: nil) } }
                // From ten addresses: 150 handshakes in a burst from one would meet its share of the handshake pool,
                // which is not what this attack is about.
                let sources = IdleConnectionFlood.sources(10)
                for index in 0..<150 {
                    holders.append(
                        try await HostileConnection.connect(
                            host: "127.0.0.1", port: harness.port, tls: tls, stream: "ee.flood.hold.\(index)",
                            plan: .hold(bytes: 7 << 20), source: sources[index % sources.count], group: attackers))
                }
                var ready: [HostileConnection] = []
                var busy = 0
                for holder in holders {
                    switch try await holder.firstFrame.get() {
                    case .ready: ready.append(holder)
                    case .error(let error) where error.code == .applianceBusy: busy += 1
                    case let other: Issue.record("unexpected answer \(other)")
                    }
                }
                let perIdentity = StreamSlots.Limits().perIdentity
                #expect(ready.count == perIdentity && busy == 150 - perIdentity)
                for holder in ready { try await holder.finished.get() }
                // Another identity has places of its own.
                let other = try harness.issueSender(commonName: "other-sender")
                let bytes = [UInt8](repeating: 4, count: 1 << 20)
                _ = try await harness.send(
                    bytes, to: "ee.flood.other",
                    endpoint: try harness.endpoint(certificate: other.certificate, key: other.key))
                try await Task.sleep(for: .seconds(1))
                sampler.cancel()
                let grown = await sampler.value - baseline
                #expect(grown < 256 << 20, "resident memory grew by \(grown >> 20) MiB")
                #expect(ready.allSatisfy { $0.channel.isActive })
                // The development sender's places are all taken: the other identity restores what it sent.
                let restored = "\(harness.scratch.path)/restored-other"
                _ = try await StreamRestorer(
                    endpoint: try harness.endpoint(certificate: other.certificate, key: other.key)
                ).restore(stream: "ee.flood.other", toFileAt: FilePath(restored))
                #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: restored))) == bytes)
            }
        }
    }
}
