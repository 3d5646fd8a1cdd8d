import Chassis
import DiskLifecycle
import ErasureStore
import Foundation
import LivenessGate
import LocalControl
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StoreFormat
import Synchronization
import Systemd
import Watchdog

/// `saatkond disks`: discovers the array's disks through udev, keeps each one's lifecycle, adopts, guards and
/// rebuilds them, and answers on its local state socket. One systemd service (Type=notify, watchdog gated on its
/// event loop answering and its udev monitor being alive).
public final class DisksService: Service, Sendable {
    private let configuration: DisksConfiguration
    private let keys: StorageKeys
    private let logger: Logger
    private let running = Mutex<DisksCore?>(nil)

    public init(configuration: DisksConfiguration, keys: StorageKeys, logger: Logger = Logger(label: "saatkond.disks"))
    {
        self.configuration = configuration
        self.keys = keys
        self.logger = logger
    }

    /// The published state (for an in-process console, the development appliance and tests); nil before start.
    public var status: DisksStatus? { running.withLock { $0?.status.withLock { $0 } } }

    var core: DisksCore? { running.withLock { $0 } }

    /// Runs until the service group's graceful shutdown.
    public func run() async throws {
        let mapText: String
        do {
            mapText = try String(contentsOfFile: configuration.chassis, encoding: .utf8)
        } catch {
            throw DisksConfigurationError("the chassis map \(configuration.chassis) cannot be read: \(error)")
        }
        let map = try BayMap(parsing: mapText, file: configuration.chassis)
        let loop = try DisksEventLoop()
        let core = try DisksCore(configuration: configuration, map: map, loop: loop, logger: logger, keys: keys)
        running.withLock { $0 = core }
        try core.start()
        let logger = self.logger
        let server = LocalControlServer(
            path: configuration.socket, mode: 0o660, group: configuration.socketGroup,
            access: Self.access(configuration),
            group: MultiThreadedEventLoopGroup.singleton,
            onRefusal: { request in
                logger.notice(
                    "refused on the state socket",
                    metadata: ["op": "\(request.op)", "uid": "\(request.peer.uid)", "pid": "\(request.peer.pid)"])
            }
        ) { request in
            await Self.answer(request, core: core)
        }
        do {
            try await server.start()
        } catch {
            // The loop and its workers started already: nothing of this run outlives its failure.
            loop.stop()
            core.stop()
            running.withLock { $0 = nil }
            throw error
        }
        _ = try? ServiceManager.notify("READY=1\nSTATUS=watching \(map.bays.count) bays of \(map.chassis)")
        logger.info(
            "disks service ready", metadata: ["chassis": "\(map.chassis)", "socket": "\(configuration.socket)"])
        try? await gracefulShutdown()
        try? await server.stop()
        loop.stop()
        core.stop()
        running.withLock { $0 = nil }
    }

    /// Who may ask what on the state socket: readers see the state, the console gives orders, ingest reports I/O
    /// errors. Root may do everything (LocalAccess allows uid 0 always).
    static func access(_ configuration: DisksConfiguration) -> LocalAccess {
        let readers = configuration.readerUIDs.union(configuration.consoleUIDs)
        return LocalAccess(rules: [
            "state": readers, "audit": readers,
            "prepare-removal": configuration.consoleUIDs, "adopt": configuration.consoleUIDs,
            "locate": configuration.consoleUIDs, "scrub": configuration.consoleUIDs,
            "report-io-errors": configuration.reporterUIDs, "record": Set(configuration.recorders.keys),
        ])
    }

    static func answer(_ request: LocalRequest, core: DisksCore) async -> [String: JSONValue] {
        let body = request.body
        let bay = body["bay"]?.integerValue.map { Int($0) }
        switch request.op {
        case "state":
            return encode(core.status.withLock { $0 })
        case "audit":
            // An excerpt of the custody log for a verifier: at most 1 000 lines and 1 MiB per answer.
            guard let from = body["from"]?.integerValue, from >= 1 else {
                return ["error": "'from' (the first record's seq, 1 or more) is missing"]
            }
            let count = min(max(Int(body["count"]?.integerValue ?? 1_000), 1), 1_000)
            // Finding a record reads the log from its start: off the event loops.
            do {
                let lines = try await NIOThreadPool.singleton.runIfActive {
                    try core.custody.excerpt(from: UInt64(from), count: count, maximumBytes: 1 << 20)
                }
                return ["lines": .array(lines.map { .string($0) })]
            } catch {
                return ["error": .string("\(error)")]
            }
        case "prepare-removal", "adopt", "locate":
            guard let bay else { return ["error": "'bay' is missing or not a number"] }
            let event: DiskEvent
            switch request.op {
            case "prepare-removal": event = .prepareRemoval(bay: bay)
            case "adopt": event = .adopt(bay: bay, authorised: false)
            default: event = .locate(bay: bay, on: body["on"]?.boolValue ?? true)
            }
            if let refusal = await core.order(event) {
                return ["error": .string(refusal.reason), "refused": true]
            }
            return ["ok": true]
        case "scrub":
            let started = await withCheckedContinuation { continuation in
                core.loop.execute { continuation.resume(returning: core.scrubNow()) }
            }
            return started ? ["ok": true] : ["error": "a scrub is running already, or there is no array yet"]
        case "record":
            guard let event = body["event"]?.stringValue else { return ["error": "'event' is missing"] }
            var fields: [String: String] = [:]
            if case .object(let given)? = body["fields"] {
                for (name, value) in given {
                    guard let text = value.stringValue else {
                        return ["error": .string("field '\(name)' is not a string")]
                    }
                    fields[name] = text
                }
            }
            let uid = request.peer.uid
            let given = fields
            let refusal = await withCheckedContinuation { continuation in
                core.loop.execute {
                    let refusal = core.recordFor(uid: uid, event: event, fields: given)
                    core.publish()
                    continuation.resume(returning: refusal)
                }
            }
            if let refusal { return ["error": .string(refusal), "refused": true] }
            return ["ok": true]
        case "report-io-errors":
            guard let member = body["member"]?.integerValue, let count = body["count"]?.integerValue, count > 0
            else { return ["error": "'member' and a positive 'count' are needed"] }
            if let refusal = await core.order(.ioErrors(member: Int(member), count: Int(count))) {
                return ["error": .string(refusal.reason), "refused": true]
            }
            return ["ok": true]
        default:
            return ["error": .string("unknown operation '\(request.op)'")]
        }
    }

    static func encode(_ status: DisksStatus) -> [String: JSONValue] {
        guard let data = try? JSONEncoder().encode(status),
            let value = try? JSONDecoder().decode([String: JSONValue].self, from: data)
        else { return ["error": "the state could not be encoded"] }
        return value
    }
}

/// Passes while the disks service's event loop runs a probe within the deadline and its udev monitor is alive: a
/// loop stuck in a system call, or a monitor that failed, stops the watchdog's petting.
public struct DisksLivenessCheck: LivenessCheck {
    private let service: DisksService

    public init(service: DisksService) {
        self.service = service
    }

    public func check(deadline: Duration) async -> LivenessResult {
        guard let core = service.core else { return .failed(reason: "the disks service is not running") }
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let pending = Mutex<CheckedContinuation<String?, Never>?>(continuation)
            core.loop.execute {
                let failure = core.monitorFailure
                pending.withLock { $0.take() }?.resume(returning: failure)
            }
            Task {
                try? await Task.sleep(for: deadline)
                pending.withLock { $0.take() }?.resume(
                    returning: "the disks event loop did not answer within \(deadline)")
            }
        }
        return answer.map { .failed(reason: $0) } ?? .passed
    }
}

/// The disks service's own watchdog changes, recorded on its loop straight into the custody log it keeps.
extension DisksService: ServiceEventRecorder {
    public func record(_ event: String, _ fields: [String: String]) throws {
        guard let core else { throw DisksConfigurationError("the disks service is not running") }
        let done = DispatchSemaphore(value: 0)
        core.loop.execute {
            core.record(event, fields)
            core.publish()
            done.signal()
        }
        guard done.wait(timeout: .now() + 5) == .success else {
            throw DisksConfigurationError("the disks event loop did not record \(event) within 5 s")
        }
    }
}
