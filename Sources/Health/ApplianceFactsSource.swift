import Attestation
import LocalControl

/// Gathers what the other services say for a report: the disks service's bays, disks and array margin. A service
/// that does not answer leaves its part out (a report says what is known, and a verifier that expects a margin
/// refuses one without it).
public struct ApplianceFactsSource: Sendable {
    let disksSocket: String?

    public init(disksSocket: String?) {
        self.disksSocket = disksSocket
    }

    public func gather() -> ApplianceFacts {
        var facts = ApplianceFacts()
        guard let disksSocket,
            let state = try? LocalControlClient.request(path: disksSocket, op: "state", body: [:], timeout: .seconds(5))
        else { return facts }
        if case .object(let array)? = state["array"], let k = array["dataShards"]?.integerValue,
            let m = array["parityShards"]?.integerValue, let margin = array["redundancyMargin"]?.integerValue
        {
            facts.array = .init(dataShards: Int(k), parityShards: Int(m), margin: Int(margin))
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
}
