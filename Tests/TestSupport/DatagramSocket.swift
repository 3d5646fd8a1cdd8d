import Foundation

/// An AF_UNIX datagram socket bound to a file path: the receiving end of sd_notify or of the journal protocol.
///
/// Call ``remove()`` in a `defer`: it closes the socket and deletes its file.
public final class DatagramSocket {
    public struct SocketError: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    private var descriptor: Int32

    public init(path: String) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        // Leave room for the terminating NUL that the zero-initialised address already holds.
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SocketError(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }

        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw SocketError(description: "socket: \(String(cString: strerror(errno)))")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw SocketError(description: "bind \(path): \(reason)")
        }
        self.path = path
        self.descriptor = descriptor
    }

    /// Closes the socket and deletes its file; safe to call twice.
    public func remove() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(path)
    }

    deinit {
        remove()
    }

    /// Receives datagrams until one satisfies `isMine` or `timeout` passes; other datagrams (from code running
    /// in parallel that uses the same socket path) are skipped.
    public func receive(timeout: Duration, where isMine: ([UInt8]) -> Bool) -> [UInt8]? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while ContinuousClock.now < deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            let milliseconds = Int32(clamping: Int64((remaining / .milliseconds(1)).rounded(.up)))
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, milliseconds) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let datagram = Array(buffer[0..<count])
            if isMine(datagram) { return datagram }
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    /// Whether the bytes contain `text` encoded as UTF-8.
    public func contains(text: String) -> Bool {
        let needle = Array(text.utf8)
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
