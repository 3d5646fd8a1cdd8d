import Foundation
import Systemd
import TestSupport
import Testing

/// Every test that changes NOTIFY_SOCKET, WATCHDOG_* or JOURNAL_STREAM lives in this one serialized suite, because
/// the environment is shared by all suites running in parallel in this process.
@Suite(.serialized)
struct ProcessEnvironmentTests {
    @Test func notifyDeliversTheStateToNotifySocket() throws {
        let socket = try DatagramSocket(path: "/tmp/saatkond-notify-\(UUID().uuidString.prefix(8)).sock")
        defer { socket.remove() }
        // Unique, so that a notification some other suite sends meanwhile cannot be mistaken for ours.
        let state = "READY=1\nSTATUS=\(UUID().uuidString)"

        let sent = try withEnvironment(["NOTIFY_SOCKET": socket.path]) {
            try ServiceManager.notify(state)
        }

        #expect(sent)
        let datagram = socket.receive(timeout: .seconds(5)) { $0 == Array(state.utf8) }
        #expect(datagram != nil, "no datagram with \(state) arrived at \(socket.path)")
    }

    @Test func notifyOutsideAServiceManagerReturnsFalse() throws {
        let sent = try withEnvironment(["NOTIFY_SOCKET": nil]) {
            try ServiceManager.notify("STATUS=\(UUID().uuidString)")
        }
        #expect(!sent)
    }

    @Test func notifyToAMissingSocketThrows() throws {
        let missing = "/tmp/saatkond-missing-\(UUID().uuidString.prefix(8)).sock"
        let error = withEnvironment(["NOTIFY_SOCKET": missing]) {
            #expect(throws: SystemdError.self) { try ServiceManager.notify("READY=1") }
        }
        #expect(error?.errorNumber == ENOENT, "\(String(describing: error))")
    }

    @Test func watchdogIntervalForThisProcess() throws {
        let interval = try withEnvironment(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"]) {
            try ServiceManager.watchdogInterval()
        }
        #expect(interval == .seconds(2))
    }

    @Test func watchdogIntervalForAnotherProcessIsNil() throws {
        // The parent's pid is certainly not ours: systemd meant the watchdog for a different process.
        let interval = try withEnvironment(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getppid())"]) {
            try ServiceManager.watchdogInterval()
        }
        #expect(interval == nil)
    }

    @Test func watchdogIntervalUnsetIsNil() throws {
        let interval = try withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
            try ServiceManager.watchdogInterval()
        }
        #expect(interval == nil)
    }

    @Test func watchdogIntervalThatIsNotANumberThrows() throws {
        let error = withEnvironment(["WATCHDOG_USEC": "two seconds", "WATCHDOG_PID": "\(getpid())"]) {
            #expect(throws: SystemdError.self) { try ServiceManager.watchdogInterval() }
        }
        #expect(error?.errorNumber == EINVAL, "\(String(describing: error))")
    }
}
