import LivenessGate
import Testing

@Suite("Watchdog gate")
struct WatchdogGateTests {
    @Test("the first passed round pets and reports healthy; later passes pet silently")
    func healthy() {
        var gate = WatchdogGate()
        #expect(gate.roundCompleted(.passed, at: .seconds(1)) == .init(pet: true, status: "healthy"))
        #expect(gate.roundCompleted(.passed, at: .seconds(2)) == .init(pet: true, status: nil))
        #expect(gate.isHealthy)
    }

    @Test("a failed round withholds the pet and reports the reason once")
    func failing() {
        var gate = WatchdogGate()
        _ = gate.roundCompleted(.passed, at: .seconds(1))
        let failed = gate.roundCompleted(.failed(reason: "event loop 0 is stuck"), at: .seconds(2))
        #expect(!failed.pet)
        #expect(failed.status == "unhealthy, watchdog withheld: event loop 0 is stuck")
        #expect(!gate.isHealthy)
        // The same failure again: still no pet, and no repeated status line.
        #expect(gate.roundCompleted(.failed(reason: "event loop 0 is stuck"), at: .seconds(3)) == .init(pet: false))
        // A different failure is news.
        #expect(
            gate.roundCompleted(.failed(reason: "disk gone"), at: .seconds(4)).status?.contains("disk gone") == true)
    }

    @Test("recovery pets again and reports healthy")
    func recovery() {
        var gate = WatchdogGate()
        _ = gate.roundCompleted(.failed(reason: "stuck"), at: .seconds(1))
        #expect(gate.roundCompleted(.passed, at: .seconds(2)) == .init(pet: true, status: "healthy"))
    }

    @Test("the schedule pets at half the timeout and gives checks a quarter")
    func schedule() {
        let schedule = WatchdogGate.Schedule(timeout: .seconds(30))
        #expect(schedule.interval == .seconds(15))
        #expect(schedule.checkDeadline == .milliseconds(7500))
    }
}
