import DurableFiles
import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage

extension BenchRig {
    func run(rounds: Int, rebuildMiB: Int, throttledRate: Int) async throws {
        for bay in 1...12 {
            let serial = String(format: "BENCH-%02d", bay)
            _ = try rig.makeDisk(serial: serial, bytes: 2 << 30)
            _ = try rig.insert(serial: serial, bay: bay)
        }
        try await startService(rebuildBytesPerSecond: nil)
        _ = try await waitFor("the array to form") { $0.array.id != nil && $0.array.wholeMembers == 11 }
        let store = try ErasureCodedStore(memberRoot: FilePath(membersRoot), keys: keys)
        defer { store.shutdown() }
        try await eventToState(rounds: rounds, store: store)
        try await rebuildEndToEnd(mib: rebuildMiB, store: store)
        await stopService()
        try await startService(rebuildBytesPerSecond: throttledRate)
        _ = try await waitFor("the array after the restart") { $0.array.wholeMembers == 11 }
        try await appendLatencyDuringRebuild(store: store, rate: throttledRate)
    }

    // MARK: 1. Event to state

    private func eventToState(rounds: Int, store: ErasureCodedStore) async throws {
        var toState: [Duration] = []
        var toAbsent: [Duration] = []
        Report.line("disks event: \(rounds) pulls of a member's loop device; time to the state change and to absence")
        for round in 0..<rounds {
            let bay = 1 + round % 11
            let member = bay - 1
            let serial = String(format: "BENCH-%02d", bay)
            let start = ContinuousClock.now
            try rig.pull(bay: bay)
            var stateAt: Duration?
            var absentAt: Duration?
            while stateAt == nil || absentAt == nil {
                let elapsed = ContinuousClock.now - start
                guard elapsed < .seconds(30) else { throw BenchFailure("pull \(round) not seen in 30 s") }
                if stateAt == nil, status?.away.contains(where: { $0.identity == "serial-\(serial)" }) == true {
                    stateAt = elapsed
                }
                if absentAt == nil, store.absentMemberIndices()[member] != nil { absentAt = elapsed }
                try await Task.sleep(for: .milliseconds(1))
            }
            toState.append(stateAt!)
            toAbsent.append(absentAt!)
            _ = try rig.insert(serial: serial, bay: bay)
            _ = try await waitFor("member \(member) back") { status in
                status.bays.first { $0.bay == bay }?.disk?.state == "member" && status.array.wholeMembers == 11
            }
        }
        let stateP99 = Report.percentile(toState, 0.99)
        let absentP99 = Report.percentile(toAbsent, 0.99)
        Report.line(
            "  to the state change: p50 \(Report.fixed(Report.milliseconds(Report.percentile(toState, 0.5)), 1)) ms, "
                + "p99 \(Report.fixed(Report.milliseconds(stateP99), 1)) ms; to the store's absence: p50 "
                + "\(Report.fixed(Report.milliseconds(Report.percentile(toAbsent, 0.5)), 1)) ms, p99 "
                + "\(Report.fixed(Report.milliseconds(absentP99), 1)) ms")
        let worst = max(stateP99, absentP99)
        Report.line("RESULT disks-event-p99 ms=\(Int(Report.milliseconds(worst).rounded(.up))) max=1000")
    }

    // MARK: 2. Rebuild end to end

    private func rebuildEndToEnd(mib: Int, store: ErasureCodedStore) async throws {
        let stream = try StreamName("ee.bench.disks.rebuild")
        let appender = try store.openAppender(for: stream)
        var piece = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<mib {
            for offset in stride(from: 0, to: piece.count, by: 8) {
                piece.withUnsafeMutableBytes {
                    $0.storeBytes(
                        of: UInt64(index << 20 + offset) &* 0x9E37_79B9_7F4A_7C15, toByteOffset: offset, as: UInt64.self
                    )
                }
            }
            try piece.withUnsafeBytes { try appender.append($0) }
            if index % 64 == 63 { _ = try appender.makeDurable() }
        }
        _ = try appender.makeDurable()
        appender.close()
        let bay = 2
        try rig.pull(bay: bay)
        _ = try await waitFor("member 1 missing") { $0.away.contains { $0.state == "missing" } }
        _ = try rig.makeDisk(serial: "BENCH-NEW-02", bytes: 2 << 30)
        let start = ContinuousClock.now
        _ = try rig.insert(serial: "BENCH-NEW-02", bay: bay)
        _ = try await waitFor("the replacement whole", timeout: .seconds(1800)) { status in
            status.bays.first { $0.bay == bay }?.disk?.state == "member"
        }
        let elapsed = ContinuousClock.now - start
        guard let last = status?.lastRebuild else { throw BenchFailure("no rebuild was reported") }
        let geometry = ArrayGeometry.twelveBay
        let shardFileBytes = geometry.shardFileBytes
        let readBytes = last.segmentsTotal * geometry.dataShards * shardFileBytes
        let raw = try directRead(bytes: readBytes, excluding: "serial-BENCH-NEW-02")
        Report.line(
            "disks rebuild: \(mib) MiB stream, member 1 replaced: insertion to whole member in "
                + "\(Report.fixed(Report.milliseconds(elapsed) / 1000, 2)) s (\(last.segmentsTotal) segments, "
                + "\(last.bytesWritten >> 20) MiB written); raw direct read of the \(readBytes >> 20) MiB it reads: "
                + "\(Report.fixed(Report.milliseconds(raw) / 1000, 2)) s")
        Report.line("RESULT disks-rebuild ratio=\(Report.fixed(raw / elapsed, 3)) target=0.8")
    }

    /// Reads `bytes` of shard files from the members (all but `excluding`) with direct I/O, 1 MiB at a time.
    private func directRead(bytes: Int, excluding: String) throws -> Duration {
        var files: [String] = []
        for member in try FileManager.default.contentsOfDirectory(atPath: membersRoot) where member != excluding {
            guard let walk = FileManager.default.enumerator(atPath: "\(membersRoot)/\(member)") else { continue }
            for case let name as String in walk where name.hasSuffix(".shard") {
                files.append("\(membersRoot)/\(member)/\(name)")
            }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        let start = ContinuousClock.now
        var remaining = bytes
        for path in files where remaining > 0 {
            let file = try FileDescriptor.open(FilePath(path), .readOnly, options: FileSystemCalls.directIO)
            defer { try? file.close() }
            while remaining > 0 {
                let count = try file.read(into: buffer)
                if count == 0 { break }
                remaining -= count
            }
        }
        guard remaining <= 0 else { throw BenchFailure("the shard files hold less than \(bytes) bytes") }
        return ContinuousClock.now - start
    }

    // MARK: 3. Append latency during a rebuild

    private func appendLatencyDuringRebuild(store: ErasureCodedStore, rate: Int) async throws {
        let appender = try store.openAppender(for: try StreamName("ee.bench.disks.latency"))
        defer { appender.close() }
        let record = [UInt8](repeating: 0x5A, count: 8 << 10)
        func sample() throws -> Duration {
            let start = ContinuousClock.now
            try record.withUnsafeBytes { try appender.append($0) }
            _ = try appender.makeDurable()
            return ContinuousClock.now - start
        }
        var quiet: [Duration] = []
        for _ in 0..<500 { quiet.append(try sample()) }
        let bay = 3
        try rig.pull(bay: bay)
        _ = try await waitFor("member 2 missing") { $0.away.contains { $0.state == "missing" } }
        _ = try rig.makeDisk(serial: "BENCH-NEW-03", bytes: 2 << 30)
        _ = try rig.insert(serial: "BENCH-NEW-03", bay: bay)
        _ = try await waitFor("the rebuild to start", timeout: .seconds(120)) { $0.rebuild != nil }
        var busy: [Duration] = []
        while status?.rebuild != nil && busy.count < 2000 { busy.append(try sample()) }
        for _ in 0..<(500 - min(500, quiet.count)) { quiet.append(try sample()) }
        guard busy.count >= 50 else {
            throw BenchFailure("the rebuild ended after \(busy.count) appends; ingest more or throttle it further")
        }
        // The device's share: the same appends while a plain program reads k MiB and writes 1 MiB (direct I/O,
        // flushed every 8 MiB) at the rebuild's rate, on the same device, as the rebuild's I/O without the store.
        let stop = Atomic<Bool>(false)
        let sources = shardFiles(excluding: "serial-BENCH-NEW-03")
        let rawWork = "\(work)/raw-rebuild"
        let raw = Thread { Self.rawRebuildLoad(sources: sources, target: rawWork, rate: rate, stop: stop) }
        raw.start()
        var device: [Duration] = []
        for _ in 0..<500 { device.append(try sample()) }
        stop.store(true, ordering: .releasing)
        let quietP99 = Report.percentile(quiet, 0.99)
        let busyP99 = Report.percentile(busy, 0.99)
        let deviceP99 = Report.percentile(device, 0.99)
        Report.line(
            "disks append latency (8 KiB, one writer): p99 \(Report.fixed(Report.milliseconds(quietP99), 2)) ms "
                + "without a rebuild (\(quiet.count) appends), \(Report.fixed(Report.milliseconds(busyP99), 2)) ms "
                + "during a rebuild throttled to \(rate >> 20) MiB/s (\(busy.count) appends); "
                + "\(Report.fixed(Report.milliseconds(deviceP99), 2)) ms during the rebuild's raw I/O at that rate "
                + "(the device's bound: ratio \(Report.fixed(quietP99 / deviceP99, 3)))")
        Report.line("RESULT disks-append-p99-during-rebuild ratio=\(Report.fixed(quietP99 / busyP99, 3)) target=0.5")
    }

    private func shardFiles(excluding: String) -> [String] {
        var files: [String] = []
        for member in (try? FileManager.default.contentsOfDirectory(atPath: membersRoot)) ?? []
        where member != excluding {
            guard let walk = FileManager.default.enumerator(atPath: "\(membersRoot)/\(member)") else { continue }
            for case let name as String in walk where name.hasSuffix(".shard") {
                files.append("\(membersRoot)/\(member)/\(name)")
            }
        }
        return files
    }

    /// Until `stop`: per MiB "rebuilt", 8 MiB read with direct I/O from `sources` and 1 MiB written with direct I/O
    /// to `target`, flushed every 8 MiB, paced at `rate` written bytes a second.
    private static func rawRebuildLoad(sources: [String], target: String, rate: Int, stop: borrowing Atomic<Bool>) {
        guard !sources.isEmpty,
            let output = try? FileDescriptor.open(
                FilePath(target), .writeOnly,
                options: FileDescriptor.OpenOptions([.create, .truncate]).union(FileSystemCalls.directIO),
                permissions: [.ownerReadWrite])
        else { return }
        defer { try? output.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        let start = ContinuousClock.now
        var written = 0
        var source = 0
        var offset: Int64 = 0
        while !stop.load(ordering: .acquiring) {
            for _ in 0..<8 {
                guard
                    let file = try? FileDescriptor.open(
                        FilePath(sources[source % sources.count]), .readOnly,
                        options: FileSystemCalls.directIO)
                else { source += 1; continue }
                let count = (try? file.read(fromAbsoluteOffset: offset, into: buffer)) ?? 0
                try? file.close()
                if count < buffer.count { source += 1; offset = 0 } else { offset += Int64(count) }
            }
            _ = try? output.write(toAbsoluteOffset: Int64(written % (256 << 20)), UnsafeRawBufferPointer(buffer))
            written += buffer.count
            if written % (8 << 20) == 0 { try? FileSystemCalls.synchroniseData(output) }
            let due =
                Double(written) / Double(rate) - Double((ContinuousClock.now - start).components.seconds)
                - Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            if due > 0 { Thread.sleep(forTimeInterval: due) }
        }
    }
}
