import Authorization
import CryptoPrimitives
import DurableFiles
import ErasureStore
import Logging
import NIOCore
import NIOPosix
import Replication
import ServiceLifecycle
import SystemPackage
import Systemd
import Watchdog

/// `saatkond ingest`: the production replication receiver, as one systemd service (Type=notify, watchdog).
public struct IngestService: Sendable {
    private let configuration: IngestConfiguration
    private let file: String
    private let logger: Logger

    /// Creates the service from a parsed configuration read from `file`.
    public init(configuration: IngestConfiguration, file: String, logger: Logger = Logger(label: "saatkond.ingest")) {
        self.configuration = configuration
        self.file = file
        self.logger = logger
    }

    /// Loads everything the configuration names (reporting mistakes with the file they are in), then runs until
    /// SIGTERM or SIGINT.
    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        ProcessHeap.bound()
        let policyFiles = PolicyFiles(
            policy: FilePath(configuration.policy), denyList: configuration.denyList.map { FilePath($0) },
            trustedAuthorities: FilePath(configuration.homeAuthority))
        let policy: AuthorizationPolicy
        do {
            policy = try policyFiles.load()
        } catch let error as PolicyError {
            throw ConfigurationError(error.description)
        }
        let publicKey = try X25519PublicKey(rawRepresentation: try key(configuration.storagePublicKey))
        let keys = try StorageKeys(
            storagePublicKey: publicKey, storagePrivateKey: nil,
            journalKey: SecretBytes(try key(configuration.journalKey)))
        let store = try ErasureCodedStore(members: configuration.members.map { FilePath($0) }, keys: keys)
        if !store.assembly.isComplete {
            logger.warning("the array is not complete", metadata: ["assembly": "\(store.assembly)"])
        }
        let signer = ReceiptSigner(
            key: try Ed25519PrivateKey(rawRepresentation: SecretBytes(try key(configuration.signingKey))),
            appliance: configuration.applianceName)
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: configuration.certificate, privateKey: configuration.privateKey,
                trustedAuthorities: configuration.homeAuthority))
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = self.logger
        let server = ReplicationServer(
            configuration: .init(
                host: configuration.host, port: configuration.port, tls: tls, policy: policy, signer: signer),
            storage: store, group: group, logger: logger
        ) { address in
            _ = try? ServiceManager.notify("READY=1\nSTATUS=receiving replication on \(address)")
            onListening(address)
        }
        let watchdog = try WatchdogService(checks: [EventLoopLivenessCheck(group: group)], logger: logger)
        let reloader = PolicyReloader(files: policyFiles, server: server, logger: logger)
        try await ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: reloader), .init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }

    private func read(_ path: String, what: String) throws -> [UInt8] {
        do {
            return try FileSystemCalls.readAll(FilePath(path))
        } catch {
            throw ConfigurationError("\(file): cannot read \(what) at \(path): \(error)")
        }
    }

    /// A 32-byte key file: raw, or 64 hexadecimal digits (with an optional newline).
    private func key(_ path: String) throws -> [UInt8] {
        var bytes = try read(path, what: "a key")
        defer { for index in bytes.indices { bytes[index] = 0 } }
        if bytes.count == 32 { return bytes }
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        var decoded: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex),
            let byte = UInt8(text[index..<next], radix: 16)
        {
            decoded.append(byte)
            index = next
        }
        guard decoded.count == 32, index == text.endIndex else {
            throw ConfigurationError("\(file): \(path) is not a 32-byte key (raw, or 64 hexadecimal digits)")
        }
        return decoded
    }
}
