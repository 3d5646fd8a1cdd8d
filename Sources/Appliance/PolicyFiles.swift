import Authorization
import DurableFiles
import Logging
import Receiver
import ReplicationTransport
import ServiceLifecycle
import SystemPackage
import UnixSignals

/// The authorization policy and the deny list beside it, as files: read at start and again on every SIGHUP
/// (`systemctl reload`), so home can revoke a sender or change a grant without dropping the other senders.
struct PolicyFiles: Sendable {
    /// The grants (see ``AuthorizationPolicy/init(parsing:file:)``).
    var policy: FilePath
    /// The revoked certificates (see ``DenyList/init(parsing:file:)``); nil when none is configured.
    var denyList: FilePath?
    /// The home CA file the receiver trusts: with more than one CA in it, every grant must name its issuer.
    var trustedAuthorities: FilePath

    /// Reads and checks both files; a mistake names the file and line.
    func load() throws -> AuthorizationPolicy {
        var policy = try AuthorizationPolicy(parsing: try Self.text(of: self.policy), file: self.policy.string)
        if let denyList {
            policy.revoked = try DenyList(parsing: try Self.text(of: denyList), file: denyList.string)
        }
        try policy.requireIssuers(trustedAuthorities: try ReplicationTLS.authorityCount(in: trustedAuthorities.string))
        return policy
    }

    /// A policy file is a few lines; anything past a mebibyte is not one, and is not read into memory whole.
    private static func text(of path: FilePath) throws -> String {
        let limit = 1 << 20
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { buffer throws(Errno) in
                try FileSystemCalls.read(path, into: buffer)
            }
        } catch {
            throw ConfigurationError("cannot read \(path): \(error)")
        }
        guard count <= limit else { throw ConfigurationError("\(path) is longer than \(limit) bytes") }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}

/// Reloads the policy files into the receiver on every SIGHUP. A file with a mistake is reported and the policy in
/// force stays: a typo at home must not open or close the appliance to everyone.
struct PolicyReloader: Service {
    let files: PolicyFiles
    let server: ReplicationServer
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                server.reload(policy: try files.load())
            } catch {
                logger.error(
                    "the authorization policy was not reloaded; the previous one stays in force",
                    metadata: ["error": "\(error)"])
            }
        }
    }
}
