import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// File operations on members, each failure named with the member, so a technician knows which bay to look at.
extension ErasureCodedStore {
    /// The pieces a paced shard write is cut into: a multiple of the direct-I/O alignment.
    static let pacedWriteBytes = 256 << 10

    func requireLayout(_ member: Int) throws(StreamStorageError) -> MemberLayout {
        guard let layout = layout(of: member) else {
            throw .unavailable("member \(member) is missing from the array: replace the disk and rebuild it")
        }
        // A member whose label is gone is an unmounted disk (or a removed directory): writing there would fill
        // the empty mount point on the system disk instead.
        guard FileSystemCalls.exists(layout.identity) else {
            throw .unavailable("member \(member) at \(layout.root) lost its label: is its disk unmounted?")
        }
        return layout
    }

    /// Creates (or truncates) a file on a member, creating the stream's directory durably first. With `directIO`
    /// the file is opened for direct I/O where its filesystem allows it (tmpfs does not), and buffered otherwise.
    func createFile(
        member: Int, path: (MemberLayout) -> FilePath, stream: String, directIO: Bool = false
    ) throws(StreamStorageError) -> FileDescriptor {
        let layout = try requireLayout(member)
        let file = path(layout)
        let options: FileDescriptor.OpenOptions = [.create, .truncate, .closeOnExec]
        do {
            try layout.createStreamDirectory(stream)
            if directIO {
                do {
                    return try FileSystemCalls.open(
                        file, .writeOnly, options: options.union(FileSystemCalls.directIO),
                        permissions: MemberLayout.filePermissions)
                } catch Errno.invalidArgument {
                    // The filesystem has no direct I/O: buffered writes and an early writeback do.
                }
            }
            return try FileSystemCalls.open(
                file, .writeOnly, options: options, permissions: MemberLayout.filePermissions)
        } catch {
            reportMemberError(member, path: file, error, "create")
            throw .memberIO("creating a file on member \(member):", path: file.string, error: error)
        }
    }

    func write(
        _ bytes: UnsafeRawBufferPointer, to descriptor: FileDescriptor, at offset: Int64, member: Int, what: String
    ) throws(StreamStorageError) {
        do {
            try FileSystemCalls.writeAll(descriptor, bytes, at: offset)
        } catch {
            reportMemberError(member, path: nil, error, "write")
            throw .memberIO(
                "writing \(what) to member \(member) at", path: members[member]?.string ?? "?", error: error)
        }
    }

    /// Writes shard `index` of a sealed stripe as a whole shard file: in one gathering write, or, with `pause`, in
    /// pieces of ``pacedWriteBytes`` with a call to `pause` after each.
    func writeShard(
        header: ShardHeader, stripe: UnsafeRawBufferPointer, index: Int, to descriptor: FileDescriptor, member: Int,
        segment: UInt64, pause: (() -> Void)? = nil
    ) throws(StreamStorageError) {
        do {
            try codec.withShardFileParts(header: header, stripe: stripe, index: index) { parts in
                guard let pause else { return try FileSystemCalls.writeAll(descriptor, gathering: parts) }
                for part in parts {
                    var start = 0
                    while start < part.count {
                        let end = min(part.count, start + Self.pacedWriteBytes)
                        try FileSystemCalls.writeAll(
                            descriptor, gathering: [UnsafeRawBufferPointer(rebasing: part[start..<end])])
                        pause()
                        start = end
                    }
                }
            }
        } catch {
            reportMemberError(member, path: nil, error, "write")
            throw .memberIO(
                "writing shard \(index) of segment \(segment) to member \(member) at",
                path: members[member]?.string ?? "?", error: error)
        }
    }

    func flush(_ descriptor: FileDescriptor, member: Int, what: String) throws(StreamStorageError) {
        do {
            try FileSystemCalls.synchroniseData(descriptor)
        } catch {
            reportMemberError(member, path: nil, error, "flush")
            throw .memberIO(
                "flushing \(what) on member \(member) at", path: members[member]?.string ?? "?", error: error)
        }
    }

    func flushDirectory(member: Int, stream: String) throws(StreamStorageError) {
        let layout = try requireLayout(member)
        do {
            try FileSystemCalls.synchroniseDirectory(layout.streamDirectory(stream))
        } catch {
            reportMemberError(member, path: layout.streamDirectory(stream), error, "flush directory")
            throw .memberIO("flushing the directory of member \(member):", path: layout.root.string, error: error)
        }
    }

    /// Flushes the shard files of written segments, one io job per member (its files, then its directory), and closes
    /// them. The segments' journals are stale then (see ``retireJournals(stream:segment:)``). A member that vanished
    /// meanwhile (see ``dropVanished(_:after:what:)``) is left out: its shards are not counted on.
    func makeDurable(written segments: [SealTracker.SealedSegment], stream: String) throws(StreamStorageError) {
        defer {
            for sealed in segments {
                for file in sealed.files { FileSystemCalls.release(file.descriptor) }
            }
        }
        guard !segments.isEmpty else { return }
        var byMember: [Int: [(FileDescriptor, UInt64)]] = [:]
        for sealed in segments {
            for file in sealed.files { byMember[file.member, default: []].append((file.descriptor, sealed.segment)) }
        }
        try runPerMember(
            byMember.map { member, files in
                (
                    member,
                    { () throws(StreamStorageError) in
                        for (descriptor, segment) in files {
                            try self.flush(descriptor, member: member, what: "segment \(segment)")
                        }
                        try self.flushDirectory(member: member, stream: stream)
                    }
                )
            }, what: "to flush segments of \(stream)")
    }

    /// Runs one job per member side by side on the io lane; a member whose job failed because it vanished is left
    /// out (``dropVanished(_:after:what:)``), any other failure is thrown. Returns the members left out.
    @discardableResult
    func runPerMember(
        _ jobs: [(member: Int, job: () throws(StreamStorageError) -> Void)], what: String
    ) throws(StreamStorageError) -> [Int] {
        let failures = Guarded<[Int: StreamStorageError]>([:])
        try executor.io.runAll(
            jobs.map { member, job in
                { () in
                    do throws(StreamStorageError) {
                        try job()
                    } catch {
                        failures.withLock(waking: .none) { $0[member] = error }
                    }
                }
            })
        let failed = failures.withLock(waking: .none) { $0 }
        for (member, error) in failed.sorted(by: { $0.key < $1.key }) {
            try dropVanished(member, after: error, what: what)
        }
        return failed.keys.sorted()
    }

    /// Hands a segment's stale journal copies to the members' journal pools, for later journals to reuse, their
    /// headers wiped (see ``JournalPool/retire(_:in:headerBytes:)``), each member in its own io job. Recovery ignores
    /// stale journals and spares alike, so a failure loses nothing. Only the stream's appender may call this, once
    /// it has made the segment durable in its shards and closed its descriptors of these journals: it knows them
    /// stale, so they are retired on the present members even while others are absent (an absent member's copy
    /// stays, and the next recovery with every member present removes it).
    func retireJournals(stream: String, segment: UInt64) {
        let absent = Set(absentMembers().map(\.index))
        let headerBytes = JournalHeader.encodedCount(nameBytes: stream.utf8.count)
        let layouts = placement.journalMembers(segment: segment, stream: stream).filter { !absent.contains($0) }
            .compactMap(layout(of:))
        // The jobs never throw (retire reports nothing: a copy it cannot wipe is removed, see there); `try?` only
        // because runAll's jobs may.
        try? executor.io.runAll(
            layouts.map { layout in
                { () in
                    self.journalPool.retire(
                        layout.journal(stream, segment: segment), in: layout, headerBytes: headerBytes)
                }
            })
    }

    /// A new journal file for `segment` on `member`, open for writing: a spare from the member's pool where there is
    /// one, a new empty file otherwise.
    func createJournalFile(member: Int, stream: String, segment: UInt64) throws(StreamStorageError) -> FileDescriptor {
        let layout = try requireLayout(member)
        let path = layout.journal(stream, segment: segment)
        do {
            try layout.createStreamDirectory(stream)
        } catch {
            reportMemberError(member, path: layout.streamDirectory(stream), error, "create")
            throw .memberIO("creating a file on member \(member):", path: path.string, error: error)
        }
        if let spare = journalPool.take(layout, as: path) { return spare }
        return try createFile(member: member, path: { _ in path }, stream: stream)
    }

    /// Removes a torn segment's shard files; refused while any member is absent (see ``AbsentMember``).
    func removeShards(stream: String, segment: UInt64) throws(StreamStorageError) {
        try requireEveryMemberPresent(before: "to remove the torn segment \(segment) of \(stream)")
        for layout in members.values.map(MemberLayout.init(root:)) {
            // A torn shard that cannot be removed stays torn: the next recovery finds it again and tries again.
            try? FileSystemCalls.remove(layout.shard(stream, segment: segment))
        }
    }

    /// Removes a segment's journal copies, their headers wiped first as at retirement; they are only ever written
    /// on the segment's journal members. Refused while any member is absent.
    func removeJournals(stream: String, segment: UInt64) throws(StreamStorageError) {
        try requireEveryMemberPresent(before: "to remove the journal of segment \(segment) of \(stream)")
        let headerBytes = JournalHeader.encodedCount(nameBytes: stream.utf8.count)
        for member in placement.journalMembers(segment: segment, stream: stream) {
            guard let layout = layout(of: member) else { continue }
            let path = layout.journal(stream, segment: segment)
            // Both best effort: a stale journal left behind is passed by (its segment is committed) and removed by
            // the next recovery.
            _ = JournalPool.wipeHeader(path, bytes: headerBytes)
            try? FileSystemCalls.remove(path)
        }
    }

    /// Rewrites the missing or damaged shards of a segment from its intact ones; returns the indices rewritten.
    /// No key is needed: parity is computed over ciphertext. Refused while any member is absent (a shard is
    /// rewritten only when every member was seen), and nothing is written unless the intact shards are one codeword: when they disagree, one of them lies, and without the key nothing
    /// tells which, so nothing is rewritten (`scrub()` with the storage private key finds it).
    func repairShards(
        stream: String, segment: UInt64, shards: [[UInt8]?], header: ShardHeader
    ) throws(StreamStorageError) -> [Int] {
        guard shards.compactMap({ $0 }).count >= geometry.dataShards else {
            var complete = shards
            try codec.reconstruct(&complete)  // Throws the error that says how many are lost.
            return []
        }
        guard let stripe = codec.decodeConsistently(shards) else { return [] }
        return try rewriteShards(
            stream: stream, segment: segment, stripe: stripe, header: header,
            indices: shards.indices.filter { shards[$0] == nil })
    }

    /// Rewrites shards `indices` of a segment from its verified `stripe` (every shard's bytes) under `header`,
    /// atomically; returns the indices rewritten. Refused while any member is absent.
    func rewriteShards(
        stream: String, segment: UInt64, stripe: [[UInt8]], header: ShardHeader, indices: [Int]
    ) throws(StreamStorageError) -> [Int] {
        try requireEveryMemberPresent(before: "to rewrite shards of segment \(segment) of \(stream)")
        let stripe = stripe.flatMap { $0 }
        var repaired: [Int] = []
        for index in indices {
            let member = placement.member(ofShard: index, segment: segment, stream: stream)
            guard let layout = layout(of: member) else { continue }
            var shardHeader = header
            shardHeader.shardIndex = index
            let file = codec.shardFile(header: shardHeader, stripe: stripe, index: index)
            do {
                try layout.createStreamDirectory(stream)
                try file.withUnsafeBytes {
                    try FileSystemCalls.writeAtomically(
                        $0, to: layout.shard(stream, segment: segment), permissions: MemberLayout.filePermissions)
                }
            } catch {
                reportMemberError(member, path: layout.shard(stream, segment: segment), error, "rewrite")
                throw .memberIO(
                    "rewriting shard \(index) of segment \(segment) on member \(member):",
                    path: layout.root.string, error: error)
            }
            repaired.append(index)
        }
        return repaired
    }

    /// Flushes files a previous writer may have left unflushed (it may have been killed before its flush), so that
    /// recovery only ever reports as durable what is: a sealed segment or a journal record in the page cache would
    /// not survive a power cut. Absent members are passed by: recovery did not count on them.
    func flushExisting(
        _ paths: (MemberLayout) -> [FilePath], stream: String, absent: Set<Int> = []
    ) throws(StreamStorageError) {
        for (member, root) in members where !absent.contains(member) {
            let layout = MemberLayout(root: root)
            for path in paths(layout) where FileSystemCalls.exists(path) {
                do {
                    let descriptor = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
                    defer { FileSystemCalls.release(descriptor) }
                    try FileSystemCalls.synchronise(descriptor)
                } catch {
                    reportMemberError(member, path: path, error, "flush")
                    throw .memberIO(
                        "flushing what recovery found on member \(member):", path: path.string, error: error)
                }
            }
            if FileSystemCalls.exists(layout.streamDirectory(stream)) {
                try flushDirectory(member: member, stream: stream)
            }
        }
    }
}
