import DurableFiles
import StoreFormat
import SystemPackage

extension MemberLayout {
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
}
