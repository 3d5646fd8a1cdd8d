import DurableFiles
import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// Rebuild of one member: after a stream is ingested, one member directory is wiped (a failed disk), a blank one is
/// adopted in its place and rebuilt from the others. The figure is the rebuilt shard bytes per second, against a
/// raw sequential write of the same number of bytes to one file with an fdatasync at the end. The baseline runs
/// before and after the rebuild and the two times are averaged.
///
/// A rebuild reads k shards for each shard it writes, and shards are written with direct I/O, so those reads come
/// from the disk: in the appliance from k other disks side by side, here all from the one device every member
/// shares. So the run also times a raw direct read of as many bytes from the same shard files, and prints how the
/// rebuild's reading compares with it (a line of information, not a target).
struct MemberRebuild {
    /// The work directory.
    let work: String
    /// MiB of stream ingested before the member is wiped.
    let streamMiB: Int
    /// The member wiped and rebuilt.
    let member: Int

    func run() throws {
        let directory = try WorkDirectory(work: work, name: "rebuild")
        defer { directory.remove() }
        let pool = try RandomPool(pieceBytes: 1 << 20)
        let geometry = ArrayGeometry.twelveBay
        let array = try BenchmarkArray(in: directory.path.appending("array"), geometry: geometry)
        guard array.members.indices.contains(member) else {
            throw BenchmarkFailure("member \(member) is outside 0..<\(array.members.count)")
        }
        Report.line(
            "storage rebuild: member \(member) of \(array.members.count) after a \(streamMiB) MiB stream; "
                + "baseline: raw write of the same bytes to one file, fdatasync at the end")
        try directory.condition(
            bytes: 2 * (streamMiB << 20) / geometry.dataShards * geometry.shardsPerSegment, pool: pool)
        _ = try array.ingest(
            try StreamName("ee.bench.rebuild"), total: streamMiB << 20, durableEvery: 64 << 20, pool: pool,
            store: try array.open())
        let target = array.members[member]
        let shardBytes = try Self.shardFileBytes(in: target)
        let baselineFile = directory.path.appending("baseline")
        let before = try RawFile.sequentialWrite(to: baselineFile, total: shardBytes, flushEvery: nil, pool: pool)
        Report.line("  baseline before: \(Report.secondsText(before))")

        try FileManager.default.removeItem(atPath: target.string)
        try array.open().adoptReplacement(target, as: member)
        let store = try array.open()
        var report: RebuildReport?
        let rebuild = try Stopwatch.timeFromSettled { report = try store.rebuild(member: member) }
        guard let report, report.unrepairable.isEmpty else {
            throw BenchmarkFailure("the rebuild left segments unrepaired: \(report?.unrepairable ?? [])")
        }
        let rebuiltBytes = try Self.shardFileBytes(in: target)
        guard rebuiltBytes == shardBytes else {
            throw BenchmarkFailure("the rebuilt member holds \(rebuiltBytes) shard bytes, not \(shardBytes)")
        }
        Report.line(
            "  store: \(report.shardsWritten) shards (\(report.shardsRead) read), \(shardBytes >> 20) MiB in "
                + "\(Report.secondsText(rebuild)), "
                + Report.rate(bytes: shardBytes, over: rebuild))
        let readBytes = report.shardsRead * (shardBytes / max(1, report.shardsWritten))
        let sources = array.members.indices.filter { $0 != member }.map { array.members[$0] }
        let rawRead = try Self.directRead(bytes: readBytes, from: sources)
        Report.line(
            "  raw direct read of the \(readBytes >> 20) MiB the rebuild read, from the same shard files: "
                + "\(Report.secondsText(rawRead)), \(Report.rate(bytes: readBytes, over: rawRead)); the rebuild took "
                + "\(Report.fixed(rebuild.seconds / rawRead.seconds, 2)) times as long")
        array.remove()

        let after = try RawFile.sequentialWrite(to: baselineFile, total: shardBytes, flushEvery: nil, pool: pool)
        Report.line("  baseline after: \(Report.secondsText(after))")
        let baseline = (before + after) / 2
        Report.line("  baseline: \(Report.rate(bytes: shardBytes, over: baseline))")
        Report.ratio("storage-rebuild", baseline.seconds / rebuild.seconds, target: 0.8)
    }

    /// Reads `bytes` from the shard files under `members` with direct I/O, 1 MiB at a time, one file after another,
    /// and returns how long it took.
    private static func directRead(bytes: Int, from members: [FilePath]) throws -> Duration {
        var files: [FilePath] = []
        for member in members {
            guard let walk = FileManager.default.enumerator(atPath: member.string) else { continue }
            for case let name as String in walk where name.hasSuffix(".shard") { files.append(member.appending(name)) }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        return try Stopwatch.timeFromSettled {
            var remaining = bytes
            for path in files where remaining > 0 {
                let file = try FileDescriptor.open(path, .readOnly, options: FileSystemCalls.directIO)
                defer { try? file.close() }
                while remaining > 0 {
                    let count = try file.read(into: buffer)
                    if count == 0 { break }
                    remaining -= count
                }
            }
            guard remaining <= 0 else { throw BenchmarkFailure("the shard files hold less than \(bytes) bytes") }
        }
    }

    /// The bytes of every shard file under a member directory.
    private static func shardFileBytes(in member: FilePath) throws -> Int {
        guard let walk = FileManager.default.enumerator(atPath: member.string) else {
            throw BenchmarkFailure("cannot list \(member)")
        }
        var total = 0
        for case let name as String in walk where name.hasSuffix(".shard") {
            let attributes = try FileManager.default.attributesOfItem(atPath: member.appending(name).string)
            total += (attributes[.size] as? Int) ?? 0
        }
        return total
    }
}
