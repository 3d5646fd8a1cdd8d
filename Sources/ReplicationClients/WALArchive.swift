/// How a PostgreSQL cluster's archive lies in streams: each file `archive_command` is given becomes the stream
/// `<cluster>.wal.<file name>`, under its own name (`00000001000000000000000A`, `00000002.history`,
/// `000000010000000000000003.00000028.backup`, `….partial`), so `restore_command` finds it by the name PostgreSQL
/// asks for. Base backups go to `<cluster>.base.<label>`.
public struct WALArchive: Sendable, Hashable {
    /// The cluster's prefix, such as `ee.population.pg`.
    public var cluster: String

    /// Creates the layout of `cluster`'s archive.
    public init(cluster: String) {
        self.cluster = cluster
    }

    /// The stream of the archived file `name`; nil for a name that is not a file name PostgreSQL archives (a path,
    /// or characters no WAL, history, backup-label or partial file has).
    public func stream(forFileNamed name: String) -> String? {
        guard Self.isArchivableName(name) else { return nil }
        return "\(cluster).wal.\(name)"
    }

    /// Whether `name` is a WAL segment (24 hexadecimal digits): its archived copy must be a whole segment.
    public static func isSegment(_ name: String) -> Bool {
        name.utf8.count == 24 && name.utf8.allSatisfy(isUpperHex)
    }

    /// PostgreSQL archives segments, `.partial` segments, `.history` files and `.backup` labels; all are upper-case
    /// hexadecimal digits with dots and those suffixes.
    static func isArchivableName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64 else { return false }
        var stem = Substring(name)
        for suffix in [".partial", ".history", ".backup"] where stem.hasSuffix(suffix) {
            stem = stem.dropLast(suffix.count)
            break
        }
        let parts = stem.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy(isUpperHex) }
    }

    private static func isUpperHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }
}

/// The start of a WAL segment as PostgreSQL writes it: its first page carries a long header that states the
/// segment size, so a copy that is shorter (a push cut off by a crash at home) is told from a whole segment.
///
/// The long page header (`XLogLongPageHeaderData`, in the server's byte order, little-endian on every platform this
/// runs on): `xlp_magic` u16, `xlp_info` u16, `xlp_tli` u32, `xlp_pageaddr` u64, `xlp_rem_len` u32, padding to 24,
/// then `xlp_sysid` u64, `xlp_seg_size` u32, `xlp_xlog_blcksz` u32.
public struct WALSegmentHeader: Sendable, Hashable {
    /// The bytes of the long header that are read.
    public static let length = 40
    /// `XLP_LONG_HEADER` in `xlp_info`.
    static let longHeaderFlag: UInt16 = 0x0002

    /// The segment size the header states.
    public var segmentSize: UInt32

    /// Reads the header from a segment's first bytes; nil when they are not a long page header that states a
    /// segment size PostgreSQL allows (a power of two from 1 MiB to 1 GiB) and a block size it allows.
    public init?(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes.prefix(Self.length))
        guard bytes.count == Self.length else { return nil }
        func little<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            bytes[offset..<offset + MemoryLayout<T>.size].reversed().reduce(T.zero) { $0 << 8 | T($1) }
        }
        let info = little(2, UInt16.self)
        let size = little(32, UInt32.self)
        let blockSize = little(36, UInt32.self)
        guard info & Self.longHeaderFlag != 0, size.nonzeroBitCount == 1, (1 << 20...1 << 30).contains(size),
            blockSize.nonzeroBitCount == 1, (1 << 10...1 << 15).contains(blockSize)
        else { return nil }
        segmentSize = size
    }
}
