import CryptoPrimitives
import DiskLifecycle
import Disks
import ErasureStore
import Foundation
import Logging
import LoopRig
import ServiceLifecycle
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage

/// The rig, the disks service and a writer's store, set up and torn down by path, node and pid.
final class BenchRig: @unchecked Sendable {
    let work: String
    let rig: LoopRig
    let membersRoot: String
    let keys: StorageKeys
    let publicKeys: StorageKeys
    let chassis: String
    private var udevd: UdevDaemonProcess?
    private var service: DisksService?
    private var group: ServiceGroup?
    private var groupTask: Task<Void, Never>?

    init(work: String, hardware: String) throws {
        self.work = work
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        rig = try LoopRig(directory: FilePath("\(work)/saatkond-rig"), bays: 12)
        membersRoot = "\(work)/members"
        let privateKey = try X25519PrivateKey()
        let journal = try CryptoRandom.secretBytes(count: 32)
        keys = try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey, journalKey: journal)
        publicKeys = try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: nil, journalKey: journal)
        chassis = "\(work)/chassis.bays"
        try BayMapText.rig(bays: 12).write(toFile: chassis, atomically: true, encoding: .utf8)
        // udevd first: it then knows whether /run/udev was there before (the rules are put under it).
        udevd = try UdevDaemonProcess.startOrReuse(logFile: "\(work)/udevd.log")
        try LoopRig.installRules(from: FilePath(hardware))
    }

    /// Starts the disks service with a rebuild rate (nil: none).
    func startService(rebuildBytesPerSecond: Int?) async throws {
        var configuration = DisksConfiguration(
            chassis: chassis, membersRoot: membersRoot, state: "\(work)/disks", socket: "\(work)/disks.sock",
            dataShards: 8, parityShards: 3, storagePublicKey: "", journalKey: "")
        configuration.rig = rig.directory.string
        configuration.rebuildBytesPerSecond = rebuildBytesPerSecond
        var logger = Logger(label: "bench.disks")
        logger.logLevel = .error
        let service = DisksService(configuration: configuration, keys: publicKeys, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        self.service = service
        self.group = group
        groupTask = Task { try? await group.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while service.status == nil {
            guard ContinuousClock.now < deadline else { throw BenchFailure("the disks service did not start") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func stopService() async {
        await group?.triggerGracefulShutdown()
        await groupTask?.value
        group = nil
        groupTask = nil
        service = nil
    }

    var status: DisksStatus? { service?.status }

    /// Polls the service's state every millisecond until `condition` holds.
    func waitFor(
        _ what: String, timeout: Duration = .seconds(300), _ condition: (DisksStatus) -> Bool
    ) async throws -> Duration {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if let status, condition(status) { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(1))
        }
        throw BenchFailure("waited \(timeout) for \(what): \(String(describing: status))")
    }

    func disk(inBay bay: Int) -> DisksStatus.DiskStatus? {
        status?.bays.first { $0.bay == bay }?.disk
    }

    func tearDown() {
        let semaphore = DispatchSemaphore(value: 0)
        Task {
            await stopService()
            semaphore.signal()
        }
        semaphore.wait()
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count > 1 && fields[1].hasPrefix(work) ? String(fields[1]) : nil
            }
        for mount in mounts.sorted(by: { $0.count > $1.count }) {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = ["--lazy", mount]
            try? umount.run()
            umount.waitUntilExit()
        }
        rig.detachAll()
        LoopRig.removeRules()
        udevd?.stop()
        try? FileManager.default.removeItem(atPath: work)
    }
}

enum BayMapText {
    static func rig(bays: Int) -> String {
        "chassis = benchmark rig\nindicator = rig\n"
            + (1...bays).map { "[bay \($0)]\nlabel = \($0 - 1)\n" }.joined()
    }
}
