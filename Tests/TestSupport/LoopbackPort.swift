import Foundation

/// Free TCP ports on 127.0.0.1, found by letting the kernel pick, and a wait until a server listens.
public enum LoopbackPort {
    /// How a wait for a starting server ended.
    public enum Readiness {
        case listening
        case exited(status: Int32)
        case timedOut
    }

    /// A port P such that P and P + 1 are both free right now (swtpm needs two consecutive ports).
    public static func freePair() throws -> Int {
        for _ in 1...50 {
            let first = try bound(port: 0)
            defer { close(first.socket) }
            guard first.port < 65535, let second = try? bound(port: first.port + 1) else { continue }
            close(second.socket)
            return first.port
        }
        throw TestSupportError("found no two consecutive free TCP ports on 127.0.0.1 in 50 tries")
    }

    /// A port with nothing listening on it, for tests of unreachable TPMs. It could be taken again by
    /// the time it is used, but then by a non-TPM, which fails the same way.
    public static func unused() throws -> Int {
        let probe = try bound(port: 0)
        close(probe.socket)
        return probe.port
    }

    /// Polls until every port in `ports` accepts a connection, `process` exits, or `timeout` seconds pass.
    public static func waitUntilListening(ports: [Int], process: ChildProcess, timeout: Double) -> Readiness {
        let steps = Int(timeout / 0.02)
        for _ in 0..<steps {
            if let status = process.exited() { return .exited(status: status) }
            if ports.allSatisfy(accepts) { return .listening }
            usleep(20_000)
        }
        return .timedOut
    }

    /// A port that was free a moment ago, for a test's own server.
    public static func free() throws -> Int {
        try unused()
    }

    /// Waits until `port` accepts connections; throws when `process` exits first or 30 s pass.
    public static func waitUntilListening(_ port: Int, process: ChildProcess) throws {
        switch waitUntilListening(ports: [port], process: process, timeout: 30) {
        case .listening: return
        case .exited(let status): throw TestSupportError("the server exited with status \(status)")
        case .timedOut: throw TestSupportError("nothing listens on 127.0.0.1:\(port) after 30 s")
        }
    }

    private static func accepts(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    private static func bound(port: Int) throws -> (socket: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket failed: errno \(errno)") }
        var address = loopback(port: port)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 ? getsockname(descriptor, $0, &length) : -1
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw TestSupportError("bind to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
