import Foundation
import NIOCore
import NIOPosix
import PropertyBased
import Synchronization
import TestSupport
import Testing

@testable import LocalControl

/// The local control socket for real: a server on a socket in a scratch directory, clients that connect to it as
/// root, as an unprivileged user (through setpriv, with socat), and as misbehaving programs.
@Suite("Local control socket", .serialized)
struct LocalControlTests {
    /// A running server, its scratch directory and what it saw; stopped by `finish()`.
    final class Harness: Sendable {
        let scratch: ScratchDirectory
        let path: String
        let server: LocalControlServer
        let group: MultiThreadedEventLoopGroup
        /// The requests the server refused, as its `onRefusal` reported them.
        let box: RefusalBox

        init(
            access: LocalAccess = LocalAccess(rules: ["status": [64_201], "adopt": []]), mode: mode_t = 0o660,
            socketGroup: gid_t? = nil, maximumConnections: Int = 16, requestTimeout: TimeAmount = .seconds(10),
            answer: [String: JSONValue]? = nil
        ) async throws {
            scratch = try ScratchDirectory(prefix: "saatkond-control")
            path = "\(scratch.path)/disks.sock"
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let box = RefusalBox()
            self.box = box
            server = LocalControlServer(
                path: path, mode: mode, group: socketGroup, access: access, group: group,
                maximumConnections: maximumConnections, requestTimeout: requestTimeout,
                onRefusal: { box.record($0) }
            ) { request in
                answer ?? [
                    "ok": true, "op": .string(request.op), "uid": .integer(Int64(request.peer.uid)),
                    "pid": .integer(Int64(request.peer.pid)), "body": .object(request.body),
                ]
            }
            try await server.start()
        }

        func finish() async throws {
            try await server.stop()
            try await group.shutdownGracefully()
            scratch.remove()
        }
    }

    final class RefusalBox: Sendable {
        private let requests = Mutex<[LocalRequest]>([])
        func record(_ request: LocalRequest) { requests.withLock { $0.append(request) } }
        var all: [LocalRequest] { requests.withLock { $0 } }
    }

    /// Sends raw bytes on a new connection, shuts down writing, and returns the answer line.
    static func exchange(_ path: String, _ bytes: [UInt8], shutdown: Bool = true) throws -> [UInt8] {
        let connection = try UnixConnection(path: path, timeout: .seconds(10))
        defer { connection.close() }
        try connection.send(bytes, shutdown: shutdown)
        return try connection.receiveLine(maximum: 1 << 20)
    }

    static func answer(_ path: String, _ text: String) throws -> [String: JSONValue] {
        let line = try exchange(path, Array(text.utf8))
        guard let object = JSONLine.decode(line) else {
            throw TestSupportError("not a JSON object: \(String(decoding: line, as: UTF8.self))")
        }
        return object
    }

    @Test("root is served, with its own pid and uid from SO_PEERCRED; the body comes through")
    func rootServed() async throws {
        let harness = try await Harness()
        let response = try LocalControlClient.request(
            path: harness.path, op: "adopt", body: ["bay": 3, "label": "a\"b\nc"], timeout: .seconds(10))
        #expect(response["ok"] == true)
        #expect(response["uid"] == .integer(0))
        #expect(response["pid"] == .integer(Int64(getpid())))
        #expect(response["body"] == ["bay": 3, "label": "a\"b\nc"])
        try await harness.finish()
    }

    @Test(
        "an unprivileged user is served for an op it may ask, refused for one it may not, and logged",
        .enabled(if: UnprivilegedUser.canSwitch && Command.locate("socat") != nil, "needs root, setpriv and socat"))
    func unprivilegedUser() async throws {
        let user = UnprivilegedUser(id: 64_201)
        let harness = try await Harness(socketGroup: user.group)
        func ask(_ request: String, as user: UnprivilegedUser) throws -> (String, Int32?) {
            try user.ask(request, socket: harness.path, scratch: harness.scratch.path)
        }
        let (served, servedStatus) = try ask(#"{"op":"status"}"#, as: user)
        #expect(servedStatus.map(exitCode(fromWaitStatus:)) == 0, "\(served)")
        let servedObject = JSONLine.decode(Array(served.utf8.prefix { $0 != UInt8(ascii: "\n") }))
        #expect(servedObject?["ok"] == true, "\(served)")
        #expect(servedObject?["uid"] == .integer(64_201))

        let (refused, _) = try ask(#"{"op":"adopt","bay":3}"#, as: user)
        let refusedObject = JSONLine.decode(Array(refused.utf8.prefix { $0 != UInt8(ascii: "\n") }))
        #expect(refusedObject?["refused"] == true, "\(refused)")
        #expect(refusedObject?["error"] == #"op "adopt" is not allowed for uid 64201"#)
        #expect(harness.box.all.map(\.op) == ["adopt"])
        #expect(harness.box.all.first?.peer.uid == 64_201)
        #expect(harness.box.all.first?.body == ["bay": 3])

        // A user outside the socket's group cannot even connect: the file's mode keeps it out.
        let (outsider, outsiderStatus) = try ask(#"{"op":"status"}"#, as: UnprivilegedUser(id: 64_202))
        #expect(outsiderStatus.map(exitCode(fromWaitStatus:)) != 0, "\(outsider)")
        #expect(outsider.contains("Permission denied"), "\(outsider)")
        try await harness.finish()
    }

    @Test("oversized, malformed, op-less and unknown requests get an error, and the connection closes")
    func badRequests() async throws {
        let harness = try await Harness()
        let path = harness.path
        let long = try Self.exchange(path, [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024 + 1), shutdown: false)
        #expect(String(decoding: long, as: UTF8.self) == #"{"error":"request longer than 65536 bytes"}"#)
        let padded = #"{"op":"status","pad":""# + String(repeating: "p", count: 64 * 1024 - 24) + "\"}"
        #expect(padded.utf8.count == 64 * 1024)
        #expect(try Self.answer(path, padded)["ok"] == true, "exactly 64 KiB is still a request")
        #expect(try Self.answer(path, "{\"op\":")["error"] == "malformed request: not one JSON object on one line")
        #expect(try Self.answer(path, "[1,2]\n")["error"] == "malformed request: not one JSON object on one line")
        #expect(try Self.answer(path, #"{"op":7}"#)["error"] == #"malformed request: no "op" string"#)
        let deep = String(repeating: "[", count: 60_000)
        #expect(try Self.answer(path, deep)["error"] == "malformed request: not one JSON object on one line")
        #expect(try Self.answer(path, #"{"op":"format-all-disks"}"#)["error"] == #"unknown op "format-all-disks""#)
        // One request per connection: a second line is never answered, and the server closes after the first.
        let twice = try Self.exchange(path, Array("{\"op\":\"status\"}\n{\"op\":\"adopt\"}\n".utf8))
        #expect(JSONLine.decode(twice)?["op"] == "status")
        try await harness.finish()
    }

    @Test("a client that sends nothing is answered with an error and closed at the request timeout")
    func idleClient() async throws {
        let harness = try await Harness(requestTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        let line = try Self.exchange(harness.path, Array(#"{"op":"sta"#.utf8), shutdown: false)
        #expect(String(decoding: line, as: UTF8.self) == #"{"error":"no complete request within 300 ms"}"#)
        #expect(ContinuousClock.now - start < .seconds(5))
        try await harness.finish()
    }

    @Test("beyond the connection bound a client is told the server is busy; once one closes, the next is served")
    func connectionBound() async throws {
        let harness = try await Harness(maximumConnections: 4)
        var held: [UnixConnection] = []
        for _ in 0..<4 { held.append(try UnixConnection(path: harness.path, timeout: .seconds(10))) }
        // The server counts a connection when it accepts it; wait until all four are counted.
        let deadline = ContinuousClock.now + .seconds(5)
        while harness.server.activeConnections < 4, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(harness.server.activeConnections == 4)
        let busy = try Self.answer(harness.path, #"{"op":"status"}"#)
        #expect(busy["busy"] == true)
        #expect(busy["error"] == "too many connections (at most 4); try again")
        held.removeFirst().close()
        while harness.server.activeConnections > 3, ContinuousClock.now < deadline + .seconds(5) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try Self.answer(harness.path, #"{"op":"status"}"#)["ok"] == true)
        for connection in held { connection.close() }
        try await harness.finish()
    }

    @Test("the socket file gets its mode and group; a stale file is replaced, a live one or a non-socket is not")
    func socketFile() async throws {
        let harness = try await Harness(mode: 0o660, socketGroup: 64_203)
        var status = stat()
        #expect(lstat(harness.path, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o777 == 0o660)
        #expect(status.st_gid == 64_203)

        // A second server on the same path while the first answers: refused, and the first keeps its socket.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let second = LocalControlServer(
            path: harness.path, mode: 0o600, group: nil, access: LocalAccess(rules: ["status": []]), group: group
        ) { _ in ["second": true] }
        await #expect(throws: LocalControlError.self) { try await second.start() }
        #expect(try Self.answer(harness.path, #"{"op":"status"}"#)["ok"] == true)

        // The first stops: its file goes. A stale socket file (left by a crash) is replaced on the next start.
        try await harness.server.stop()
        #expect(!FileManager.default.fileExists(atPath: harness.path))
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(harness.path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        close(stale)
        #expect(FileManager.default.fileExists(atPath: harness.path))
        try await second.start()
        #expect(try Self.answer(harness.path, #"{"op":"status"}"#)["second"] == true)
        try await second.stop()

        // Something other than a socket at the path is never removed.
        try "precious".write(toFile: harness.path, atomically: false, encoding: .utf8)
        await #expect(throws: LocalControlError.self) { try await second.start() }
        #expect(try String(contentsOfFile: harness.path, encoding: .utf8) == "precious")
        try await group.shutdownGracefully()
        try await harness.finish()
    }

    @Test("the client says clearly when the socket is absent, nothing listens, or the service refuses")
    func clientErrors() async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-control")
        defer { scratch.remove() }
        do {
            _ = try LocalControlClient.request(
                path: "\(scratch.path)/absent.sock", op: "status", body: [:], timeout: .seconds(2))
            Issue.record("an absent socket answered")
        } catch {
            #expect("\(error)".contains("does not exist: the service is not running"))
        }
        let harness = try await Harness(access: LocalAccess(rules: ["status": []]))
        let response = try LocalControlClient.request(path: harness.path, op: "status", body: [:], timeout: .seconds(2))
        #expect(response["ok"] == true, "root is always allowed")
        // An error answer is the caller's to read; only a refusal is thrown.
        let unknown = try LocalControlClient.request(path: harness.path, op: "reboot", body: [:], timeout: .seconds(2))
        #expect(unknown == ["error": #"unknown op "reboot""#])
        try await harness.finish()

        let refusing = try await Harness(
            access: LocalAccess(rules: ["status": []]),
            answer: [
                "error": "op \"status\" is not allowed for uid 0", "refused": true,
            ])
        do {
            _ = try LocalControlClient.request(path: refusing.path, op: "status", body: [:], timeout: .seconds(2))
            Issue.record("a refusal was returned as an answer")
        } catch let error as LocalControlError {
            #expect(error.refused)
            #expect(error.description.hasSuffix(#": op "status" is not allowed for uid 0"#))
        }
        try await refusing.finish()
    }

    @Test("arbitrary request bytes always get one JSON object back, and the server keeps serving")
    func arbitraryRequests() async throws {
        let harness = try await Harness()
        let path = harness.path
        let pieces = [
            #"{"op":"status"}"#, #"{"op":"adopt"}"#, "{", "}", "[", "\"", "\\", "\n", "\u{0}", "op", ":", ",",
            "1e999", "null", "é", "\u{ff}", "   ", #"{"op":"status","x":[[[[[[["#,
        ]
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...8)) { choices in
            var bytes: [UInt8] = []
            for choice in choices {
                if choice % 4 == 0 {
                    bytes.append(choice)
                } else {
                    bytes.append(contentsOf: pieces[Int(choice) % pieces.count].utf8)
                }
            }
            do {
                let line = try Self.exchange(path, bytes)
                if bytes.isEmpty {
                    #expect(line.isEmpty, "nothing asked, nothing answered")
                    return
                }
                let object = JSONLine.decode(line)
                #expect(object != nil, "\(bytes) got \(String(decoding: line, as: UTF8.self))")
                #expect(object?["ok"] == true || object?["error"] != nil)
            } catch {
                Issue.record("\(bytes): \(error)")
            }
        }
        #expect(try Self.answer(path, #"{"op":"status"}"#)["ok"] == true)
        try await harness.finish()
    }
}
