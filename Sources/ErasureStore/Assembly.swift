import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// Reads the members' labels and decides which directories make up the array.
enum Assembly {
    struct Result {
        var arrayID: [UInt8]
        var geometry: ArrayGeometry
        var members: [Int: FilePath]
        var report: AssemblyReport
    }

    /// Assembles the array from `directories`. With `requiringQuorum`, more than m positions missing is refused; a
    /// store on a members root takes any number (the disks are being mounted, or most were pulled), and each
    /// operation refuses what it cannot do without them.
    static func assemble(
        _ directories: [FilePath], requiringQuorum: Bool = true
    ) throws(StreamStorageError) -> Result {
        var labelled: [(FilePath, MemberIdentity)] = []
        var unlabelled: [FilePath] = []
        var unreadable: [FilePath] = []
        for directory in directories {
            let layout = MemberLayout(root: directory)
            let bytes: [UInt8]?
            do {
                bytes = try MemberFile.readIfPresent(
                    layout.identity, limit: MemberFile.labelLimit, what: "member label")
            } catch {
                // A label that is there and cannot be read: the disk fails, and is told apart from a blank one.
                unreadable.append(directory)
                continue
            }
            guard let bytes, let identity = try? MemberIdentity(decoding: bytes) else {
                // No label, or one that does not decode (its checksum fails): not a member this store can use.
                unlabelled.append(directory)
                continue
            }
            labelled.append((directory, identity))
        }
        // The array is the one most labels name; ties go to the first directory given.
        var votes: [[UInt8]: Int] = [:]
        for (_, identity) in labelled { votes[identity.arrayID, default: 0] += 1 }
        guard let best = votes.values.max(),
            let arrayID = labelled.first(where: { votes[$0.1.arrayID] == best })?.1.arrayID
        else {
            throw .unavailable("none of the \(directories.count) directories is labelled as an array member")
        }
        var members: [Int: FilePath] = [:]
        var geometry: ArrayGeometry?
        var duplicates: [FilePath] = []
        var foreign: [FilePath] = []
        for (directory, identity) in labelled {
            guard identity.arrayID == arrayID else {
                foreign.append(directory)
                continue
            }
            if let known = geometry, known != identity.geometry {
                throw .corrupt("\(directory) describes a different geometry than the other members of its array")
            }
            geometry = identity.geometry
            if members[identity.index] != nil {
                duplicates.append(directory)
            } else {
                members[identity.index] = directory
            }
        }
        let shape = geometry!
        let missing = (0..<shape.memberCount).filter { members[$0] == nil }
        guard missing.count <= shape.parityShards || !requiringQuorum else {
            throw .unavailable(
                "\(missing.count) of \(shape.memberCount) members are missing (\(missing)); the array survives at most "
                    + "\(shape.parityShards): find the missing disks")
        }
        return Result(
            arrayID: arrayID, geometry: shape, members: members,
            report: AssemblyReport(
                missing: missing, duplicates: duplicates, foreign: foreign, unlabelled: unlabelled,
                unreadable: unreadable))
    }
}
