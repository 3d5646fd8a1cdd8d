import Foundation
import TestSupport
import Testing

/// `saatkond dev` under a service manager: readiness, status and watchdog pets reach NOTIFY_SOCKET, and SIGTERM
/// ends it with status 0. The variables are given to the child only, never set in this test process.
@Suite("systemd notifications", .enabled(if: SaatkondExecutable.exists))
struct ServiceManagerTests {
    @Test("READY=1 once listening, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 and exit 0 on SIGTERM")
    func notifications() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-notify")
        defer { scratch.remove() }
        let socket = try DatagramSocket(path: "\(scratch.path)/notify")
        defer { socket.remove() }
        let appliance = try DevAppliance(
            state: "\(scratch.path)/state", logs: scratch.path,
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil])

        let ready = socket.receive(timeout: .seconds(10)) { $0.contains(text: "READY=1") }
        #expect(ready?.contains(text: "STATUS=receiving replication on") == true)
        var pets = 0
        let start = ContinuousClock.now
        while pets < 3, start.duration(to: .now) < .seconds(10) {
            if socket.receive(timeout: .seconds(1), where: { $0.contains(text: "WATCHDOG=1") }) != nil { pets += 1 }
        }
        #expect(pets == 3, "expected watchdog pets every 200 ms")
        #expect(appliance.stop() == 0, "\(appliance.errors)")
        #expect(socket.receive(timeout: .seconds(5)) { $0.contains(text: "STOPPING=1") } != nil)
    }
}
