import CustodyLog
import DurableFiles
import Foundation
import SystemPackage
import TestSupport
import Testing

/// "Durable before it returns", held to with a real process: a writer (`CustodyCrashWriter`) appends until it is
/// killed with SIGKILL at a random instant; every record it said was appended must be in the log on reopening, the
/// chain must verify, and whatever part of a line the kill left must be cut off.
@Suite("Custody log after kill -9")
struct CustodyLogCrashTests {
    /// The writer next to this test bundle, where `swift build --build-tests` puts it.
    static let writerPath: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("CustodyCrashWriter").path

    @Test("every acknowledged record survives kill -9 of the appending process, and the log reopens clean")
    func killedWriter() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.writerPath) else {
            throw TestSupportError("\(Self.writerPath) is missing; build with `swift build --build-tests`")
        }
        let scratch = try ScratchDirectory(prefix: "saatkond-custody-crash")
        defer { scratch.remove() }
        let log = "\(scratch.path)/custody.log"
        var random = SplitMix64(seed: UInt64(UInt32(truncatingIfNeeded: time(nil))))
        var acknowledged: [(seq: UInt64, hash: String)] = []
        for round in 0..<5 {
            let output = "\(scratch.path)/writer-\(round).out"
            let writer = try ChildProcess(executable: Self.writerPath, arguments: [log], output: output)
            // Let it append a while (0 to 200 ms after it has opened the log), then kill it wherever it is.
            let opened = ContinuousClock.now + .seconds(10)
            while !(try String(contentsOfFile: output, encoding: .utf8)).contains("\n"), ContinuousClock.now < opened {
                usleep(2_000)
            }
            usleep(UInt32(random.next() % 200_000))
            writer.send(SIGKILL)
            _ = writer.waitForExit(timeout: 10)
            let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            // The reopened head holds every acknowledged record, and perhaps one appended whose report the kill cut.
            let opening = lines.first?.split(separator: " ") ?? []
            #expect(opening.first == "OPEN", "\(lines.prefix(2))")
            #expect(opening.count == 3 && UInt64(opening[1]) ?? 0 >= acknowledged.last?.seq ?? 0, "\(lines.prefix(2))")
            for line in lines.dropFirst() {
                let parts = line.split(separator: " ")
                // A kill may cut the writer's last report mid-line; only whole ones are promises.
                guard parts.count == 3, parts[0] == "ACK", let seq = UInt64(parts[1]), parts[2].count == 64 else {
                    continue
                }
                acknowledged.append((seq, String(parts[2])))
            }
        }
        let reopened = try CustodyLog(path: FilePath(log))
        let records = try CustodyLog.verify(FileSystemCalls.readAll(FilePath(log)))
        #expect(!acknowledged.isEmpty)
        #expect(records.count >= acknowledged.count)
        for promise in acknowledged {
            #expect(records[Int(promise.seq) - 1].hash == promise.hash, "record \(promise.seq) was promised")
        }
        #expect(reopened.head == records.last)
    }
}
