import Testing

@testable import CustodyLog

/// The watchdog history read from the log's records: a start after a start is a run that ended without stopping,
/// told apart by boot; stops, other services and other events change nothing.
@Suite("Service history")
struct ServiceHistoryTests {
    private func record(_ seq: UInt64, _ event: String, _ fields: [String: String]) -> CustodyRecord {
        CustodyRecord(
            seq: seq, time: "2026-12-06T10:00:0\(seq % 10).000Z", event: CustodyEvent(event, fields),
            prev: CustodyRecord.firstPrevious)
    }

    @Test("restarts in one boot, a run cut by a power loss, and a failed check each count once, with the last reason")
    func restartsAndBoots() {
        var history = ServiceHistory()
        let events: [(String, [String: String])] = [
            ("service.started", ["service": "ingest", "boot-id": "a"]),
            ("service.started", ["service": "keys", "boot-id": "a"]),
            ("service.stopped", ["service": "keys"]),
            ("service.started", ["service": "keys", "boot-id": "a"]),  // a clean restart: not counted
            ("service.started", ["service": "ingest", "boot-id": "a"]),  // killed by its watchdog
            ("disk.inserted", ["service": "ingest", "bay": "3"]),  // not the history's
            ("service.started", ["service": "ingest", "boot-id": "b"]),  // a power cut, then boot b
            ("watchdog.check-failed", ["service": "health", "reason": "the keys service does not answer"]),
            ("service.started", ["boot-id": "b"]),  // no service named: ignored
        ]
        for (index, (event, fields)) in events.enumerated() {
            history.observe(record(UInt64(index + 1), event, fields))
        }
        #expect(history.starts == 5)
        #expect(history.restarts == 2)
        #expect(history.boots == 2)
        #expect(history.checkFailures == 1)
        #expect(history.lastReason?.hasSuffix("health: the keys service does not answer") == true)

        var powerCut = ServiceHistory()
        powerCut.observe(record(1, "service.started", ["service": "disks", "boot-id": "a"]))
        powerCut.observe(record(2, "service.started", ["service": "disks", "boot-id": "b"]))
        #expect(powerCut.restarts == 1 && powerCut.lastReason?.contains("did not stop before the next boot") == true)
        powerCut.observe(record(3, "service.stopped", ["service": "disks"]))
        powerCut.observe(record(4, "service.started", ["service": "disks", "boot-id": "c"]))
        #expect(powerCut.restarts == 1 && powerCut.boots == 3)
    }
}
