import Authorization
import CryptoPrimitives
import DevelopmentIdentity
import ErasureStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import ServiceLifecycle
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

/// A real receiver on a loopback port, in this process: TLS 1.3, the erasure-coded store on scratch directories,
/// the development identity. `stop()` in a `defer`.
final class ReceiverHarness: Sendable {
    let scratch: ScratchDirectory
    let identity: DevelopmentIdentity
    let port: Int
    /// The key that signs receipts unless the harness was given another.
    let softwareKey: SoftwareReceiptSigningKey
    private let task: Task<Void, any Error>
    private let group: ServiceGroup
    private let server: ReplicationServer
    private let store: ErasureCodedStore

    init(
        limits: ReceiverStateMachine.Limits = .init(), maximumConnections: Int = 1024,
        metrics: ReplicationMetrics = ReplicationMetrics(), budget: ReceiveBudget = ReceiveBudget(),
        policy: String = "development-sender append *\ndevelopment-sender read *",
        handshakePool: HandshakePoolLimits = .init(), streamSlots: StreamSlots.Limits = .init(),
        shardBytes: Int = 256 << 10, logger: Logger = Logger(label: "test-receiver"),
        receiptKey: (any ReceiptSigningKey)? = nil, group eventLoops: (any EventLoopGroup)? = nil,
        wrapping wrap: @Sendable (ErasureCodedStore) -> any StreamStorage = { $0 }
    ) async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-receiver")
        self.scratch = scratch
        // Whatever fails from here on, the scratch directory goes with it.
        do {
            identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/identity"))
            let geometry = try ArrayGeometry(dataShards: 4, parityShards: 2, memberCount: 6, shardBytes: shardBytes)
            let members = (0..<6).map { FilePath("\(scratch.path)/disk-\($0)") }
            _ = try ErasureCodedStore.create(members: members, geometry: geometry)
            let privateKey = try X25519PrivateKey()
            let store = try ErasureCodedStore(
                members: members,
                keys: try StorageKeys(
                    storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey,
                    journalKey: try CryptoRandom.secretBytes(count: 32)))
            let tls = try ReplicationTLS.receiverConfiguration(
                TLSIdentityFiles(
                    certificate: identity.applianceCertificate.string, privateKey: identity.applianceKey.string,
                    trustedAuthorities: identity.authorityCertificate.string))
            let softwareKey = SoftwareReceiptSigningKey(try P256PrivateKey())
            self.softwareKey = softwareKey
            self.store = store
            let (addresses, continuation) = AsyncStream<SocketAddress>.makeStream()
            let server = ReplicationServer(
                configuration: .init(
                    host: "127.0.0.1", port: 0, tls: tls,
                    policy: try AuthorizationPolicy(parsing: policy, file: "test"),
                    receiptKey: receiptKey ?? softwareKey, applianceName: "test-appliance", limits: limits,
                    shutdownGracePeriod: .seconds(5),
                    maximumConnections: maximumConnections,
                    budget: budget, handshakePool: handshakePool, streamSlots: streamSlots),
                storage: wrap(store), group: eventLoops ?? MultiThreadedEventLoopGroup.singleton,
                logger: logger,
                metrics: metrics
            ) { address in
                continuation.yield(address)
                continuation.finish()
            }
            self.server = server
            group = ServiceGroup(services: [server], logger: Logger(label: "test-receiver"))
            let group = self.group
            task = Task { try await group.run() }
            var iterator = addresses.makeAsyncIterator()
            guard let address = await iterator.next(), let port = address.port else {
                throw TestSupportError("the receiver did not start")
            }
            self.port = port
        } catch {
            scratch.remove()
            throw error
        }
    }

    /// Runs `body` with a fresh receiver and stops it afterwards, whether `body` returned or threw.
    static func run<Result>(
        limits: ReceiverStateMachine.Limits = .init(), maximumConnections: Int = 1024,
        metrics: ReplicationMetrics = ReplicationMetrics(), budget: ReceiveBudget = ReceiveBudget(),
        policy: String = "development-sender append *\ndevelopment-sender read *",
        handshakePool: HandshakePoolLimits = .init(), streamSlots: StreamSlots.Limits = .init(),
        shardBytes: Int = 256 << 10, receiptKey: (any ReceiptSigningKey)? = nil,
        group: (any EventLoopGroup)? = nil,
        _ body: (ReceiverHarness) async throws -> Result
    ) async throws -> Result {
        let harness = try await ReceiverHarness(
            limits: limits, maximumConnections: maximumConnections, metrics: metrics, budget: budget, policy: policy,
            handshakePool: handshakePool, streamSlots: streamSlots, shardBytes: shardBytes, receiptKey: receiptKey,
            group: group)
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }

    /// Replaces the receiver's policy, as SIGHUP does in the services: `policy` in the policy file's form, and
    /// `denyList` in the deny list's.
    func reload(policy: String, denyList: String = "") throws {
        var parsed = try AuthorizationPolicy(parsing: policy, file: "test")
        parsed.revoked = try DenyList(parsing: denyList, file: "test-deny-list")
        server.reload(policy: parsed)
    }

    /// The serial number of the development sender's certificate, as `openssl x509 -serial` prints it for home.
    func senderSerial() throws -> String {
        let printed = try Command.run(
            "openssl", ["x509", "-in", identity.senderCertificate.string, "-noout", "-serial"])
        guard let serial = printed.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw TestSupportError("openssl printed no serial: \(printed)")
        }
        return serial
    }

    /// Stops the receiver; a receiver that ended with an error fails the test that ran it.
    func stop() async {
        await group.triggerGracefulShutdown()
        do {
            try await task.value
        } catch {
            Issue.record("the receiver ended with an error: \(error)")
        }
        // The store's workers finish what they hold (a pool refill, a write) before its directories go.
        store.shutdown()
        scratch.remove()
    }

    /// The sender's endpoint with the development identity, or with other certificate files.
    func endpoint(certificate: String? = nil, key: String? = nil) throws -> ReplicationEndpoint {
        ReplicationEndpoint(
            host: "127.0.0.1", port: port,
            tls: try ReplicationTLS.senderConfiguration(
                TLSIdentityFiles(
                    certificate: certificate ?? identity.senderCertificate.string,
                    privateKey: key ?? identity.senderKey.string,
                    trustedAuthorities: identity.authorityCertificate.string)))
    }

    /// Sends `bytes` to `stream` through the real sender, from a temporary file.
    func send(
        _ bytes: [UInt8], to stream: String, mode: SendMode = .append, receipt: Bool = false,
        retry: RetryPolicy = RetryPolicy(), endpoint: ReplicationEndpoint? = nil
    ) async throws -> SendReport {
        let path = "\(scratch.path)/input-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? descriptor.close() }
        return try await StreamSender(
            endpoint: try endpoint ?? self.endpoint(), retry: retry, mode: mode, requestsReceipt: receipt
        )
        .send(stream: stream, from: descriptor)
    }

    /// Issues a client certificate for `commonName` from the development CA (with openssl); returns its certificate
    /// and key files.
    func issueSender(commonName: String) throws -> (certificate: String, key: String) {
        let base = "\(scratch.path)/\(commonName)"
        try Command.run(
            "openssl",
            [
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                "\(base)-key.pem", "-subj", "/O=Saatkond development/CN=\(commonName)", "-out", "\(base).csr",
            ])
        try Data(
            """
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=clientAuth
            authorityKeyIdentifier=keyid

            """.utf8
        ).write(to: URL(fileURLWithPath: "\(base).ext"))
        try Command.run(
            "openssl",
            [
                "x509", "-req", "-in", "\(base).csr", "-CA", identity.authorityCertificate.string, "-CAkey",
                identity.authorityKey.string, "-CAcreateserial", "-CAserial", "\(base).srl", "-days", "2",
                "-extfile", "\(base).ext", "-out", "\(base).pem",
            ])
        return ("\(base).pem", "\(base)-key.pem")
    }

    /// Restores `stream` through the real restorer.
    func restore(_ stream: String) async throws -> [UInt8] {
        let path = FilePath("\(scratch.path)/restore-\(UUID().uuidString)")
        _ = try await StreamRestorer(endpoint: try endpoint()).restore(stream: stream, toFileAt: path)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path.string)))
    }
}
