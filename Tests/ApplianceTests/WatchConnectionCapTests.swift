import CryptoPrimitives
import DevelopmentIdentity
import Foundation
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The watch's port (and the health port, the same configuration) holds at most 64 connections: a flood of idle ones
/// leaves a 65th waiting in the kernel's backlog, without an answer, until one of them closes.
@Suite("Watch connection cap", .enabled(if: SaatkondExecutable.exists))
struct WatchConnectionCapTests {
    @Test("64 idle connections hold the port; the 65th is served once one of them closes")
    func capHoldsAndReleases() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-watch-cap")
        defer { scratch.remove() }
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/identity"))
        try P256PrivateKey().publicKey.pemRepresentation.write(
            toFile: "\(scratch.path)/lu1.pem", atomically: true, encoding: .utf8)
        let port = try LoopbackPort.free()
        try """
        listen = 127.0.0.1:\(port)
        certificate = \(identity.applianceCertificate)
        private-key = \(identity.applianceKey)
        appliance-ca = \(identity.authorityCertificate)
        state = \(scratch.path)/watch-state
        appliance = lu1 \(scratch.path)/lu1.pem 30
        """.write(toFile: "\(scratch.path)/watch.conf", atomically: true, encoding: .utf8)
        let watch = try ChildProcess(
            executable: SaatkondExecutable.path, arguments: ["watch", "--config", "\(scratch.path)/watch.conf"],
            output: "\(scratch.path)/watch.out", errors: "\(scratch.path)/watch.err")
        defer { watch.terminate() }
        try LoopbackPort.waitUntilListening(port, process: watch)

        var idle: [Int32] = []
        defer { for descriptor in idle { close(descriptor) } }
        for _ in 0..<64 { idle.append(try Self.connect(port)) }
        usleep(300_000)
        let curl = [
            "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--cacert",
            identity.authorityCertificate.string, "--cert", identity.senderCertificate.string, "--key",
            identity.senderKey.string, "--data", "x", "https://127.0.0.1:\(port)/heartbeat",
        ]
        let waited = #expect(throws: Command.Failure.self) {
            try Command.run("curl", ["--max-time", "3"] + curl)
        }
        #expect(waited != nil, "the 65th connection was served while 64 were open")
        close(idle.removeLast())
        // A heartbeat that is not one is refused with 400: what matters is that the request is served now.
        #expect(try Command.run("curl", ["--max-time", "10"] + curl) == "400")
    }

    /// A plain TCP connection to the port, left idle.
    static func connect(_ port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw TestSupportError("cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }
}
