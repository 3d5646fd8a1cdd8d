import DurableFiles
import StreamStore
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// How far a rebuild has come.
public struct RebuildProgress: Sendable, Hashable {
    /// Segments examined so far.
    public var segmentsDone: Int
    /// Segments to examine in all.
    public var segmentsTotal: Int
    /// Shard bytes written so far.
    public var bytesWritten: Int
    /// Bytes written per second since the rebuild started.
    public var bytesPerSecond: Double
}

/// What a rebuild did.
public struct RebuildReport: Sendable, Hashable {
    /// Shards written to the replaced member.
    public var shardsWritten: Int
    /// Shards already intact on it (a resumed rebuild finds its earlier work here).
    public var shardsAlreadyIntact: Int
    /// Journal copies written to it.
    public var journalsWritten: Int
    /// Segments that could not be rebuilt because more than m of their shards are lost.
    public var unrepairable: [String]
}

extension ErasureCodedStore {
    /// Labels a blank directory as member `index` of this array: the first step of replacing a failed disk.
    /// Refused when the directory carries any label, so a foreign disk is never wiped by mistake.
    public func adoptReplacement(_ root: FilePath, as index: Int) throws(StreamStorageError) {
        guard (0..<geometry.memberCount).contains(index) else {
            throw .configuration("member index \(index) is outside 0..<\(geometry.memberCount)")
        }
        let layout = MemberLayout(root: root)
        if let bytes = try? FileSystemCalls.readAll(layout.identity) {
            let identity = try? MemberIdentity(decoding: bytes)
            guard identity?.arrayID == arrayID && identity?.index == index else {
                throw .configuration("\(root) carries another label; it is not blank, refusing to adopt it")
            }
            return
        }
        let label = MemberIdentity(arrayID: arrayID, index: index, geometry: geometry).encoded()
        do {
            try FileSystemCalls.createDirectories(root)
            try label.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: layout.identity) }
        } catch {
            throw .io("labelling the replacement", path: root.string, error: error)
        }
    }

    /// Reconstructs every shard and journal copy that belongs on member `index` from the other members, without
    /// any key. Resumable: intact shards already on the member are kept. `bytesPerSecond` throttles the writes.
    public func rebuild(
        member index: Int, bytesPerSecond: Int? = nil, progress: (RebuildProgress) -> Void = { _ in }
    ) throws(StreamStorageError) -> RebuildReport {
        guard let target = layout(of: index) else {
            throw .configuration("member \(index) is not part of this assembly; adopt the replacement first")
        }
        let work = streamNames().flatMap { stream in
            segmentIndices(of: stream.rawValue).map { (stream.rawValue, $0) }
        }
        var report = RebuildReport(shardsWritten: 0, shardsAlreadyIntact: 0, journalsWritten: 0, unrepairable: [])
        let clock = ContinuousClock()
        let start = clock.now
        var written = 0
        for (done, (stream, segment)) in work.enumerated() {
            let shardIndex = (0..<geometry.shardsPerSegment).first {
                placement.member(ofShard: $0, segment: segment, stream: stream) == index
            }
            if let shardIndex {
                let (shards, header) = readShards(stream: stream, segment: segment)
                if shards[shardIndex] != nil {
                    report.shardsAlreadyIntact += 1
                } else if let header {
                    do {
                        // Other damaged shards of the segment are rewritten too, on members that are present.
                        let rewritten = try repairShards(
                            stream: stream, segment: segment, shards: shards, header: header)
                        if rewritten.contains(shardIndex) {
                            report.shardsWritten += 1
                            written += geometry.shardBodyBytes
                        }
                    } catch {
                        report.unrepairable.append("\(stream) segment \(segment)")
                    }
                } else {
                    report.unrepairable.append("\(stream) segment \(segment)")
                }
            }
            let elapsed = start.duration(to: clock.now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if let bytesPerSecond, bytesPerSecond > 0 {
                let due = Double(written) / Double(bytesPerSecond)
                if due > seconds { Self.sleep(seconds: due - seconds) }
            }
            progress(
                RebuildProgress(
                    segmentsDone: done + 1, segmentsTotal: work.count, bytesWritten: written,
                    bytesPerSecond: seconds > 0 ? Double(written) / seconds : 0))
        }
        for stream in streamNames() {
            let before = journalCopiesPresent(stream: stream.rawValue, on: target)
            _ = repairJournals(stream: stream.rawValue)
            report.journalsWritten += journalCopiesPresent(stream: stream.rawValue, on: target) - before
        }
        return report
    }

    private func journalCopiesPresent(stream: String, on layout: MemberLayout) -> Int {
        MemberLayout.indices(in: (try? FileSystemCalls.entries(of: layout.streamDirectory(stream))) ?? []).journals
            .count
    }

    private static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
