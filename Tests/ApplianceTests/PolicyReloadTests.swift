import Foundation
import TestSupport
import Testing

/// `systemctl reload` of a running appliance: SIGHUP reloads the policy and the deny list beside it.
@Suite("Reloading the policy on SIGHUP", .enabled(if: SaatkondExecutable.exists))
struct PolicyReloadTests {
    @Test("a revocation takes effect on SIGHUP; a broken file keeps the policy in force; undoing it restores access")
    func revokeAndRestore() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-reload")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 1000)
        func send() throws -> CommandResult {
            try runSaatkond(
                ["send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", "ee.reload", input],
                scratch: scratch.path)
        }
        /// Sends SIGHUP and waits for the appliance to say it reloaded (or refused to) `count` times in all.
        func reload(expecting count: Int, _ message: String) throws {
            appliance.send(SIGHUP)
            for _ in 0..<500 {
                if appliance.errors.components(separatedBy: message).count - 1 >= count { return }
                usleep(20_000)
            }
            throw TestSupportError("no '\(message)' after SIGHUP: \(appliance.errors)")
        }
        #expect(try send().status == 0)

        // A send still going when the revocation comes: it reads a pipe this test keeps open, so only the appliance
        // can end it.
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let openErrors = "\(scratch.path)/open-send.err"
        let openSend = try ChildProcess(
            executable: SaatkondExecutable.path,
            arguments: [
                "send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", "ee.open", "-",
            ],
            output: "\(scratch.path)/open-send.out", errors: openErrors, standardInput: pipeEnds[0])
        close(pipeEnds[0])
        let feed = FileHandle(fileDescriptor: pipeEnds[1], closeOnDealloc: true)
        defer {
            openSend.terminate()
            try? feed.close()
        }
        // More than a frame, so that the sender connects and sends, whatever it buffers first.
        try feed.write(contentsOf: Data(repeating: 0x4F, count: 600_000))
        func connected() -> Bool { appliance.errors.components(separatedBy: "sender connected").count - 1 >= 2 }
        for _ in 0..<500 where !connected() { usleep(20_000) }
        try #require(connected(), "the open send never connected: \(appliance.errors)")

        let printed = try Command.run("openssl", ["x509", "-in", "\(state)/identity/sender.pem", "-noout", "-serial"])
        let serial = printed.split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        try "# revoked\nserial \(serial)\n".write(toFile: "\(state)/revoked.conf", atomically: true, encoding: .utf8)
        try reload(expecting: 1, "authorization policy reloaded")
        let refused = try send()
        #expect(refused.status != 0)
        #expect(refused.errors.contains("certificate-revoked"), "\(refused.errors)")
        let openStatus = openSend.waitForExit(timeout: 30).map(exitCode(fromWaitStatus:))
        #expect(
            openStatus != nil && openStatus != 0,
            "the open send went on after the revocation: \(openStatus as Any); appliance: \(appliance.errors)")
        #expect(DevAppliance.read(openErrors).contains("certificate-revoked"), "\(DevAppliance.read(openErrors))")

        // A typo at home: the appliance says so and keeps the policy (and the revocation) in force.
        try "development-sender apend *\n".write(
            toFile: "\(state)/authorization.conf", atomically: true, encoding: .utf8)
        try "".write(toFile: "\(state)/revoked.conf", atomically: true, encoding: .utf8)
        try reload(expecting: 1, "was not reloaded")
        #expect(appliance.errors.contains("authorization.conf:1: unknown operation 'apend'"), "\(appliance.errors)")
        #expect(try send().status != 0)

        try "development-sender append *\ndevelopment-sender read *\n".write(
            toFile: "\(state)/authorization.conf", atomically: true, encoding: .utf8)
        try reload(expecting: 2, "authorization policy reloaded")
        #expect(try send().status == 0)
    }
}
