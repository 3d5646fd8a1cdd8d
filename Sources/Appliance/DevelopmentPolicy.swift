import DevelopmentIdentity
import DurableFiles
import SystemPackage

/// The development appliance's authorization policy, `<state>/authorization.conf`, and its deny list,
/// `<state>/revoked.conf`: created on first start so that the development sender may append to and read every
/// stream; edit them to try narrower grants or a revocation, and send the appliance SIGHUP.
enum DevelopmentPolicy {
    static let initial = """
        # Who may append to and read which streams: <certificate common name> append|read <prefix>... (* = all).
        # Development default: the development sender may do everything.
        development-sender append *
        development-sender read *

        """

    static let initialDenyList = """
        # Revoked sender certificates, reloaded with the policy on SIGHUP: `serial <hex>` or
        # `public-key sha256:<64 hex>` (of the certificate's DER SubjectPublicKeyInfo), one per line.

        """

    /// Creates the policy and the (empty) deny list on first start, and names them.
    static func createIfMissing(_ state: StateDirectory, trustedAuthorities: FilePath) throws -> PolicyFiles {
        try FileSystemCalls.createDirectories(state.path)
        for (path, text) in [(state.authorizationPolicy, initial), (state.denyList, initialDenyList)]
        where !FileSystemCalls.exists(path) {
            try Array(text.utf8).withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
        }
        return PolicyFiles(
            policy: state.authorizationPolicy, denyList: state.denyList, trustedAuthorities: trustedAuthorities)
    }
}
