import CryptoPrimitives
import DurableFiles
import ErasureStore
import Foundation
import HashChain
import Keys
import Logging
import ServiceLifecycle
import StoreFormat
import StreamStore
import SystemPackage
import TPM2

/// `scripts/bench keys`: the keys service over a swtpm this benchmark starts (and stops by pid):
///
/// - unseal at start (the keys service's whole start: signing public key, journal key, storage key through home's
///   signed policy) and one signature with the TPM-resident key, p50 and p99 over KEYS_ROUNDS (100) runs each;
/// - restore throughput with each segment's data key unwrapped through the keys socket, against restore with the
///   storage private key in the reading process (the baseline, as before the keys service), KEYS_RESTORE_MIB (256)
///   MiB read alternately both ways, five times each.
@main
struct KeysBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count == 4 && arguments[1] == "verify-report" {
            try verifyReport(token: arguments[2], publicKey: arguments[3])
            return
        }
        let environment = ProcessInfo.processInfo.environment
        let rounds = Int(environment["KEYS_ROUNDS"] ?? "") ?? 100
        let restoreMiB = Int(environment["KEYS_RESTORE_MIB"] ?? "") ?? 256
        guard let work = environment["KEYS_WORK"] else { fatalError("KEYS_WORK is not set: run Benchmarks/keys/run") }
        let rig = try BenchmarkTPM(work: work)
        defer { rig.stop() }
        let configuration = try rig.provisionedConfiguration()

        var unseal: [Double] = []
        var sign: [Double] = []
        let logger = Logger(label: "keys-benchmark")
        for _ in 0..<rounds {
            let started = ContinuousClock.now
            let vault = try TPMKeyVault(configuration: configuration)
            let holder = KeyHolder(
                files: KeysStateFiles(directory: FilePath(configuration.stateDirectory)), vault: vault,
                audit: AuditTrail(log: nil, logger: logger), logger: logger)
            guard holder.state == .unsealed else { fatalError("the keys did not unseal: \(holder.state)") }
            unseal.append(milliseconds(since: started))
            let message = Array("saatkond receipt benchmark".utf8)
            let signing = ContinuousClock.now
            _ = try holder.sign(message)
            sign.append(milliseconds(since: signing))
        }
        report("keys-unseal", unseal, max: 500)
        report("keys-sign", sign, max: 100)

        try await restoreRatio(configuration: configuration, work: work, mebibytes: restoreMiB, logger: logger)
    }

    static func restoreRatio(
        configuration: KeysConfiguration, work: String, mebibytes: Int, logger: Logger
    ) async throws {
        let service = try KeysService(
            files: KeysStateFiles(directory: FilePath(configuration.stateDirectory)),
            vault: try TPMKeyVault(configuration: configuration),
            socket: .onlyFor(uid: getuid(), path: configuration.socket), intrusion: nil, decommission: nil,
            logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let client = KeysClient(socket: configuration.socket)
        for _ in 0..<200 where (try? client.status()) == nil { try await Task.sleep(for: .milliseconds(20)) }
        let (publicKey, journalKey) = try client.storageKeys()
        let privateKey = try X25519PrivateKey(rawRepresentation: try service.holder.vault.unsealStorageKey())

        let members = (0..<11).map { FilePath("\(work)/members/disk-\($0)") }
        _ = try ErasureCodedStore.create(members: members, geometry: .twelveBay)
        let stream = try StreamName("ee.benchmark.restore")
        do {
            let writer = try ErasureCodedStore(
                members: members,
                keys: try StorageKeys(storagePublicKey: publicKey, segmentKeys: nil, journalKey: journalKey))
            let appender = try writer.openAppender(for: stream)
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            for index in 0..<mebibytes {
                for offset in stride(from: 0, to: chunk.count, by: 8) {
                    chunk[offset] = UInt8(truncatingIfNeeded: index &+ offset)
                }
                try chunk.withUnsafeBytes { try appender.append($0) }
            }
            _ = try appender.makeDurable()
            appender.close()
            writer.shutdown()
        }
        let inProcess = try StorageKeys(
            storagePublicKey: publicKey, storagePrivateKey: privateKey, journalKey: journalKey)
        let throughSocket = try StorageKeys(
            storagePublicKey: publicKey, segmentKeys: client.segmentKeys, journalKey: journalKey)
        var baseline: [Double] = []
        var measured: [Double] = []
        for _ in 0..<5 {
            baseline.append(try readAll(stream, members: members, keys: inProcess))
            measured.append(try readAll(stream, members: members, keys: throughSocket))
        }
        let best = baseline.max()!
        let bestSocket = measured.max()!
        print(
            "keys-restore: in-process key \(format(best)) MiB/s, through the keys socket \(format(bestSocket)) MiB/s "
                + "(best of 5 each, alternating, \(mebibytes) MiB, segments of \(ArrayGeometry.twelveBay.segmentBytes >> 20) MiB)"
        )
        print("RESULT keys-restore ratio=\(format(bestSocket / best)) target=0.9")
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    /// Reads the whole stream through a fresh store; MiB/s.
    static func readAll(_ stream: StreamName, members: [FilePath], keys: StorageKeys) throws -> Double {
        let store = try ErasureCodedStore(members: members, keys: keys)
        defer { store.shutdown() }
        let reader = try store.openReader(for: stream)
        defer { reader.close() }
        var buffer = [UInt8](repeating: 0, count: 8 << 20)
        var offset: UInt64 = 0
        let started = ContinuousClock.now
        while offset < reader.length {
            let count = try buffer.withUnsafeMutableBytes { try reader.read(at: offset, into: $0) }
            guard count > 0 else { fatalError("the stream ended early at \(offset)") }
            offset += UInt64(count)
        }
        let seconds = milliseconds(since: started) / 1000
        return Double(reader.length) / Double(1 << 20) / seconds
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    static func report(_ name: String, _ samples: [Double], max: Int) {
        let sorted = samples.sorted()
        let p50 = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        print("\(name): p50 \(format(p50)) ms, p99 \(format(p99)) ms over \(samples.count) runs on swtpm")
        print("RESULT \(name)-p99 ms=\(format(p99)) max=\(max)")
    }

    static func format(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}
