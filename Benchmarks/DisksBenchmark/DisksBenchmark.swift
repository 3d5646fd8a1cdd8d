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
import SystemPackage

/// `scripts/bench disks`: the disks service over the loop-device rig, in this process, with real udev events.
///
/// 1. Event to state: a member's loop device pulled; the time until the service shows it missing, and until a store
///    (as ingest's) counts it absent. p99 of `DISKS_EVENT_ROUNDS` (20) pulls, each put back and caught up after.
/// 2. Rebuild end to end: `DISKS_REBUILD_MIB` (1024) MiB ingested; a member pulled; the time from a blank disk's
///    insertion to the member whole again (adoption, mkfs.xfs, mount, label and rebuild, unthrottled), against a raw
///    direct read of the bytes the rebuild read from the other members (what the one device here allows).
/// 3. Acknowledged-append latency (8 KiB, one writer): p99 while a throttled rebuild (`DISKS_REBUILD_RATE`, 16 MiB/s)
///    runs, against the same without it.
@main
struct DisksBenchmark {
    static func main() async throws {
        guard geteuid() == 0 else {
            print("disks: needs root (loop devices, mounts, systemd-udevd)")
            exit(1)
        }
        let environment = ProcessInfo.processInfo.environment
        let work = environment["DISKS_WORK"] ?? "\(FileManager.default.currentDirectoryPath)/.build/bench-disks"
        let hardware = environment["DISKS_HARDWARE"] ?? "\(FileManager.default.currentDirectoryPath)/hardware"
        let rounds = Int(environment["DISKS_EVENT_ROUNDS"] ?? "") ?? 20
        let rebuildMiB = Int(environment["DISKS_REBUILD_MIB"] ?? "") ?? 1024
        let rate = Int(environment["DISKS_REBUILD_RATE"] ?? "") ?? 16 << 20
        let bench = try BenchRig(work: work, hardware: hardware)
        // Interrupted, it still takes down what it set up (loop devices, mounts, the udevd it started), by id.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                bench.tearDown()
                exit(128 + number)
            }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await bench.run(rounds: rounds, rebuildMiB: rebuildMiB, throttledRate: rate)
            bench.tearDown()
        } catch {
            bench.tearDown()
            print("disks: \(error)")
            exit(1)
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Report {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func percentile(_ values: [Duration], _ fraction: Double) -> Duration {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }
}
