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

        let printed = try Command.run("openssl", ["x509", "-in", "\(state)/identity/sender.pem", "-noout", "-serial"])
        let serial = printed.split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        try "# revoked\nserial \(serial)\n".write(toFile: "\(state)/revoked.conf", atomically: true, encoding: .utf8)
        try reload(expecting: 1, "authorization policy reloaded")
        let refused = try send()
        #expect(refused.status != 0)
        #expect(refused.errors.contains("certificate-revoked"), "\(refused.errors)")

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
