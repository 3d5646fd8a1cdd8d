import NIOPosix

/// Runs TPM commands and other blocking work on NIO's blocking pool, off the cooperative threads that the socket's
/// handlers (and on two cores, everything else) share: a TPM signature takes milliseconds.
enum Blocking {
    static func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
