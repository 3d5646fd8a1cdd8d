import Foundation
import SystemPackage

/// The development appliance's state directory and what lives in it. Here, beside the development identity, so that
/// the clients find the development appliance's files without depending on the appliance.
///
/// `--state DIR`, else `SAATKOND_STATE`, else `.saatkond` in the current directory; `send` and `restore` use
/// the same rule, so with no options they find the appliance's development identity.
public struct StateDirectory: Sendable, Hashable {
    /// The directory.
    public let path: FilePath

    /// Resolves the directory from an explicit option, the environment, or the default.
    public init(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let option, !option.isEmpty {
            path = FilePath(option)
        } else if let fromEnvironment = environment["SAATKOND_STATE"], !fromEnvironment.isEmpty {
            path = FilePath(fromEnvironment)
        } else {
            path = FilePath(".saatkond")
        }
    }

    /// The development TLS identity.
    public var identity: DevelopmentIdentity { DevelopmentIdentity(directory: path.appending("identity")) }

    /// The member directories of the development array.
    public var members: FilePath { path.appending("members") }

    /// The authorization policy: which sender identity may append to and read which streams.
    public var authorizationPolicy: FilePath { path.appending("authorization.conf") }

    /// The deny list beside the policy: revoked sender certificates.
    public var denyList: FilePath { path.appending("revoked.conf") }

    /// The development keys service's directory (docs/keys.md): sealed keys, public keys, escrow bundle, audit log.
    public var keys: FilePath { path.appending("keys") }

    /// The public half of the receipt-signing key (ECDSA P-256, PEM, as `openssl pkey -pubout` writes it), which the
    /// keys service writes at provisioning: what `saatkond verify` needs to check a receipt, and all it needs.
    public var receiptSigningPublicKey: FilePath { keys.appending("signing.pem") }
}
