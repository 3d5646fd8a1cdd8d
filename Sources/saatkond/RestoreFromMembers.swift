import Appliance
import CryptoPrimitives
import DurableFiles
import ErasureStore
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage

/// `saatkond restore --members DIR --keys DIR`: reads streams straight from member disks (their mount points or
/// copies), with the keys `saatkond keys recover` rebuilt from home's escrow shares: no appliance, no TPM. What
/// home does when an appliance is lost and its disks are brought to a workstation or a spare chassis.
struct OfflineRestore {
    /// The directory whose subdirectories are the members.
    let members: String
    /// Where `saatkond keys recover` wrote storage-private-key and journal-key.
    let keys: String

    func open() throws -> ErasureCodedStore {
        let privateKey = try X25519PrivateKey(
            rawRepresentation: try KeyFile.read(FilePath(keys).appending("storage-private-key"), in: keys))
        let journalKey = try KeyFile.read(FilePath(keys).appending("journal-key"), in: keys)
        let storageKeys = try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey, journalKey: journalKey)
        return try ErasureCodedStore(memberRoot: FilePath(members), keys: storageKeys)
    }

    /// Restores `stream` into the new file `output` (written atomically), checking it against its hash chain.
    func restore(_ stream: String, from store: ErasureCodedStore, to output: FilePath) throws {
        let reader = try store.openReader(for: try StreamName(stream))
        defer { reader.close() }
        let temporary = FilePath(output.string + ".partial~")
        let descriptor = try FileSystemCalls.open(
            temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        var chain = StreamHashChain()
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var offset: UInt64 = 0
            while offset < reader.length {
                let count = try buffer.withUnsafeMutableBytes { try reader.read(at: offset, into: $0) }
                guard count > 0 else { throw CommandFailure("\(stream) ended at \(offset) of \(reader.length) bytes") }
                try buffer.withUnsafeBytes {
                    let part = UnsafeRawBufferPointer(rebasing: $0[..<count])
                    chain.append(part)
                    try FileSystemCalls.writeAll(descriptor, part)
                }
                offset += UInt64(count)
            }
            guard chain.head == reader.head else {
                throw CommandFailure("\(stream): the bytes read do not give the stream's hash-chain head")
            }
            try FileSystemCalls.synchronise(descriptor)
        } catch {
            FileSystemCalls.release(descriptor)
            try? FileSystemCalls.remove(temporary)
            throw error
        }
        do {
            // Closed once, whatever close says: a second close could hit a descriptor another thread opened since.
            try FileSystemCalls.close(descriptor)
            try FileSystemCalls.rename(temporary, to: output)
            var directory = output
            directory.removeLastComponent()
            try FileSystemCalls.synchroniseDirectory(directory.isEmpty ? "." : directory)
        } catch {
            try? FileSystemCalls.remove(temporary)
            throw error
        }
    }

    /// Every stream under `prefix` (all when empty).
    func streams(in store: ErasureCodedStore, under prefix: String) throws -> [String] {
        var names: [String] = []
        var after: StreamName?
        while true {
            let page = try store.summaries(after: after, limit: 1000) {
                prefix.isEmpty || $0.rawValue == prefix || $0.rawValue.hasPrefix(prefix + ".")
            }
            names += page.map(\.name.rawValue)
            guard page.count == 1000, let last = page.last else { return names }
            after = last.name
        }
    }
}
