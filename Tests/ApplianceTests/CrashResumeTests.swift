import Foundation
import TestSupport
import Testing

/// Senders and the appliance killed with SIGKILL mid-stream, again and again: nothing acknowledged is lost, and the
/// stream that comes back is byte for byte the input.
@Suite("Resume after SIGKILL", .enabled(if: SaatkondExecutable.exists))
struct CrashResumeTests {
    static let inputBytes = 40 << 20

    @Test("the sender killed 20 times at random moments, then run again with --resume: the stream is the input")
    func senderKilled() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-sender-kill")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: Self.inputBytes)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        func send(_ stream: String) -> [String] {
            [
                "send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", stream, "--resume",
                input,
            ]
        }
        // Each kill must land mid-stream; a sender that finished first completed its stream, and the next run
        // starts a new one, so a fast machine still sees 20 kills mid-stream.
        var generator = SystemRandomNumberGenerator()
        var streams = ["ee.wal.resume.0"]
        var kills = 0
        while kills < 20 {
            let sender = try ChildProcess(
                executable: SaatkondExecutable.path, arguments: send(streams.last!),
                output: "\(scratch.path)/sender.out", errors: "\(scratch.path)/sender.err")
            usleep(UInt32.random(in: 30_000...300_000, using: &generator))
            if sender.exited() == nil {
                sender.send(SIGKILL)
                _ = sender.waitForExit(timeout: 10)
                kills += 1
            } else {
                let status = sender.waitForExit(timeout: 10).map(exitCode(fromWaitStatus:))
                #expect(status == 0, "\(DevAppliance.read("\(scratch.path)/sender.err"))")
                streams.append("ee.wal.resume.\(streams.count)")
            }
        }
        let final = try runSaatkond(send(streams.last!), scratch: scratch.path)
        #expect(final.status == 0, "\(final.errors)")
        for stream in streams {
            let output = "\(scratch.path)/\(stream).out"
            let restored = try runSaatkond(
                [
                    "restore", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", stream,
                    "--output", output,
                ],
                scratch: scratch.path)
            #expect(restored.status == 0, "\(restored.errors)")
            #expect(sameBytes(input, output), "\(stream) differs from the input")
            try? FileManager.default.removeItem(atPath: output)
        }
    }

    @Test("the appliance killed 20 times mid-stream and restarted: the sender resumes by itself, nothing is lost")
    func applianceKilled() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-receiver-kill")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: Self.inputBytes)
        var appliance = try DevAppliance(state: state, logs: scratch.path)
        let port = appliance.port
        defer { _ = appliance.stop() }

        // The sender reads a pipe that this test feeds slowly, so the kills land while it is mid-stream.
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        // Close-on-exec, so no other child of this test process holds the pipe open and keeps the end of the input
        // from reaching the sender; ChildProcess duplicates the read end onto the sender's standard input.
        _ = fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC)
        let writeEnd = pipeEnds[1]
        let sender = try ChildProcess(
            executable: SaatkondExecutable.path,
            arguments: [
                "send", "--state", state, "--connect", "127.0.0.1:\(port)", "--stream", "ee.wal.receiver", "-",
            ],
            output: "\(scratch.path)/sender.out", errors: "\(scratch.path)/sender.err", standardInput: pipeEnds[0])
        close(pipeEnds[0])
        defer { sender.terminate() }
        let feeder = Thread {
            let handle = FileHandle(fileDescriptor: writeEnd, closeOnDealloc: true)
            let source = FileHandle(forReadingAtPath: input)!
            while let chunk = try? source.read(upToCount: 1 << 20), !chunk.isEmpty {
                try? handle.write(contentsOf: chunk)
                Thread.sleep(forTimeInterval: 0.12)
            }
            try? handle.close()
        }
        feeder.start()

        var generator = SystemRandomNumberGenerator()
        var killedMidStream = 0
        for _ in 0..<20 {
            usleep(UInt32.random(in: 50_000...250_000, using: &generator))
            if sender.exited() == nil { killedMidStream += 1 }
            appliance.kill9()
            appliance = try DevAppliance(state: state, logs: scratch.path, port: port)
        }
        let status = sender.waitForExit(timeout: 180).map(exitCode(fromWaitStatus:))
        #expect(status == 0, "\(DevAppliance.read("\(scratch.path)/sender.err"))")
        #expect(killedMidStream == 20, "the send finished after \(killedMidStream) kills")
        let output = "\(scratch.path)/output.bin"
        let restored = try runSaatkond(
            [
                "restore", "--state", state, "--connect", "127.0.0.1:\(port)", "--stream", "ee.wal.receiver",
                "--output",
                output,
            ],
            scratch: scratch.path)
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(sameBytes(input, output))
    }
}
