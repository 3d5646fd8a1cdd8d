import CryptoPrimitives
import Foundation
import LocalControl

/// Where a service records its starts, stops and the changes of its own checks: the appliance's custody log (directly
/// in the disks service, through the keys service's own log, or through the disks socket's `record`), so that the
/// watchdog history outlives a boot and the system disk.
public protocol ServiceEventRecorder: Sendable {
    /// Records `event` with `fields`; may block for a moment (a socket), and throws when it could not.
    func record(_ event: String, _ fields: [String: String]) throws
}

/// Where and under which name a watchdog service records its history.
public struct WatchdogHistory: Sendable {
    public var service: String
    public var recorder: any ServiceEventRecorder
    /// Whether the watchdog service records the start and the graceful stop (false for a service that records
    /// them itself, around the log it keeps: disks, keys); each change of the checks is recorded either way.
    public var recordsStartAndStop: Bool
    /// The service's configuration file: its SHA-256 goes with the start, so that a changed configuration is on the
    /// log.
    public var configurationText: String?

    public init(
        service: String, recorder: any ServiceEventRecorder, recordsStartAndStop: Bool = true,
        configurationText: String? = nil
    ) {
        self.service = service
        self.recorder = recorder
        self.recordsStartAndStop = recordsStartAndStop
        self.configurationText = configurationText
    }

    /// The fields a start is recorded with: the boot, and the configuration's SHA-256 when it is known.
    public static func startFields(configurationText: String?) -> [String: String] {
        var fields = ["boot-id": BootIdentity.current]
        if let configurationText {
            fields["config-sha256"] = SHA256.hash(Array(configurationText.utf8)).map { String(format: "%02x", $0) }
                .joined()
        }
        return fields
    }
}

/// Records through the disks service's socket (op `record`, for the uids its configuration names as recorders):
/// the disks service keeps the custody log and writes the service's name, from its uid, into each record.
public struct DisksSocketRecorder: ServiceEventRecorder {
    public let socket: String

    public init(socket: String) {
        self.socket = socket
    }

    public func record(_ event: String, _ fields: [String: String]) throws {
        _ = try LocalControlClient.request(
            path: socket, op: "record",
            body: ["event": .string(event), "fields": .object(fields.mapValues { .string($0) })],
            timeout: .seconds(5))
    }
}

/// This boot's identity, as the kernel gives it: a start in another boot than the last tells a reboot.
public enum BootIdentity {
    public static var current: String {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A recorder's events as the watchdog service sends them, each on a thread of its own: a socket that hangs must not
/// hold up the petting.
struct ServiceEventSender: Sendable {
    let recorder: any ServiceEventRecorder
    let service: String
    let onFailure: @Sendable (String, any Error) -> Void

    /// Records and waits until it is done (a start, a stop).
    func recordAndWait(_ event: String, _ fields: [String: String] = [:]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            send(event, fields) { continuation.resume() }
        }
    }

    /// Records without waiting (a change of the checks).
    func record(_ event: String, _ fields: [String: String] = [:]) {
        send(event, fields) {}
    }

    private func send(_ event: String, _ fields: [String: String], then done: @escaping @Sendable () -> Void) {
        let recorder = recorder
        // A reason may quote anything a check met; a record's values are bounded (1 024 bytes).
        let all = fields.mapValues { String($0.utf8.prefix(900)) ?? String($0.prefix(300)) }
            .merging(["service": service]) { _, name in name }
        let onFailure = onFailure
        let thread = Thread {
            do {
                try recorder.record(event, all)
            } catch {
                onFailure(event, error)
            }
            done()
        }
        thread.name = "watchdog-record"
        thread.start()
    }
}
