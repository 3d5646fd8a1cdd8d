import DurableFiles
import HashChain
import StoreFormat
import StreamStore
import SystemPackage

/// Listing streams a page at a time, in memory bounded by the page whatever the number of streams.
extension ErasureCodedStore {
    /// One page of summaries: the first `limit` streams after `after` that `include` admits, in name order.
    ///
    /// Each page walks every member's streams directory again (O(streams) per page, so O(streams² / limit) for a
    /// whole listing) and keeps only the `limit` smallest admitted names after `after`: a WAL archive holds a stream
    /// per WAL file, millions of them, and a listing must not hold them all. A member whose streams directory
    /// cannot be listed adds no names and fails nothing (a stream's files are on k + m members, so the others name
    /// it); a stream that cannot be opened is summarised as unreadable, not left out, so a listing never hides one.
    public func summaries(
        after: StreamName?, limit: Int, where include: (StreamName) -> Bool
    ) throws(StreamStorageError) -> [StreamSummary] {
        guard limit > 0 else { return [] }
        var page = SmallestNames(limit: limit, after: after?.rawValue)
        for root in members.values {
            do {
                try FileSystemCalls.forEachEntry(of: MemberLayout(root: root).streams) { entry in
                    guard page.wouldKeep(entry), let name = try? StreamName(entry), include(name) else { return }
                    page.insert(name)
                }
            } catch {
                // The member's names are not needed (see above); reading its streams meets its error there.
                continue
            }
        }
        return page.names.map(summarise)
    }

    /// One stream's summary (as ``summaries(after:limit:where:)`` gives it), nil when no member has the stream: what
    /// a report says of the streams a verifier names, without walking every stream.
    public func summary(of name: StreamName) -> StreamSummary? {
        let exists = members.values.contains {
            FileSystemCalls.exists(MemberLayout(root: $0).streamDirectory(name.rawValue))
        }
        return exists ? summarise(name) : nil
    }

    /// The stream's durable length and head from a reader opened now (readers see durable state only), and the
    /// time of its last append.
    private func summarise(_ name: StreamName) -> StreamSummary {
        let lastAppend = lastAppendMilliseconds(of: name)
        do {
            let reader = try openReader(for: name)
            defer { reader.close() }
            return StreamSummary(
                name: name, length: reader.length, head: reader.head, lastAppendMilliseconds: lastAppend)
        } catch {
            return StreamSummary(
                name: name, length: 0, head: .empty, lastAppendMilliseconds: lastAppend, isReadable: false)
        }
    }

    /// The newest modification time among the stream's directory and its highest-numbered shard and journal files
    /// on each member: appending writes the newest segment's shards or the open segment's journal, and creating a
    /// file changes its directory, so older files need not be looked at (a long stream has thousands).
    private func lastAppendMilliseconds(of name: StreamName) -> UInt64 {
        var newest: UInt64 = 0
        for root in members.values {
            let layout = MemberLayout(root: root)
            let directory = layout.streamDirectory(name.rawValue)
            var paths = [directory]
            // A member that cannot be read says nothing of when the stream was appended to; the others do.
            guard let names = try? FileSystemCalls.entries(of: directory) else { continue }
            let found = MemberLayout.indices(in: names, segmentBytes: geometry.segmentBytes)
            if let shard = found.shards.last { paths.append(layout.shard(name.rawValue, segment: shard)) }
            if let journal = found.journals.last { paths.append(layout.journal(name.rawValue, segment: journal)) }
            for path in paths {
                // A file gone between listing and stat (a journal retired) was not the newest.
                if let time = try? FileSystemCalls.modificationMilliseconds(at: path) { newest = max(newest, time) }
            }
        }
        return newest
    }
}

/// The `limit` smallest distinct names greater than `after` among those offered, kept sorted.
struct SmallestNames {
    let limit: Int
    let after: String?
    private(set) var names: [StreamName] = []

    init(limit: Int, after: String?) {
        precondition(limit > 0)
        self.limit = limit
        self.after = after
    }

    /// Whether `name` could be among the kept ones: after `after`, and smaller than the largest kept when full.
    /// Checked before the name is validated, so most names of a long walk cost one comparison.
    func wouldKeep(_ name: String) -> Bool {
        if let after, name <= after { return false }
        if names.count == limit, let largest = names.last, name >= largest.rawValue { return false }
        return true
    }

    /// Keeps `name` if it is among the smallest; a name kept already (from another member) is kept once.
    mutating func insert(_ name: StreamName) {
        guard wouldKeep(name.rawValue) else { return }
        var low = 0
        var high = names.count
        while low < high {
            let middle = (low + high) / 2
            if names[middle].rawValue < name.rawValue { low = middle + 1 } else { high = middle }
        }
        if low < names.count, names[low] == name { return }
        names.insert(name, at: low)
        if names.count > limit { names.removeLast() }
    }
}
