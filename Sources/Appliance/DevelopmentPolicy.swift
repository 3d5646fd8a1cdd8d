import Authorization
import DurableFiles
import SystemPackage

/// The development appliance's authorization policy, `<state>/authorization.conf`: created on first start so that
/// the development sender may append to and read every stream; edit it to try narrower grants.
enum DevelopmentPolicy {
    static let initial = """
        # Who may append to and read which streams: <certificate common name> append|read <prefix>... (* = all).
        # Development default: the development sender may do everything.
        development-sender append *
        development-sender read *

        """

    static func loadOrCreate(_ state: StateDirectory) throws -> AuthorizationPolicy {
        let path = state.authorizationPolicy
        if !FileSystemCalls.exists(path) {
            try FileSystemCalls.createDirectories(state.path)
            try Array(initial.utf8).withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
        }
        let text = String(decoding: try FileSystemCalls.readAll(path), as: UTF8.self)
        return try AuthorizationPolicy(parsing: text, file: path.string)
    }
}
