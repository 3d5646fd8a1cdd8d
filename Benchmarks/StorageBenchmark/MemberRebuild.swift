import ErasureStore
import Foundation
import StreamStore
import SystemPackage

/// Rebuild of one member: after a stream is ingested, one member directory is wiped (a failed disk), a blank one is
/// adopted in its place and rebuilt from the others. The figure is the rebuilt shard bytes per second, against a
/// raw sequential write of the same number of bytes to one file with an fdatasync at the end.
///
/// The other members' shards are still in the page cache from the ingest, so their reads cost no disk time: in the
/// appliance they come from k other disks in parallel, while here every member shares one device. The baseline
/// runs before and after the rebuild and the two times are averaged.
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
        array.remove()

        let after = try RawFile.sequentialWrite(to: baselineFile, total: shardBytes, flushEvery: nil, pool: pool)
        Report.line("  baseline after: \(Report.secondsText(after))")
        let baseline = (before + after) / 2
        Report.line("  baseline: \(Report.rate(bytes: shardBytes, over: baseline))")
        Report.ratio("storage-rebuild", baseline.seconds / rebuild.seconds, target: 0.8)
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
