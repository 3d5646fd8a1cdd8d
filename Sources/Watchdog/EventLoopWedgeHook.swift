#if DEBUG
    import Dispatch
    import Foundation
    import NIOCore
    import Synchronization

    /// A test hook, in debug builds only: SIGUSR1 wedges the first event loop of the group an
    /// ``EventLoopLivenessCheck`` watches (it blocks on a task that never returns), as a stuck system call or a runaway
    /// handler would, so that a test can show a hung service stop petting its watchdog and say why. Release builds have
    /// neither the hook nor the handler.
    enum EventLoopWedgeHook {
        private static let installed = Mutex<DispatchSourceSignal?>(nil)

        static func install(for group: any EventLoopGroup) {
            installed.withLock { source in
                guard source == nil else { return }
                signal(SIGUSR1, SIG_IGN)
                let signals = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
                let loop = group.next()
                signals.setEventHandler {
                    loop.execute {
                        while true { sleep(3600) }
                    }
                }
                signals.resume()
                source = signals
            }
        }
    }
#endif
