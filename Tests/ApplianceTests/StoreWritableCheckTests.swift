import Appliance
import CryptoPrimitives
import DurableFiles
import ErasureStore
import Foundation
import StoreFormat
import SystemPackage
import TestSupport
import Testing

/// Ingest's own watchdog check on a real array of member directories: it passes while every present member takes a
/// write and its flush, fails naming the member that does not, and passes again when the store knows that member is
/// away (knowingly degraded).
@Suite("Ingest's store check")
struct StoreWritableCheckTests {
    @Test("a member refusing writes fails the check by name; once the store counts it absent, the check passes")
    func writableOrKnowinglyDegraded() async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-store-check")
        defer { scratch.remove() }
        let geometry = try ArrayGeometry(
            dataShards: 4, parityShards: 2, memberCount: 6, shardBytes: 256 << 10, blockBytes: 4096)
        let members = (0..<6).map { FilePath("\(scratch.path)/disk-\($0)") }
        _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        let privateKey = try X25519PrivateKey()
        let store = try ErasureCodedStore(
            members: members,
            keys: StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: nil,
                journalKey: try CryptoRandom.secretBytes(count: 32)))
        defer { store.shutdown() }
        let check = StoreWritableCheck(store: store)
        #expect(await check.check(deadline: .seconds(5)) == .passed)
        #expect(FileManager.default.fileExists(atPath: "\(members[3])/liveness-probe"))

        let fault = InjectedFaults.inject(.error(.ioError), into: .flush, under: members[2].string + "/")
        defer { InjectedFaults.remove(fault) }
        guard case .failed(let reason) = await check.check(deadline: .seconds(5)) else {
            Issue.record("a member that refuses its flush passed the check")
            return
        }
        #expect(
            reason.contains("the store is not writable: member 2") && reason.contains("refused a write"), "\(reason)")

        // The disk's label is gone (it was unmounted): the store writes around it, and says so elsewhere.
        try FileManager.default.moveItem(
            atPath: "\(members[2])/\(MemberIdentity.fileName)", toPath: "\(scratch.path)/label-of-2")
        #expect(await check.check(deadline: .seconds(5)) == .passed)
    }
}
