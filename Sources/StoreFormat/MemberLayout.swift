import SystemPackage

/// Where things live on a member, and what the names of its files mean. Paths only: creating them is the
/// engine's (`MemberLayout+Files.swift` in ErasureStore).
package struct MemberLayout {
    package let root: FilePath

    package init(root: FilePath) {
        self.root = root
    }

    package var identity: FilePath { root.appending(MemberIdentity.fileName) }
    package var streams: FilePath { root.appending("streams") }

    package func streamDirectory(_ stream: String) -> FilePath { streams.appending(stream) }

    package func shard(_ stream: String, segment: UInt64) -> FilePath {
        streamDirectory(stream).appending("segment-\(Self.hex(segment)).shard")
    }

    package func journal(_ stream: String, segment: UInt64) -> FilePath {
        streamDirectory(stream).appending("journal-\(Self.hex(segment)).log")
    }

    /// Spare journal files (``JournalPool``), outside `streams`, so recovery and scrub never see them.
    package var journalPool: FilePath { root.appending("journal-pool") }

    package func lock(_ stream: String) -> FilePath { streamDirectory(stream).appending("appender.lock") }

    /// Records that other members missed writes (one empty file per member and episode, see
    /// ``missedWritesName(member:token:)``), outside `streams`, so recovery and scrub never see them.
    package var missedWrites: FilePath { root.appending("missed-writes") }

    /// The file ingest's watchdog check writes and flushes (``StoreWritableCheck``), outside `streams`.
    package var livenessProbe: FilePath { root.appending("liveness-probe") }

    /// The name of the record that member `member` missed writes, in `missedWrites`: `member-<index>-<token>`.
    package static func missedWritesName(member: Int, token: String) -> String { "member-\(member)-\(token)" }

    /// The member and token a record's name gives; nil for any other name (a temporary file, a stranger's).
    package static func missedWritesRecord(_ name: String) -> (member: Int, token: String)? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "member", let member = Int(parts[1]), member >= 0, member < 256,
            parts[2].count == 16, parts[2].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return (member, String(parts[2]))
    }

    /// Segment indices of the shard files present for `stream`, those of its journals, and the names of shard and
    /// journal files that are not exactly what the engine writes (16 lower-case hex digits) or name a segment that
    /// cannot exist: one whose end, at `segmentBytes` a segment, is beyond the largest stream offset (a u64).
    /// Those are reported and never read: `journal-ffffffffffffffff.log` would overflow every offset computed from
    /// it. Other names (the lock, temporary files) are none of these.
    package static func indices(
        in names: [String], segmentBytes: Int
    ) -> (shards: [UInt64], journals: [UInt64], unrecognised: [String]) {
        var shards: [UInt64] = []
        var journals: [UInt64] = []
        var unrecognised: [String] = []
        let segmentLimit = UInt64.max / UInt64(max(1, segmentBytes))
        for name in names {
            let kind: (prefix: String, suffix: String)? =
                if name.hasPrefix("segment-") && name.hasSuffix(".shard") {
                    ("segment-", ".shard")
                } else if name.hasPrefix("journal-") && name.hasSuffix(".log") {
                    ("journal-", ".log")
                } else {
                    nil
                }
            guard let kind else { continue }
            let digits = name.utf8.dropFirst(kind.prefix.utf8.count).dropLast(kind.suffix.utf8.count)
            guard digits.count == 16, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
                let index = UInt64(String(decoding: digits, as: UTF8.self), radix: 16), index < segmentLimit
            else {
                unrecognised.append(name)
                continue
            }
            if kind.prefix == "segment-" { shards.append(index) } else { journals.append(index) }
        }
        return (shards.sorted(), journals.sorted(), unrecognised.sorted())
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}
