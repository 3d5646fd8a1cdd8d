import ErasureStore
import StoreFormat
import StreamStore
import SystemPackage

/// Bulk ingest: a large stream appended in 1 MiB pieces and made durable at a fixed interval, against a raw
/// sequential write of the bytes the store has to write, (k + m) / k times the stream, to one file on the same
/// filesystem, with an fdatasync at the same interval scaled alike and at the end. Both rates are stream bytes per
/// second, so the ratio compares the time each takes to make the same stream durable.
///
/// The baseline runs before and after the store and the two times are averaged, so a drift in the machine's load
/// affects both sides alike. The store's peak resident memory is measured from a reset of the peak just before it.
struct BulkIngest {
    /// The work directory.
    let work: String
    /// MiB of stream.
    let streamMiB: Int
    /// MiB between acknowledgements.
    let durableEveryMiB: Int
    /// Whether to run the store alone.
    let storeOnly: Bool

    func run() throws {
        let directory = try WorkDirectory(work: work, name: "bulk")
        defer { directory.remove() }
        let pool = try RandomPool(pieceBytes: 1 << 20)
        let geometry = ArrayGeometry.twelveBay
        let (k, n) = (geometry.dataShards, geometry.shardsPerSegment)
        let streamBytes = streamMiB << 20
        let durableEvery = durableEveryMiB << 20
        let rawBytes = streamBytes / k * n
        let rawFlushEvery = durableEvery / k * n
        Report.line(
            "storage bulk: \(streamMiB) MiB stream in 1 MiB appends, durable every \(durableEveryMiB) MiB, "
                + "\(k)+\(n - k) over \(geometry.memberCount) members")
        try directory.condition(bytes: 2 * rawBytes, pool: pool)
        Report.line(
            "  baseline: raw write of \(rawBytes >> 20) MiB to one file, fdatasync every \(rawFlushEvery >> 20) MiB "
                + "and at the end")

        let baselineFile = directory.path.appending("baseline")
        var before = Duration.zero
        if !storeOnly {
            before = try RawFile.sequentialWrite(
                to: baselineFile, total: rawBytes, flushEvery: rawFlushEvery, pool: pool)
            Report.line("  baseline before: \(Report.secondsText(before))")
        }

        try ResidentMemory.resetPeak()
        let atReset = try ResidentMemory.currentKiB()
        let array = try BenchmarkArray(in: directory.path.appending("array"), geometry: geometry)
        let store = try array.open()
        let ingest = try array.ingest(
            try StreamName("ee.bench.bulk"), total: streamBytes, durableEvery: durableEvery, pool: pool,
            store: store)
        let peakKiB = try ResidentMemory.peakKiB()
        Report.line("  store: \(Report.secondsText(ingest)), \(Report.rate(bytes: streamBytes, over: ingest))")
        Report.line(
            "  store peak resident memory (VmHWM since a reset before the store opened): \(peakKiB >> 10) MiB, "
                + "of which \(atReset >> 10) MiB were resident before (the benchmark and its random source)")
        guard !storeOnly else { return }
        // The store's files go before the second baseline, so that it runs on a filesystem as full as the first.
        array.remove()

        let after = try RawFile.sequentialWrite(
            to: baselineFile, total: rawBytes, flushEvery: rawFlushEvery, pool: pool)
        Report.line("  baseline after: \(Report.secondsText(after))")
        let baseline = (before + after) / 2
        Report.line(
            "  baseline: \(Report.rate(bytes: streamBytes, over: baseline)) of stream "
                + "(\(Report.rate(bytes: rawBytes, over: baseline)) written)")
        Report.ratio("storage-bulk", baseline.seconds / ingest.seconds, target: 0.8)
        Report.maximum("storage-rss", unit: "mib", peakKiB >> 10, max: 256)
    }
}
