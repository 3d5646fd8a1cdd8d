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
        let appliance = try Self.startUnderWatchdog(scratch, socket)

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

    @Test("a hung service stops petting within its interval and says why (an event loop wedged by the test hook)")
    func wedgedEventLoop() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-notify")
        defer { scratch.remove() }
        let socket = try DatagramSocket(path: "\(scratch.path)/notify")
        defer { socket.remove() }
        let appliance = try Self.startUnderWatchdog(scratch, socket)
        defer { appliance.kill9() }
        #expect(socket.receive(timeout: .seconds(10)) { $0.contains(text: "READY=1") } != nil)
        #expect(socket.receive(timeout: .seconds(2)) { $0.contains(text: "WATCHDOG=1") } != nil)
        // SIGUSR1 wedges an event loop (debug builds only): the next round's probe goes unanswered.
        appliance.send(SIGUSR1)
        let wedged = ContinuousClock.now
        let status = socket.receive(timeout: .seconds(2)) { $0.contains(text: "STATUS=") }
        #expect(status.map { String(decoding: $0, as: UTF8.self) }?.contains("did not answer") == true)
        // Within its interval (200 ms) plus the check's deadline (100 ms), and then no pet for a whole timeout.
        #expect(wedged.duration(to: .now) < .seconds(1))
        while socket.receive(timeout: .milliseconds(50), where: { _ in true }) != nil {}
        #expect(socket.receive(timeout: .milliseconds(800)) { $0.contains(text: "WATCHDOG=1") } == nil)
    }

    /// `saatkond dev` as a service manager with a 400 ms watchdog starts it: notifications go to `socket`.
    static func startUnderWatchdog(_ scratch: ScratchDirectory, _ socket: DatagramSocket) throws -> DevAppliance {
        try DevAppliance(
            state: "\(scratch.path)/state", logs: scratch.path,
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil])
    }
}
