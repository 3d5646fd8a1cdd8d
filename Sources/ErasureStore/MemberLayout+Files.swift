import DurableFiles
import StoreFormat
import SystemPackage

extension MemberLayout {
    /// What a member's files are created with: readable by the group of the user that writes them, so that the
    /// reader service (`saatkond reader`, another user in ingest's group) opens them read-only and the kernel
    /// refuses it every write. Nothing on a member is plaintext; the group bits grant no key.
    public static let filePermissions: FilePermissions = [.ownerReadWrite, .groupRead]
    /// What a member's directories are created with (see ``filePermissions``).
    public static let directoryPermissions: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute]

    /// Labels the member durably with `identity`, creating its directory if need be: a new array's members, and a
    /// replacement disk, are labelled alike.
    func writeLabel(_ identity: MemberIdentity) throws {
        let label = identity.encoded()
        try FileSystemCalls.createDirectories(root, permissions: Self.directoryPermissions)
        try label.withUnsafeBytes {
            try FileSystemCalls.writeAtomically($0, to: self.identity, permissions: Self.filePermissions)
        }
    }

    /// Creates `streams/<stream>` inside the member, never the member itself: a member directory that vanished (an
    /// unmounted disk, a removed directory) makes this fail rather than be silently created again elsewhere.
    func createStreamDirectory(_ stream: String) throws(Errno) {
        try FileSystemCalls.createDirectory(streams, permissions: Self.directoryPermissions)
        try FileSystemCalls.createDirectory(streamDirectory(stream), permissions: Self.directoryPermissions)
    }
}
