import CryptoPrimitives
import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// What the present members say about the others: which missed writes, and so may hold stale copies.
///
/// Appends go on while up to m − 1 members are absent (``ErasureCodedStore/absentWriteLimit``), to the present
/// members only. A member absent meanwhile may come back holding what it held before: old shards of a segment
/// written again since (a torn write's), a journal copy that lacks the records acknowledged since, or that holds a
/// torn record where the others hold a newer one of the same length. Nothing in those files says they are old, so
/// before a write leaves a member out, every present member records durably that it missed writes
/// (`missed-writes/member-<index>-<token>`, flushed with its directory). The record is on every member that holds
/// the write, so wherever the write can be read, so can the record.
///
/// While any present member holds such a record about member i, member i is *distrusted*: reads, recovery, scrub
/// and journal repair use its shards only when they carry a header that a trusted member's shard carries too (a
/// header names the segment's write: its wrapped key and tag are new at each write), and its journal copies only
/// when no trusted member holds one. ``ErasureCodedStore/rebuild(member:bytesPerSecond:progress:)`` catches the
/// member up and then removes the records it saw when it started; a record made since (the member went away again)
/// stays.
struct MissedWrites {
    /// The tokens of the records about each member, from every member that could be listed.
    var tokens: [Int: Set<String>] = [:]

    /// The members distrusted.
    var members: Set<Int> { Set(tokens.keys) }
}

extension ErasureCodedStore {
    /// The records of missed writes on the members now (a member that cannot be listed adds none; one about a member
    /// held by that member itself does not count).
    func missedWrites() -> MissedWrites {
        var found = MissedWrites()
        for (member, root) in members {
            let names = (try? FileSystemCalls.entries(of: MemberLayout(root: root).missedWrites)) ?? []
            for name in names {
                guard let record = MemberLayout.missedWritesRecord(name), record.member != member,
                    record.member < geometry.memberCount
                else { continue }
                found.tokens[record.member, default: []].insert(record.token)
            }
        }
        return found
    }

    /// The members distrusted now (see ``MissedWrites``).
    func distrustedMembers() -> Set<Int> {
        missedWrites().members
    }

    /// Records durably, on every member present now, that each of `absent` misses the writes about to be made, unless
    /// this store's record is there already. Each member's records are created and flushed, with their directory, in
    /// one io job. Throws when a present member cannot take its record: the write must not go on without it.
    func recordMissedWrites(_ absent: [Int]) throws(StreamStorageError) {
        guard !absent.isEmpty else { return }
        let current = members
        let present = current.keys.filter { !absent.contains($0) }.sorted()
        var missing: [Int: [FilePath]] = [:]
        for index in absent {
            let token = missedWriteToken(for: index)
            for member in present {
                let path = MemberLayout(root: current[member]!).missedWrites.appending(
                    MemberLayout.missedWritesName(member: index, token: token))
                if !FileSystemCalls.exists(path) { missing[member, default: []].append(path) }
            }
        }
        guard !missing.isEmpty else { return }
        try executor.io.runAll(
            missing.map { member, paths in
                { () throws in try self.createRecords(paths, on: member) }
            })
    }

    private func createRecords(_ paths: [FilePath], on member: Int) throws(StreamStorageError) {
        let layout = try requireLayout(member)
        for path in paths {
            do {
                try FileSystemCalls.createDirectory(
                    layout.missedWrites, permissions: MemberLayout.directoryPermissions)
                let file = try FileSystemCalls.open(
                    path, .writeOnly, options: [.create, .closeOnExec], permissions: MemberLayout.filePermissions)
                defer { FileSystemCalls.release(file) }
                try FileSystemCalls.synchronise(file)
            } catch {
                reportMemberError(member, path: path, error, "record missed writes")
                throw .memberIO(
                    "recording on member \(member) that another missed writes:", path: path.string, error: error)
            }
        }
        do {
            try FileSystemCalls.synchroniseDirectory(layout.missedWrites)
        } catch {
            reportMemberError(member, path: layout.missedWrites, error, "flush directory")
            throw .memberIO(
                "flushing the records of missed writes on member \(member):", path: layout.root.string, error: error)
        }
    }

    /// This store's token for its records about `member`: one per store and member, so that a member absent for a
    /// long time costs one file per present member, and a rebuild that removed the records makes the next degraded
    /// write record it again (the file is looked for at each write).
    private func missedWriteToken(for member: Int) -> String {
        missedWriteTokens.withLock { tokens in
            if let token = tokens[member] { return token }
            let random = (try? CryptoRandom.bytes(count: 8)) ?? (0..<8).map { _ in UInt8.random(in: 0...255) }
            let token = random.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            tokens[member] = token
            return token
        }
    }

    /// Removes the records about `member` whose tokens are in `tokens` from every member present now: it has been
    /// caught up with what they say it missed. Records on absent members stay, and count again when those return
    /// (a member distrusted for nothing only has its copies checked against the others' until its next rebuild).
    func clearMissedWrites(of member: Int, tokens: Set<String>) {
        for root in members.values {
            let layout = MemberLayout(root: root)
            var removed = false
            for token in tokens {
                let path = layout.missedWrites.appending(MemberLayout.missedWritesName(member: member, token: token))
                guard FileSystemCalls.exists(path) else { continue }
                // A record left behind (its member failing) only keeps the member distrusted until the next rebuild.
                if (try? FileSystemCalls.remove(path)) != nil { removed = true }
            }
            if removed { try? FileSystemCalls.synchroniseDirectory(layout.missedWrites) }
        }
    }
}
