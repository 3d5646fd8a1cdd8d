#if canImport(Glibc)
    import Glibc
#endif

/// The socket's file: a stale one replaced, a live one left alone, its mode and group set, removed at the end.
enum SocketFile {
    /// Removes a socket file at `path` that no server listens on (a crash left it); throws when a server answers on
    /// it, or when the path holds anything but a socket.
    static func clearStale(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw LocalControlError("cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw LocalControlError("\(path) exists and is not a socket; it is left alone")
        }
        if let connection = try? UnixConnection(path: path, timeout: .seconds(1)) {
            connection.close()
            throw LocalControlError("another server answers on \(path); stop it first")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw LocalControlError("cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Sets the socket file's group and mode. Between `bind` (which creates the file with the process's umask) and
    /// this, the file has the umask's mode: the services run with UMask=0077, so it is then narrower, never wider.
    static func setPermissions(of path: String, mode: mode_t, group: gid_t?) throws {
        if let group, chown(path, uid_t.max, group) != 0 {
            throw LocalControlError("cannot give \(path) to group \(group): \(String(cString: strerror(errno)))")
        }
        guard chmod(path, mode) == 0 else {
            throw LocalControlError("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func remove(_ path: String) {
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
    }
}

/// Why a local control server could not start, or a client got no answer.
public struct LocalControlError: Error, CustomStringConvertible, Sendable {
    /// What happened and what to do.
    public let description: String
    /// Whether the service answered, and refused the request (`"refused": true`): the caller may not ask that op.
    public let refused: Bool

    init(_ description: String, refused: Bool = false) {
        self.description = description
        self.refused = refused
    }
}
