import CryptoPrimitives
import DevelopmentIdentity
import DurableFiles
import ErasureStore
import StoreFormat
import StreamStore
import SystemPackage

/// The development appliance's array: eleven member directories under `<state>/members`, 8 + 3 as on a 12-bay
/// chassis; its keys come from the keys service (``DevelopmentKeys``).
enum DevelopmentStorage {
    static func openOrCreate(_ state: StateDirectory, keys: StorageKeys) throws -> ErasureCodedStore {
        let geometry = ArrayGeometry.twelveBay
        let members = (0..<geometry.memberCount).map { state.members.appending(String(format: "disk-%02d", $0)) }
        // A new array only where no member carries a label: one disk moved away (its directory gone, or its label)
        // is an absent member, and labelling its place anew would leave a member of another array there.
        if !members.contains(where: { FileSystemCalls.exists($0.appending("saatkond-member")) }) {
            _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        }
        return try ErasureCodedStore(members: members, keys: keys)
    }
}
