import ArgumentParser
import Foundation
import HostileClients
import NIOCore
import NIOPosix
import NIOSSL
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// Runs one attack against a receiver while an honest sender sends 1 MiB again and again, and prints how long the
/// honest sends took: `attack=<name> sends=<n> wait-max-s=<x>`. `Benchmarks/hostile/run` samples the receiver's
/// memory around it.
@main
struct HostileBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One attack on a replication receiver, with an honest sender's waits during it.")

    enum Attack: String, ExpressibleByArgument, CaseIterable {
        /// 1100 plain TCP connections from 100 source addresses, re-opened whenever closed.
        case idle
        /// Eight connections flooding syncs (and a receipt request a second) without reading; two flooding
        /// receipt requests, re-opened whenever refused.
        case syncs
        /// 150 connections, each appending 7 MiB to its own stream without a sync, then holding it open.
        case hold
    }

    @Option(help: "The receiver's port on 127.0.0.1.") var port: Int
    @Option(help: "The CA certificate that issued the receiver's and the senders' certificates.") var ca: String
    @Option(help: "The attacker's certificate.") var attackerCertificate: String
    @Option(help: "The attacker's key.") var attackerKey: String
    @Option(help: "The honest sender's certificate.") var honestCertificate: String
    @Option(help: "The honest sender's key.") var honestKey: String
    @Option(help: "What to do.") var attack: Attack
    @Option(help: "How long the attack lasts.") var seconds: Int = 30
    @Option(help: "A scratch directory for the honest sender's input.") var scratch: String

    func run() async throws {
        let attackerTLS = try ReplicationTLS.senderConfiguration(
            TLSIdentityFiles(certificate: attackerCertificate, privateKey: attackerKey, trustedAuthorities: ca))
        let honest = ReplicationEndpoint(
            host: "127.0.0.1", port: port,
            tls: try ReplicationTLS.senderConfiguration(
                TLSIdentityFiles(certificate: honestCertificate, privateKey: honestKey, trustedAuthorities: ca)))
        let input = "\(scratch)/honest-input"
        try Data(repeating: 0x48, count: 1 << 20).write(to: URL(fileURLWithPath: input))
        let duration = TimeAmount.seconds(Int64(seconds))
        let end = ContinuousClock.now + .seconds(seconds)

        var idle: IdleConnectionFlood?
        var connections: [HostileConnection] = []
        var refused = 0
        let run = UUID().uuidString.prefix(8).lowercased()
        switch attack {
        case .idle:
            idle = IdleConnectionFlood(
                host: "127.0.0.1", port: port, sources: IdleConnectionFlood.sources(100),
                count: 1100)
            try await Task.sleep(for: .seconds(1))
        case .syncs:
            for index in 0..<8 {
                connections.append(
                    try await HostileConnection.connect(
                        host: "127.0.0.1", port: port, tls: attackerTLS, stream: "bench.syncs.\(run).\(index)",
                        plan: .syncFlood(duration: duration, receiptEvery: .milliseconds(1100))))
            }
            for index in 0..<2 {
                connections.append(
                    try await HostileConnection.connect(
                        host: "127.0.0.1", port: port, tls: attackerTLS, stream: "bench.receipts.\(run).\(index)",
                        plan: .receiptFlood(duration: duration)))
            }
        case .hold:
            for index in 0..<150 {
                let connection = try await HostileConnection.connect(
                    host: "127.0.0.1", port: port, tls: attackerTLS, stream: "bench.hold.\(run).\(index)",
                    plan: .hold(bytes: 7 << 20))
                connections.append(connection)
                if case .error = try await connection.firstFrame.get() { refused += 1 }
            }
        }

        var waits: [Duration] = []
        while ContinuousClock.now < end {
            let start = ContinuousClock.now
            let descriptor = try FileDescriptor.open(FilePath(input), .readOnly)
            defer { try? descriptor.close() }
            _ = try await StreamSender(endpoint: honest).send(stream: "bench.honest.\(run)", from: descriptor)
            waits.append(start.duration(to: .now))
            try await Task.sleep(for: .seconds(2))
        }

        await idle?.stop()
        let made = idle?.connects ?? connections.count
        for connection in connections { try? await connection.channel.close() }
        let worst = waits.max() ?? .zero
        let seconds = Double(worst.components.seconds) + Double(worst.components.attoseconds) / 1e18
        print(
            "attack=\(attack.rawValue) connections=\(made) refused=\(refused) sends=\(waits.count) "
                + "wait-max-s=\(String(format: "%.3f", seconds))")
    }
}
