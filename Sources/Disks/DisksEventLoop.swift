import CLinuxCalls
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The disks service's one event loop: a thread blocked in epoll_wait on the udev monitor's descriptor and on an
/// eventfd that wakes it for work posted from other threads (socket requests, finished formats and rebuilds).
/// Everything that touches the lifecycle runs here, one thing at a time; nothing polls.
final class DisksEventLoop: Sendable {
    private let epoll: Int32
    private let wakeup: Int32
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let watched = Mutex<[Int32: @Sendable () -> Void]>([:])
    private let finished = Mutex<Bool>(false)

    init() throws {
        epoll = saatkond_epoll_create()
        guard epoll >= 0 else { throw ExternalTool.Failure(description: "epoll_create1 failed: errno \(errno)") }
        wakeup = saatkond_eventfd()
        guard wakeup >= 0 else {
            close(epoll)
            throw ExternalTool.Failure(description: "eventfd failed: errno \(errno)")
        }
        try add(wakeup)
    }

    deinit {
        close(wakeup)
        close(epoll)
    }

    private func add(_ descriptor: Int32) throws {
        guard saatkond_epoll_add_readable(epoll, descriptor) == 0 else {
            throw ExternalTool.Failure(description: "epoll_ctl(ADD, \(descriptor)) failed: errno \(errno)")
        }
    }

    /// Calls `readable` on the loop whenever `descriptor` has something to read.
    func watch(_ descriptor: Int32, readable: @escaping @Sendable () -> Void) throws {
        watched.withLock { $0[descriptor] = readable }
        try add(descriptor)
    }

    /// Runs `work` on the loop, after whatever is queued.
    func execute(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    /// Starts the loop's thread; `idle(now)` runs after every wake-up and returns how long the loop may sleep.
    func start(idle: @escaping @Sendable () -> Duration) {
        let thread = Thread { [self] in
            run(idle: idle)
        }
        thread.name = "disks-loop"
        started.store(true, ordering: .releasing)
        thread.start()
    }

    /// Stops the loop after the work it is doing; returns once its thread has ended.
    func stop() {
        stopping.store(true, ordering: .releasing)
        execute {}
        while started.load(ordering: .acquiring) && !finished.withLock({ $0 }) { usleep(1_000) }
    }

    private func run(idle: @Sendable () -> Duration) {
        var ready = [Int32](repeating: -1, count: 8)
        var timeout = Duration.zero
        while !stopping.load(ordering: .acquiring) {
            // Rounded up: a wait of 0.4 ms must not spin at 0.
            let milliseconds = Int32(
                clamping: timeout.components.seconds * 1000 + (timeout.components.attoseconds + 999_999_999_999_999)
                    / 1_000_000_000_000_000)
            let count = saatkond_epoll_wait_readable(epoll, &ready, Int32(ready.count), max(0, milliseconds))
            if count > 0 {
                for descriptor in ready[0..<Int(count)] {
                    if descriptor == wakeup {
                        var value: UInt64 = 0
                        _ = read(wakeup, &value, 8)
                    } else if let readable = watched.withLock({ $0[descriptor] }) {
                        readable()
                    }
                }
            }
            for work in inbox.withLock({ queue in
                defer { queue = [] }; return queue
            }) { work() }
            timeout = idle()
        }
        finished.withLock { $0 = true }
    }
}
