import CustodyLog
import LocalControl
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemPackage
import Watchdog

/// `saatkond keys` (and the keys part of `saatkond dev`): holds the unsealed keys, answers the keys socket, and
/// watches the chassis-intrusion switch, zeroizing when it opens.
public final class KeysService: Service, Sendable {
    /// The keys and the state.
    public let holder: KeyHolder
    private let files: KeysStateFiles
    private let server: LocalControlServer?
    private let intrusion: IntrusionSensor?
    private let intrusionPoll: Duration
    private let audit: AuditTrail
    private let logger: Logger
    private let onReady: @Sendable (KeyState) -> Void
    private let unsealRetry: Duration
    /// The threads that gather reports' facts, started with the service and shut down after it.
    private let reportThreads: NIOThreadPool?
    /// The configuration file's text, whose SHA-256 the start records.
    private let configurationText: String?

    /// A service over `vault` with the state in `files`; the socket is served when `socket` is given.
    public init(
        files: KeysStateFiles, vault: any KeyVault, socket: Socket?, intrusion: IntrusionSensor?,
        decommission: DecommissionPolicy?, intrusionPoll: Duration = .seconds(1), unsealRetry: Duration = .seconds(60),
        configurationText: String? = nil, logger: Logger,
        onReady: @escaping @Sendable (KeyState) -> Void = { _ in }
    ) throws {
        self.onReady = onReady
        self.unsealRetry = unsealRetry
        self.configurationText = configurationText
        let log = try CustodyLog(path: files.auditLog)
        audit = AuditTrail(log: log, logger: logger)
        holder = KeyHolder(files: files, vault: vault, audit: audit, logger: logger)
        self.files = files
        self.intrusion = intrusion
        self.intrusionPoll = intrusionPoll
        self.logger = logger
        let audit = self.audit
        var requests = KeysRequests(
            holder: holder, files: files, decommission: decommission,
            signing: socket?.signing ?? SigningRoles(receiptSigners: [], otherSigners: []), audit: audit,
            logger: logger)
        if let sources = socket?.reports {
            let gathering = NIOThreadPool(numberOfThreads: ReportMaking.threads)
            requests.reports = ReportMaking(
                reporter: AttestationReporter(keys: holder, applianceName: sources.applianceName, logger: logger),
                facts: ApplianceFactsSource(disksSocket: sources.disksSocket, readerSocket: sources.readerSocket),
                gathering: gathering)
            reportThreads = gathering
        } else {
            reportThreads = nil
        }
        let answering = requests
        server = socket.map { socket in
            LocalControlServer(
                path: socket.path, mode: 0o660, group: socket.group, access: socket.access,
                group: MultiThreadedEventLoopGroup.singleton, operations: Set(KeysOperation.allCases.map(\.rawValue)),
                maximumConnections: 64,
                onRefusal: { request in
                    logger.warning(
                        "keys socket: refused", metadata: ["op": "\(request.op)", "uid": "\(request.peer.uid)"])
                    audit.record(
                        "refused", ["op": request.op, "uid": "\(request.peer.uid)", "pid": "\(request.peer.pid)"])
                },
                replying: { await answering.answer($0) })
        }
    }

    /// Where and for whom the socket is served.
    public struct Socket: Sendable {
        public var path: String
        public var group: UInt32?
        public var access: LocalAccess
        public var signing: SigningRoles
        /// Where the facts of reports made here come from; nil makes no reports.
        public var reports: ReportSources?

        public init(
            path: String, group: UInt32?, access: LocalAccess, signing: SigningRoles, reports: ReportSources? = nil
        ) {
            self.path = path
            self.group = group
            self.access = access
            self.signing = signing
            self.reports = reports
        }

        /// A socket on which `uid` (and root) may ask everything: `saatkond dev`, where every part runs as one user.
        public static func onlyFor(uid: UInt32, path: String, reports: ReportSources? = nil) -> Socket {
            Socket(
                path: path, group: nil,
                access: LocalAccess(
                    rules: Dictionary(uniqueKeysWithValues: KeysOperation.allCases.map { ($0.rawValue, [uid]) })),
                signing: SigningRoles(receiptSigners: [uid], otherSigners: [uid]), reports: reports)
        }

        /// The socket a configuration names, with its access rules.
        public init(_ configuration: KeysConfiguration) {
            self.init(
                path: configuration.socket, group: configuration.socketGroup, access: KeysAccess.rules(configuration),
                signing: SigningRoles(receiptSigners: configuration.ingestUIDs, otherSigners: configuration.signerUIDs),
                reports: ReportSources(
                    applianceName: configuration.applianceName, disksSocket: configuration.disksSocket,
                    readerSocket: configuration.readerSocket))
        }
    }

    /// The appliance's name in reports, and the sockets their facts come from.
    public struct ReportSources: Sendable {
        public var applianceName: String
        public var disksSocket: String?
        public var readerSocket: String?

        public init(applianceName: String, disksSocket: String? = nil, readerSocket: String? = nil) {
            self.applianceName = applianceName
            self.disksSocket = disksSocket
            self.readerSocket = readerSocket
        }
    }

    public func run() async throws {
        // The switch is read before anything is served: keys unsealed into a chassis already opened are not handed
        // out even once.
        checkIntrusion(lastUnreadable: nil)
        recordHistory("service.started", WatchdogHistory.startFields(configurationText: configurationText))
        reportThreads?.start()
        try await server?.start()
        logger.info("keys service ready", metadata: ["state": "\(holder.state)", "socket": "\(server?.path ?? "-")"])
        onReady(holder.state)
        await withGracefulShutdownHandler {
            await watch()
        } onGracefulShutdown: {
        }
        try? await server?.stop()
        try? await reportThreads?.shutdownGracefully()
        recordHistory("service.stopped", [:])
        audit.close()
    }

    private func recordHistory(_ event: String, _ fields: [String: String]) {
        do {
            try audit.recordHistory(event, fields)
        } catch {
            logger.error("cannot write the audit log", metadata: ["event": "\(event)", "error": "\(error)"])
        }
    }

    /// Zeroizes the keys now (an intrusion, a verified order, or a test).
    public func zeroize(reason: String) throws {
        try holder.zeroize(reason: reason, files: files)
    }

    /// Every poll: the intrusion switch, a zeroization left unfinished, and, every `unsealRetry` (a minute) while
    /// locked, the policies again (home may have installed one for these measurements).
    private func watch() async {
        var lastUnreadable: String?
        var polls = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            lastUnreadable = checkIntrusion(lastUnreadable: lastUnreadable)
            if holder.zeroizationPending { try? holder.finishZeroization(files: files) }
            polls += 1
            if case .locked = holder.state, polls % max(1, Int(unsealRetry / intrusionPoll)) == 0 {
                holder.retryUnseal()
            }
            try? await Task.sleep(for: intrusionPoll)
        }
    }

    /// Reads the switch once; zeroizes a provisioned appliance when it is open. Returns the unreadable reason it
    /// reported, so that the same one is not reported every poll.
    @discardableResult
    private func checkIntrusion(lastUnreadable: String?) -> String? {
        guard let intrusion else { return nil }
        switch intrusion.read() {
        case .opened:
            // Before provisioning there is nothing to destroy, and a zeroized marker would forbid provisioning.
            switch holder.state {
            case .unsealed, .locked:
                do {
                    try zeroize(reason: "the chassis was opened (\(intrusion.path))")
                } catch {
                    logger.critical("zeroization failed", metadata: ["error": "\(error)"])
                }
            case .unprovisioned, .zeroized:
                break
            }
            return nil
        case .closed:
            return nil
        case .unreadable(let why):
            if lastUnreadable != why {
                logger.error("the chassis-intrusion switch cannot be read", metadata: ["reason": "\(why)"])
                audit.record("intrusion-sensor-unreadable", ["reason": why])
            }
            return why
        }
    }
}

/// The keys service's watchdog changes, in its own audit log (which the disks service copies into the one log).
extension KeysService: ServiceEventRecorder {
    public func record(_ event: String, _ fields: [String: String]) throws {
        try audit.recordHistory(event, fields)
    }
}
