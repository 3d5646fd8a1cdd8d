import DevelopmentIdentity
import ErasureStore
import Foundation
import HashChain
import StoreFormat
import SystemPackage
import TPM2
import TestSupport
import Testing

/// `saatkond keys`, `saatkond ingest` and `saatkond reader` as the appliance runs them: separate processes, each as
/// its own unprivileged user, the keys over a real swtpm, ingest's keys and receipts from the keys socket only, and
/// restores through the reader, every segment key unwrapped by the keys service.
@Suite(
    "The keys, ingest and reader services as their own users", .serialized,
    .enabled(
        if: UnprivilegedUser.canSwitch && SaatkondExecutable.exists && SoftwareTPM.isInstalled,
        "\(UnprivilegedUser.whyNot ?? (SoftwareTPM.isInstalled ? "no saatkond" : "swtpm is not installed"))"))
struct KeysServicesTests {
    static let socketGroup: UInt32 = 64_400
    static let keysUser = UnprivilegedUser(id: 64_401, group: socketGroup)
    static let ingestUser = UnprivilegedUser(id: 64_402, group: socketGroup)
    /// In ingest's group, as the unit has it: the members' files are group-readable, never group-writable.
    static let readerUser = UnprivilegedUser(id: 64_403, group: socketGroup)
    static let healthUser = UnprivilegedUser(id: 64_404, group: socketGroup)
    /// Home's watch, an ordinary user (in the group only to read the test's identity files).
    static let watchUser = UnprivilegedUser(id: 64_405, group: socketGroup)

    @Test(
        "ingest writes with the keys service's keys, its receipts carry the TPM's signature, the reader restores")
    func ingestThroughTheKeysService() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-keys-services")
        defer { scratch.remove() }
        let tpm = try SoftwareTPM.start()
        defer { tpm.stop() }
        let root = scratch.path
        _ = try Command.run("chmod", ["0755", root])
        let executable = "\(root)/saatkond"
        _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
        func saatkond(_ arguments: [String], as user: UnprivilegedUser? = nil) throws -> CommandResult {
            try runSaatkond(arguments, scratch: root, user: user, executable: executable)
        }

        // Home: three officials (2 of 3 recover) and the policy key.
        try FileManager.default.createDirectory(atPath: "\(root)/home/policies", withIntermediateDirectories: true)
        for official in 1...3 {
            #expect(
                try saatkond(["keys", "official-key", "--output", "\(root)/home/official-\(official).key"]).status == 0)
        }
        #expect(try saatkond(["keys", "home-key", "--output", "\(root)/home/policy.pem"]).status == 0)
        _ = try Command.run("chmod", ["-R", "go+rX", "\(root)/home"])
        _ = try Command.run("chmod", ["go-r", "\(root)/home/policy.pem"])

        // The appliance: the keys service's directories are its user's.
        for directory in ["keys-state", "run"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: false)
            try Self.keysUser.own("\(root)/\(directory)")
        }
        _ = try Command.run("chmod", ["0755", "\(root)/run"])
        let socket = "\(root)/run/keys.sock"
        let keysConfiguration = """
            state-directory = \(root)/keys-state
            tcti = \(tpm.tcti)
            pcrs = sha256:0,7
            policy-key = \(root)/home/policy.pem.pub
            policy-directory = \(root)/home/policies
            official = official-1 \(root)/home/official-1.key.pub
            official = official-2 \(root)/home/official-2.key.pub
            official = official-3 \(root)/home/official-3.key.pub
            escrow-threshold = 2
            socket = \(socket)
            socket-group = \(Self.socketGroup)
            ingest-uid = \(Self.ingestUser.id)
            reader-uid = \(Self.readerUser.id)
            reporter-uid = \(Self.healthUser.id)
            reader-socket = \(root)/reader-run/reader.sock
            appliance-name = ee-test-lu-1
            """
        try keysConfiguration.write(toFile: "\(root)/keys.conf", atomically: true, encoding: .utf8)
        let provisioned = try saatkond(["keys", "provision", "--config", "\(root)/keys.conf"], as: Self.keysUser)
        #expect(provisioned.status == 0, "\(provisioned.errors)")
        let again = try saatkond(["keys", "provision", "--config", "\(root)/keys.conf"], as: Self.keysUser)
        #expect(again.status != 0)
        #expect(again.errors.contains("already provisioned"), "\(again.errors)")
        let signed = try saatkond([
            "keys", "sign-policy", "--key", "\(root)/home/policy.pem", "--pcrs", "sha256:0,7", "--tcti", tpm.tcti,
            "--output", "\(root)/home/policies/release-1.policy",
        ])
        #expect(signed.status == 0, "\(signed.errors)")
        _ = try Command.run("chmod", ["0644", "\(root)/home/policies/release-1.policy"])
        // What home expects the quote to show: the values this TPM holds (read before the keys service holds it).
        let measurements = try TPMConnection(tcti: tpm.tcti).readPCRs(bank: .sha256, indices: [0, 7])

        let (keysCommand, keysArguments) = Self.keysUser.command(executable, ["keys", "--config", "\(root)/keys.conf"])
        let keys = try ChildProcess(
            executable: keysCommand, arguments: keysArguments, output: "\(root)/keys.out", errors: "\(root)/keys.err")
        defer { keys.terminate() }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        let status = try saatkond(["keys", "status", "--socket", socket])
        #expect(status.output.contains("state: unsealed"), "\(status.output) \(status.errors)")

        // Ingest, as its own user, with nothing of the keys but the socket.
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(root)/identity"))
        let geometry = try ArrayGeometry(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        let members = (0..<3).map { "\(root)/members/disk-\($0)" }
        _ = try ErasureCodedStore.create(members: members.map { FilePath($0) }, geometry: geometry)
        try Self.ingestUser.own("\(root)/members")
        try Self.ingestUser.own("\(root)/identity")
        try "development-sender append ee.\ndevelopment-sender read ee.\n".write(
            toFile: "\(root)/authorization.conf", atomically: true, encoding: .utf8)
        let port = try LoopbackPort.free()
        try """
        listen = 127.0.0.1:\(port)
        certificate = \(root)/identity/appliance.pem
        private-key = \(root)/identity/appliance-key.pem
        home-ca = \(root)/identity/development-ca.pem
        policy = \(root)/authorization.conf
        member-root = \(root)/members
        keys-socket = \(socket)
        appliance-name = ee-test-lu-1
        metrics-socket = \(root)/ingest-run/metrics.sock
        metrics-reader-uid = \(Self.healthUser.id)
        """.write(toFile: "\(root)/ingest.conf", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(root)/ingest-run", withIntermediateDirectories: false)
        try Self.ingestUser.own("\(root)/ingest-run")
        _ = try Command.run("chmod", ["0644", "\(root)/ingest.conf", "\(root)/authorization.conf"])
        let (ingestCommand, ingestArguments) = Self.ingestUser.command(
            executable, ["ingest", "--config", "\(root)/ingest.conf"], umask: "0027")
        let ingest = try ChildProcess(
            executable: ingestCommand, arguments: ingestArguments, output: "\(root)/ingest.out",
            errors: "\(root)/ingest.err")
        defer { ingest.terminate() }
        try LoopbackPort.waitUntilListening(port, process: ingest)

        try writeRandomFile("\(root)/input", count: 3_000_000)
        let sent = try saatkond([
            "send", "--connect", "127.0.0.1:\(port)", "--ca", identity.authorityCertificate.string, "--cert",
            identity.senderCertificate.string, "--key", identity.senderKey.string, "--stream", "ee.keys",
            "--receipt", "\(root)/input.receipt", "\(root)/input",
        ])
        #expect(sent.status == 0, "\(sent.errors) \(DevAppliance.read("\(root)/ingest.err"))")
        let verified = try saatkond(
            [
                "verify", "\(root)/input.receipt", "--public-key", "\(root)/keys-state/signing.pem", "--file",
                "\(root)/input",
            ])
        #expect(verified.status == 0, "\(verified.errors)")
        // The network-facing service reads nothing it committed: a restore of a committed segment is refused.
        let refused = try saatkond([
            "restore", "--connect", "127.0.0.1:\(port)", "--ca", identity.authorityCertificate.string, "--cert",
            identity.senderCertificate.string, "--key", identity.senderKey.string, "--stream", "ee.keys", "--output",
            "\(root)/refused",
        ])
        #expect(refused.status != 0)
        let reader = try restoreThroughTheReader(root: root, identity: identity, socket: socket, executable: executable)
        defer { reader.terminate() }
        try attestThroughTheHealthService(
            root: root, identity: identity, socket: socket, executable: executable, measurements: measurements,
            keys: keys)
        reader.send(SIGTERM)
        #expect(reader.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
        ingest.send(SIGTERM)
        #expect(ingest.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
        keys.send(SIGTERM)
        #expect(keys.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)

        // Home, from the escrow bundle alone, reads what ingest wrote.
        var shares: [String] = []
        for official in [1, 3] {
            let share = "\(root)/share-\(official)"
            let opened = try saatkond([
                "keys", "open-share", "--bundle", "\(root)/keys-state/escrow.bundle", "--official",
                "official-\(official)", "--key", "\(root)/home/official-\(official).key", "--output", share,
            ])
            #expect(opened.status == 0, "\(opened.errors)")
            shares += ["--share", share]
        }
        let recovered = try saatkond(
            ["keys", "recover", "--bundle", "\(root)/keys-state/escrow.bundle"] + shares + [
                "--output", "\(root)/recovered",
            ])
        #expect(recovered.status == 0, "\(recovered.errors)")
        let restored = try saatkond([
            "restore", "--members", "\(root)/members", "--keys", "\(root)/recovered", "--stream", "ee.keys", "--output",
            "\(root)/restored",
        ])
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(sameBytes("\(root)/input", "\(root)/restored"))
    }

    /// The reader, as its own user in ingest's group: restores what ingest committed and holds open, byte for byte,
    /// with every segment key unwrapped by the keys service; refuses appends; cannot write to a member; and, with
    /// the keys service gone, refuses restores with the reason and harms nothing. Left running (its state socket
    /// serves the health service's reports); the caller stops it.
    func restoreThroughTheReader(
        root: String, identity: DevelopmentIdentity, socket: String, executable: String
    ) throws -> ChildProcess {
        func saatkond(_ arguments: [String]) throws -> CommandResult {
            try runSaatkond(arguments, scratch: root, executable: executable)
        }
        let port = try LoopbackPort.free()
        try """
        listen = 127.0.0.1:\(port)
        certificate = \(root)/identity/appliance.pem
        private-key = \(root)/identity/appliance-key.pem
        home-ca = \(root)/identity/development-ca.pem
        policy = \(root)/authorization.conf
        member-root = \(root)/members
        keys-socket = \(socket)
        state-socket = \(root)/reader-run/reader.sock
        state-reader-uid = \(Self.keysUser.id)
        """.write(toFile: "\(root)/reader.conf", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(root)/reader-run", withIntermediateDirectories: false)
        try Self.readerUser.own("\(root)/reader-run")
        _ = try Command.run("chmod", ["0755", "\(root)/reader-run"])
        _ = try Command.run("chmod", ["0644", "\(root)/reader.conf"])
        _ = try Command.run("chmod", ["-R", "g+rX", "\(root)/identity"])
        let (command, arguments) = Self.readerUser.command(executable, ["reader", "--config", "\(root)/reader.conf"])
        let reader = try ChildProcess(
            executable: command, arguments: arguments, output: "\(root)/reader.out", errors: "\(root)/reader.err")
        var handedOver = false
        defer { if !handedOver { reader.terminate() } }
        try LoopbackPort.waitUntilListening(port, process: reader)
        let client = [
            "--connect", "127.0.0.1:\(port)", "--ca", identity.authorityCertificate.string, "--cert",
            identity.senderCertificate.string, "--key", identity.senderKey.string,
        ]
        // Two committed segments of 1 MiB and an open tail in the journal: both ways of reading.
        let restored = try saatkond(["restore"] + client + ["--stream", "ee.keys", "--output", "\(root)/via-reader"])
        #expect(restored.status == 0, "\(restored.errors) \(DevAppliance.read("\(root)/reader.err"))")
        #expect(sameBytes("\(root)/input", "\(root)/via-reader"))
        let listed = try saatkond(["list"] + client + ["ee"])
        #expect(listed.output.contains("ee.keys 3000000 "), "\(listed.output) \(listed.errors)")
        let appended = try saatkond(
            ["send"] + client + ["--stream", "ee.keys", "--resume", "--give-up-after", "5", "\(root)/input"])
        #expect(appended.status != 0)
        #expect(appended.errors.contains("serves restores and listings only"), "\(appended.errors)")
        // The kernel, not the reader's code, keeps it from writing: its group may read the members, nothing more.
        let stream = "\(root)/members/disk-0/streams/ee.keys"
        let (touch, touchArguments) = Self.readerUser.command("/usr/bin/touch", ["\(stream)/planted"])
        #expect((try? Command.run(touch, touchArguments)) == nil)
        let (append, appendArguments) = Self.readerUser.command(
            "/bin/sh", ["-c", "for f in \(stream)/*; do echo x >> \"$f\" && exit 1; done; exit 0"])
        #expect((try? Command.run(append, appendArguments)) != nil)

        // Without the keys service the reader cannot open a committed segment: refused, saying why.
        let keysStopped = "\(root)/run/keys.sock"
        try FileManager.default.moveItem(atPath: keysStopped, toPath: keysStopped + ".away")
        let refused = try saatkond(["restore"] + client + ["--stream", "ee.keys", "--output", "\(root)/no-keys"])
        try FileManager.default.moveItem(atPath: keysStopped + ".away", toPath: keysStopped)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("keys service"), "\(refused.errors)")
        let again = try saatkond(["restore"] + client + ["--stream", "ee.keys", "--output", "\(root)/again"])
        #expect(again.status == 0, "\(again.errors)")
        #expect(sameBytes("\(root)/input", "\(root)/again"))
        handedOver = true
        return reader
    }

    /// The health service, as its own user (a signer on the keys socket): a verifier with a certificate of home's
    /// CA gets a report for its nonce, which `saatkond verify` trusts against the TPM's measurements; a certificate
    /// of another CA, or none, gets no answer; metrics show the key state. Under a service manager's watchdog it
    /// pets while the keys service answers, stops with the reason in its status while that service hangs (SIGSTOP),
    /// and pets again once it answers.
    func attestThroughTheHealthService(
        root: String, identity: DevelopmentIdentity, socket: String, executable: String,
        measurements: [Int: [UInt8]], keys: ChildProcess
    ) throws {
        func saatkond(_ arguments: [String]) throws -> CommandResult {
            try runSaatkond(arguments, scratch: root, executable: executable)
        }
        let watch = try startWatch(root: root, executable: executable)
        defer { watch.process.terminate() }
        let port = try LoopbackPort.free()
        try """
        listen = 127.0.0.1:\(port)
        certificate = \(root)/identity/appliance.pem
        private-key = \(root)/identity/appliance-key.pem
        verifier-ca = \(root)/identity/development-ca.pem
        keys-socket = \(socket)
        ingest-metrics-socket = \(root)/ingest-run/metrics.sock
        heartbeat = https://127.0.0.1:\(watch.port)/heartbeat
        heartbeat-every = 1
        home-ca = \(root)/identity/development-ca.pem
        heartbeat-certificate = \(root)/identity/sender.pem
        heartbeat-private-key = \(root)/identity/sender-key.pem
        """.write(toFile: "\(root)/health.conf", atomically: true, encoding: .utf8)
        _ = try Command.run("chmod", ["0644", "\(root)/health.conf"])
        let (command, arguments) = Self.healthUser.command(executable, ["health", "--config", "\(root)/health.conf"])
        let notify = try DatagramSocket(path: "\(root)/notify")
        defer { notify.remove() }
        _ = try Command.run("chmod", ["0666", notify.path])
        let health = try ChildProcess(
            executable: command, arguments: arguments, output: "\(root)/health.out", errors: "\(root)/health.err",
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": nil])
        defer { health.terminate() }
        try LoopbackPort.waitUntilListening(port, process: health)
        #expect(notify.receive(timeout: .seconds(10)) { $0.contains(text: "READY=1") } != nil)
        #expect(notify.receive(timeout: .seconds(3)) { $0.contains(text: "WATCHDOG=1") } != nil)

        // A verifier at home: curl with a certificate of home's CA.
        let nonce = "00112233445566778899aabbccddeeff"
        let verifier = [
            "--silent", "--show-error", "--fail", "--cacert", identity.authorityCertificate.string, "--cert",
            identity.senderCertificate.string, "--key", identity.senderKey.string,
        ]
        let url = "https://127.0.0.1:\(port)"
        try Command.run(
            "curl", verifier + ["--output", "\(root)/report.jwt", "\(url)/report?nonce=\(nonce)&stream=ee.keys"])
        let pcrs = measurements.sorted { $0.key < $1.key }.flatMap { ["--pcr", "\($0.key)=\(Hex.encode($0.value))"] }
        // The report holds the stream the sender's receipt covers, at its length and head.
        let verified = try saatkond(
            [
                "verify", "\(root)/report.jwt", "--public-key", "\(root)/keys-state/signing.pem", "--nonce", nonce,
                "--expect-receipt", "\(root)/input.receipt",
            ] + pcrs)
        #expect(verified.status == 0, "\(verified.errors) \(DevAppliance.read("\(root)/health.err"))")
        #expect(verified.output.hasPrefix("trusted: ee-test-lu-1, keys unsealed, measurements as expected"))
        #expect(verified.output.contains("expected streams held (1)"), "\(verified.output)")
        let replayed = try saatkond(
            ["verify", "\(root)/report.jwt", "--public-key", "\(root)/keys-state/signing.pem", "--nonce", "0011"]
                + pcrs)
        #expect(replayed.status == 1 && replayed.errors.contains("nonce"), "\(replayed.errors)")
        #expect((try? Command.run("curl", verifier + ["\(url)/report?nonce=zz"])) == nil)
        let metrics = try Command.run("curl", verifier + ["\(url)/metrics"])
        #expect(metrics.contains(#"saatkond_keys_state{state="unsealed"} 1"#), "\(metrics)")
        #expect(metrics.contains("saatkond_attestation_reports_total 1"), "\(metrics)")
        // Ingest's figures, from its metrics socket as the health user: the bytes sent above, three members.
        #expect(metrics.contains("saatkond_ingest_up 1"), "\(metrics)")
        let received = metrics.split(separator: "\n").first { $0.hasPrefix("saatkond_replication_bytes_total ") }
        #expect(
            received.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 3_000_000 } == true,
            "\(metrics)")
        #expect(metrics.contains("saatkond_storage_members_present 3"), "\(metrics)")
        #expect(!metrics.contains("stream="), "no label names a stream")

        // The health service carries reports; it has nothing signed or quoted on its own.
        for op in ["sign\",\"message\":\"00", "quote\",\"nonce\":\"00"] {
            let refused = try Self.healthUser.ask("{\"op\":\"\(op)\"}", socket: socket, scratch: root)
            #expect(refused.answer.contains("not allowed"), "\(refused.answer)")
        }

        // No certificate, or one of another CA: no TLS session, no report.
        #expect(
            (try? Command.run(
                "curl", ["--silent", "--fail", "--cacert", identity.authorityCertificate.string, "\(url)/metrics"]))
                == nil)
        let stranger = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(root)/stranger-identity"))
        #expect(
            (try? Command.run(
                "curl",
                [
                    "--silent", "--fail", "--cacert", identity.authorityCertificate.string, "--cert",
                    stranger.senderCertificate.string, "--key", stranger.senderKey.string, "\(url)/metrics",
                ])) == nil)

        // The keys service hangs: no report can be signed, so the health service stops petting and says why.
        keys.send(SIGSTOP)
        let failing = notify.receive(timeout: .seconds(5)) { $0.contains(text: "STATUS=") }
        #expect(
            failing.map { String(decoding: $0, as: UTF8.self) }?.contains("the keys service does not answer") == true)
        // Drain what was sent before the status, then no pet for more than the whole timeout.
        while notify.receive(timeout: .milliseconds(100), where: { _ in true }) != nil {}
        #expect(notify.receive(timeout: .milliseconds(1500)) { $0.contains(text: "WATCHDOG=1") } == nil)
        keys.send(SIGCONT)
        #expect(notify.receive(timeout: .seconds(5)) { $0.contains(text: "WATCHDOG=1") } != nil)

        // The dead man's switch: heartbeats every second reach home's watch; the health service stopped (SIGSTOP),
        // the watch alarms within two periods (and its metric says so); resumed, the alarm clears.
        func check() throws -> CommandResult {
            try saatkond(["watch", "--check", "--state", "\(root)/watch-state"])
        }
        var state = try check()
        for _ in 0..<100 where state.status != 0 {
            usleep(100_000)
            state = try check()
        }
        #expect(state.status == 0 && state.output.contains("lu1: ok"), "\(state.output) \(state.errors)")
        health.send(SIGSTOP)
        let stopped = ContinuousClock.now
        state = try check()
        while state.status == 0 && stopped.duration(to: .now) < .seconds(10) {
            usleep(100_000)
            state = try check()
        }
        #expect(state.status == 1 && state.errors.contains("lu1: silent"), "\(state.output) \(state.errors)")
        // Two periods of silence after the last heartbeat (sent at most a period before the stop), and the
        // watch's tick of a second.
        #expect(stopped.duration(to: .now) < .seconds(5))
        let watchMetrics = try Command.run(
            "curl", ["--silent", "--fail", "http://127.0.0.1:\(watch.metricsPort)/metrics"])
        #expect(watchMetrics.contains(#"saatkond_watch_alarm{appliance="lu1"} 1"#), "\(watchMetrics)")
        health.send(SIGCONT)
        for _ in 0..<100 where state.status != 0 {
            usleep(100_000)
            state = try check()
        }
        #expect(state.status == 0, "\(state.output) \(state.errors)")
        #expect(DevAppliance.read("\(root)/watch.err").contains("ALARM"))
        #expect(DevAppliance.read("\(root)/watch.err").contains("alarm cleared"))
        health.send(SIGTERM)
        #expect(health.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
        watch.process.send(SIGTERM)
        #expect(watch.process.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
    }

    /// Home's `saatkond watch`, as an ordinary user, expecting heartbeats from lu1 (this appliance) every second.
    func startWatch(root: String, executable: String) throws -> (process: ChildProcess, port: Int, metricsPort: Int) {
        let port = try LoopbackPort.free()
        let metricsPort = try LoopbackPort.free()
        try FileManager.default.createDirectory(atPath: "\(root)/watch-state", withIntermediateDirectories: false)
        try Self.watchUser.own("\(root)/watch-state")
        try """
        listen = 127.0.0.1:\(port)
        certificate = \(root)/identity/appliance.pem
        private-key = \(root)/identity/appliance-key.pem
        appliance-ca = \(root)/identity/development-ca.pem
        state = \(root)/watch-state
        metrics-listen = 127.0.0.1:\(metricsPort)
        appliance = lu1 \(root)/home/lu1-signing.pem 1
        """.write(toFile: "\(root)/watch.conf", atomically: true, encoding: .utf8)
        _ = try Command.run("chmod", ["0644", "\(root)/watch.conf"])
        // Home keeps the appliance's attestation public key from its provisioning.
        _ = try Command.run(
            "install", ["-m", "0644", "\(root)/keys-state/signing.pem", "\(root)/home/lu1-signing.pem"])
        let (command, arguments) = Self.watchUser.command(executable, ["watch", "--config", "\(root)/watch.conf"])
        let process = try ChildProcess(
            executable: command, arguments: arguments, output: "\(root)/watch.out", errors: "\(root)/watch.err")
        try LoopbackPort.waitUntilListening(port, process: process)
        return (process, port, metricsPort)
    }
}
