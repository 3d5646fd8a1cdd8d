import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Faults that tests inject into ``FileSystemCalls``: an error from a write, a flush or a read, or writes that the
/// kernel accepts only in part. A loop device can be made full or failing as a whole (the root-only tests do that);
/// these reach one member, one kind of call, from the first call on or after a number of them, and run without
/// privileges.
///
/// Compiled only into debug builds (what `swift test` builds): a release binary has no switch that makes its
/// storage fail. Faults match on the path of the file a call works on, so tests that run at the same time in one
/// process do not meet each other's faults: each matches a directory only it uses.
public enum InjectedFaults {
    /// The calls a fault can reach.
    public enum Call: Sendable, Hashable {
        /// `pwrite`/`writev` of file contents.
        case write
        /// `fdatasync`/`fsync` of a file or a directory.
        case flush
        /// `read`/`pread` of a file (labels, journals, shards, a rebuild's blocks, a sender's input).
        case read
        /// `open` of a file.
        case open
    }

    /// What an affected call does instead of its work.
    public enum Fault: Sendable, Hashable {
        /// Fails with `error` (`.ioError` for EIO, `.noSpace` for ENOSPC).
        case error(Errno)
        /// Writes at most `bytes` of what it was asked to, and returns that count, as the kernel may. Files written
        /// with direct I/O need a multiple of 4 KiB.
        case shortWrite(bytes: Int)
    }

    #if DEBUG
        private struct Rule {
            var id: Int
            var call: Call
            var pathPrefix: String
            var fault: Fault
            var skip: Int
            var hits = 0
        }

        private static let rules = Mutex<(next: Int, rules: [Rule])>((0, []))
        /// Checked before anything else, so that a call with no fault anywhere costs one atomic load.
        private static let active = Atomic<Int>(0)

        /// Makes every `call` on a file under `pathPrefix` fail as `fault` says, after the first `after` such calls
        /// went through, until the returned rule is removed.
        public static func inject(_ fault: Fault, into call: Call, under pathPrefix: String, after: Int = 0) -> Int {
            let id = rules.withLock { state in
                state.next += 1
                state.rules.append(Rule(id: state.next, call: call, pathPrefix: pathPrefix, fault: fault, skip: after))
                return state.next
            }
            active.add(1, ordering: .sequentiallyConsistent)
            return id
        }

        /// How many calls the fault `id` has reached so far: a test that injected a fault nobody met proves nothing.
        public static func hits(_ id: Int) -> Int {
            rules.withLock { state in state.rules.first { $0.id == id }?.hits ?? 0 }
        }

        /// Ends the fault `inject` returned.
        public static func remove(_ id: Int) {
            let removed = rules.withLock { state in
                let before = state.rules.count
                state.rules.removeAll { $0.id == id }
                return before - state.rules.count
            }
            if removed > 0 { active.subtract(removed, ordering: .sequentiallyConsistent) }
        }

        /// The fault that `call` on `descriptor` meets, if any.
        static func fault(_ call: Call, on descriptor: FileDescriptor) -> Fault? {
            guard active.load(ordering: .relaxed) > 0 else { return nil }
            guard let path = path(of: descriptor) else { return nil }
            return fault(call, atPath: path)
        }

        /// The fault that `call` on the file at `path` meets, if any.
        static func fault(_ call: Call, atPath path: String) -> Fault? {
            guard active.load(ordering: .relaxed) > 0 else { return nil }
            return rules.withLock { state in
                guard let index = state.rules.firstIndex(where: { $0.call == call && path.hasPrefix($0.pathPrefix) })
                else { return nil }
                if state.rules[index].skip > 0 {
                    state.rules[index].skip -= 1
                    return nil
                }
                state.rules[index].hits += 1
                return state.rules[index].fault
            }
        }

        private static func path(of descriptor: FileDescriptor) -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    readlink("/proc/self/fd/\(descriptor.rawValue)", $0.baseAddress!, $0.count)
                }
            }
            guard count > 0 else { return nil }
            return String(decoding: buffer[..<count], as: UTF8.self)
        }
    #else
        @inline(__always)
        static func fault(_ call: Call, on descriptor: FileDescriptor) -> Fault? { nil }

        @inline(__always)
        static func fault(_ call: Call, atPath path: String) -> Fault? { nil }
    #endif
}
