import Attestation
import LocalControl

/// Gathers what the other services say for a report: the disks service's bays, disks and array margin, and the
/// reader's state of the streams a verifier names. A service that does not answer leaves its part out (a report says
/// what is known, and a verifier that expects a margin or a stream refuses one without it).
public struct ApplianceFactsSource: Sendable {
    /// Streams one report may name: a report is bounded whatever the number of streams.
    public static let maximumStreams = 256

    let disksSocket: String?
    let readerSocket: String?

    public init(disksSocket: String?, readerSocket: String? = nil) {
        self.disksSocket = disksSocket
        self.readerSocket = readerSocket
    }

    public func gather(streams names: [String] = []) -> ApplianceFacts {
        var facts = ApplianceFacts()
        if !names.isEmpty, let readerSocket,
            let answer = try? LocalControlClient.request(
                path: readerSocket, op: "streams", body: ["names": .array(names.map { .string($0) })],
                timeout: .seconds(10)),
            case .object(let streams)? = answer["streams"]
        {
            var claims: [String: AttestationClaims.StreamClaims] = [:]
            for (name, value) in streams {
                guard case .object(let state) = value, let length = state["length"]?.integerValue, length >= 0,
                    let head = state["head"]?.stringValue
                else { continue }
                claims[name] = .init(
                    length: UInt64(length), head: head, idleSeconds: state["idle-seconds"]?.integerValue)
            }
            facts.streams = claims
        }
        guard let disksSocket,
            let state = try? LocalControlClient.request(path: disksSocket, op: "state", body: [:], timeout: .seconds(5))
        else { return facts }
        if case .object(let array)? = state["array"], let k = array["dataShards"]?.integerValue,
            let m = array["parityShards"]?.integerValue, let margin = array["redundancyMargin"]?.integerValue
        {
            facts.array = .init(dataShards: Int(k), parityShards: Int(m), margin: Int(margin))
        }
        if case .object(let audit)? = state["audit"], let records = audit["records"]?.integerValue,
            let head = audit["head"]?.stringValue
        {
            facts.audit = .init(
                records: Int(records), head: head, copies: audit["copies"]?.integerValue.map { Int($0) })
        }
        if case .object(let history)? = state["watchdog"], let restarts = history["restarts"]?.integerValue {
            facts.watchdog = .init(
                restarts: Int(restarts), lastReason: history["lastReason"]?.stringValue,
                boots: history["boots"]?.integerValue.map { Int($0) },
                checkFailures: history["checkFailures"]?.integerValue.map { Int($0) })
        }
        if case .array(let bays)? = state["bays"] {
            var disks: [String: AttestationClaims.DiskClaims] = [:]
            for case .object(let bay) in bays {
                guard let number = bay["bay"]?.integerValue else { continue }
                let name = bay["label"]?.stringValue ?? "bay-\(number)"
                if case .object(let disk)? = bay["disk"] {
                    disks[name] = .init(
                        identity: disk["identity"]?.stringValue, state: disk["state"]?.stringValue ?? "unknown",
                        smart: disk["smart"]?.stringValue)
                } else {
                    disks[name] = .init(identity: nil, state: "empty", smart: nil)
                }
            }
            facts.disks = disks
        }
        return facts
    }

    /// Records `from`… of the custody log, from the disks service (which keeps it): its lines, without newlines.
    public func auditExcerpt(from: Int64, count: Int64) throws -> [String] {
        guard let disksSocket else { throw AttestationError("no disks socket is configured: the log is not reachable") }
        let answer = try LocalControlClient.request(
            path: disksSocket, op: "audit", body: ["from": .integer(from), "count": .integer(count)],
            timeout: .seconds(10))
        guard case .array(let lines)? = answer["lines"] else {
            throw AttestationError(answer["error"]?.stringValue ?? "the disks service gave no lines")
        }
        return lines.compactMap(\.stringValue)
    }
}
