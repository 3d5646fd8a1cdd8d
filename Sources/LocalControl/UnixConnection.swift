import CryptoPrimitives

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking connection to a Unix stream socket with one deadline for everything done on it: what the console and
/// the command line need for one request, without an event loop.
struct UnixConnection {
    private let descriptor: Int32
    private let deadline: ContinuousClock.Instant

    /// Connects to `path`; throws a clear error when the socket is absent, refuses, or is not ours to use.
    init(path: String, timeout: Duration) throws {
        deadline = .now + timeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw LocalControlError("\(path.debugDescription) is not a socket path (at most \(capacity - 1) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: bytes)
            sunPath[bytes.count] = 0
        }
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw LocalControlError("cannot make a socket: \(String(cString: strerror(errno)))")
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let error = errno
            Glibc.close(descriptor)
            switch error {
            case ENOENT:
                throw LocalControlError("\(path) does not exist: the service is not running")
            case ECONNREFUSED:
                throw LocalControlError("nothing listens on \(path): the service is not running")
            case EACCES, EPERM:
                throw LocalControlError("not allowed to connect to \(path): this user is not in the socket's group")
            default:
                throw LocalControlError("cannot connect to \(path): \(String(cString: strerror(error)))")
            }
        }
    }

    func close() {
        Glibc.close(descriptor)
    }

    /// Sends all of `bytes`, then shuts down the writing side unless `shutdown` is false.
    func send(_ bytes: [UInt8], shutdown shuttingDown: Bool = true) throws {
        var done = 0
        while done < bytes.count {
            try waitUntil(POLLOUT)
            let count = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw LocalControlError("the service closed the connection: \(String(cString: strerror(errno)))")
            }
            done += count
        }
        if shuttingDown { shutdown(descriptor, Int32(SHUT_WR)) }
    }

    /// Reads up to the first newline (returned without it), or to the end; at most `maximum` bytes.
    func receiveLine(maximum: Int) throws -> [UInt8] {
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            try waitUntil(POLLIN)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw LocalControlError("reading the answer failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return line }
            if let newline = buffer[..<count].firstIndex(of: UInt8(ascii: "\n")) {
                line.append(contentsOf: buffer[..<newline])
                return line
            }
            line.append(contentsOf: buffer[..<count])
            guard line.count <= maximum else {
                throw LocalControlError("the answer is longer than \(maximum) bytes")
            }
        }
    }

    /// Reads up to and including the first newline and not a byte further (returned without the newline), so that
    /// what follows it stays in the socket for ``receive(exactly:)``; at most `maximum` bytes. The peek sees the
    /// secret that follows the line too, so its buffer is zeroed before it is freed.
    func receiveLineOnly(maximum: Int) throws -> [UInt8] {
        var line: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            buffer.deallocate()
        }
        while true {
            try waitUntil(POLLIN)
            let peeked = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_PEEK))
            if peeked < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw LocalControlError("reading the answer failed: \(String(cString: strerror(errno)))")
            }
            if peeked == 0 { return line }
            let take = buffer[..<peeked].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? peeked
            let count = recv(descriptor, buffer.baseAddress, take, 0)
            guard count == take else { throw LocalControlError("reading the answer failed: the socket changed") }
            if buffer[take - 1] == UInt8(ascii: "\n") {
                line.append(contentsOf: buffer[..<(take - 1)])
                return line
            }
            line.append(contentsOf: buffer[..<take])
            guard line.count <= maximum else { throw LocalControlError("the answer is longer than \(maximum) bytes") }
        }
    }

    /// Fills `destination` from the socket; throws when the peer closes first.
    func receive(exactly destination: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < destination.count {
            try waitUntil(POLLIN)
            let count = recv(descriptor, destination.baseAddress! + done, destination.count - done, 0)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw LocalControlError("reading the answer failed: \(String(cString: strerror(errno)))")
            }
            guard count > 0 else { throw LocalControlError("the service closed before the whole answer came") }
            done += count
        }
    }

    private func waitUntil(_ event: Int32) throws {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw LocalControlError("no answer in time") }
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            var entry = pollfd(fd: descriptor, events: Int16(event), revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: max(1, milliseconds)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw LocalControlError("waiting for the service failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// The blocking client of a local control socket, for the console and the command line: one request, one answer.
public enum LocalControlClient {
    /// The longest answer read: far more than any state a service reports.
    public static let maximumResponseBytes = 16 << 20

    /// Sends `{"op": op, ...body}` to the server at `path` and returns its answer. Throws a clear error when the socket
    /// is absent, nothing listens, this user may not connect, no answer comes within `timeout`, or the answer is not a
    /// JSON object; an answer with `"refused": true` is thrown too, with the service's reason.
    public static func request(
        path: String, op: String, body: [String: JSONValue], timeout: Duration
    ) throws -> [String: JSONValue] {
        var object = body
        object["op"] = .string(op)
        let connection = try UnixConnection(path: path, timeout: timeout)
        defer { connection.close() }
        try connection.send(JSONLine.encode(object))
        let line = try connection.receiveLine(maximum: maximumResponseBytes)
        guard !line.isEmpty else { throw LocalControlError("the service at \(path) closed without an answer") }
        guard let response = JSONLine.decode(line) else {
            throw LocalControlError("the service at \(path) answered something that is not a JSON object")
        }
        if response["refused"] == .bool(true) {
            throw LocalControlError(
                "refused by the service at \(path): \(response["error"]?.stringValue ?? "")", refused: true)
        }
        return response
    }

    /// Like ``request(path:op:body:timeout:)``, for an answer that carries a secret after its line
    /// (``LocalReply``): the secret is read from the socket straight into `SecretBytes`, never into an array.
    public static func requestSecret(
        path: String, op: String, body: [String: JSONValue], timeout: Duration
    ) throws -> (fields: [String: JSONValue], secret: SecretBytes?) {
        var object = body
        object["op"] = .string(op)
        let connection = try UnixConnection(path: path, timeout: timeout)
        defer { connection.close() }
        try connection.send(JSONLine.encode(object))
        let line = try connection.receiveLineOnly(maximum: 64 * 1024)
        guard !line.isEmpty else { throw LocalControlError("the service at \(path) closed without an answer") }
        guard let response = JSONLine.decode(line) else {
            throw LocalControlError("the service at \(path) answered something that is not a JSON object")
        }
        if response["refused"] == .bool(true) {
            throw LocalControlError(
                "refused by the service at \(path): \(response["error"]?.stringValue ?? "")", refused: true)
        }
        guard let count = response["secret-bytes"]?.integerValue else { return (response, nil) }
        guard (1...4096).contains(count) else {
            throw LocalControlError("the service at \(path) announced a secret of \(count) bytes")
        }
        let secret = try SecretBytes(count: Int(count)) { try connection.receive(exactly: $0) }
        return (response, secret)
    }
}
