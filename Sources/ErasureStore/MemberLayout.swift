import DurableFiles
import SystemPackage

/// Where things live on a member.
struct MemberLayout {
    let root: FilePath

    var identity: FilePath { root.appending(MemberIdentity.fileName) }
    var streams: FilePath { root.appending("streams") }

    func streamDirectory(_ stream: String) -> FilePath { streams.appending(stream) }

    func shard(_ stream: String, segment: UInt64) -> FilePath {
        streamDirectory(stream).appending("segment-\(Self.hex(segment)).shard")
    }

    func journal(_ stream: String, segment: UInt64) -> FilePath {
        streamDirectory(stream).appending("journal-\(Self.hex(segment)).log")
    }

    /// Spare journal files (``JournalPool``), outside `streams`, so recovery and scrub never see them.
    var journalPool: FilePath { root.appending("journal-pool") }

    func lock(_ stream: String) -> FilePath { streamDirectory(stream).appending("appender.lock") }

    /// Labels the member durably with `identity`, creating its directory if need be: a new array's members, and a
    /// replacement disk, are labelled alike.
    func writeLabel(_ identity: MemberIdentity) throws {
        let label = identity.encoded()
        try FileSystemCalls.createDirectories(root)
        try label.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: self.identity) }
    }

    /// Creates `streams/<stream>` inside the member, never the member itself: a member directory that vanished (an
    /// unmounted disk, a removed directory) makes this fail rather than be silently created again elsewhere.
    func createStreamDirectory(_ stream: String) throws(Errno) {
        try FileSystemCalls.createDirectory(streams)
        try FileSystemCalls.createDirectory(streamDirectory(stream))
    }

    /// Segment indices of the shard files present for `stream`, and those of its journals.
    static func indices(in names: [String]) -> (shards: [UInt64], journals: [UInt64]) {
        var shards: [UInt64] = []
        var journals: [UInt64] = []
        for name in names {
            if name.hasPrefix("segment-"), name.hasSuffix(".shard"),
                let index = UInt64(name.dropFirst(8).dropLast(6), radix: 16)
            {
                shards.append(index)
            } else if name.hasPrefix("journal-"), name.hasSuffix(".log"),
                let index = UInt64(name.dropFirst(8).dropLast(4), radix: 16)
            {
                journals.append(index)
            }
        }
        return (shards.sorted(), journals.sorted())
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}
