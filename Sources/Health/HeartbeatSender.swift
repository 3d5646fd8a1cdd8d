import AsyncHTTPClient
import Attestation
import Foundation
import Keys
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ReplicationTransport
import ServiceLifecycle

/// Pushes a signed heartbeat (a report without the quote) to each of home's watch endpoints every period, over
/// HTTPS with the appliance's client certificate. A heartbeat that does not arrive is the alarm at home (the dead
/// man's switch); here a failed push is logged when the endpoint's state changes, not every period.
struct HeartbeatSender: Service {
    let keys: KeysClient
    let endpoints: [String]
    let period: Duration
    let tls: TLSConfiguration
    let logger: Logger

    func run() async throws {
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: HTTPClient.Configuration(
                tlsConfiguration: tls, timeout: .init(connect: .seconds(5), read: .seconds(10))))
        // On graceful shutdown the loop is cancelled (its sleep ends at once); the client is shut down after it.
        try? await cancelWhenGracefulShutdown { try await beat(with: client) }
        try await client.shutdown()
    }

    private func beat(with client: HTTPClient) async throws {
        var failing: [String: String] = [:]
        while true {
            let sequence = UInt64(Date().timeIntervalSince1970 * 1000)
            do {
                let token = try await NIOThreadPool.singleton.runIfActive { try keys.heartbeat(sequence: sequence) }
                // All at once: an endpoint that does not answer must not hold back the others' heartbeats.
                let outcomes = await withTaskGroup(of: (String, String?).self) { group in
                    for endpoint in endpoints {
                        group.addTask { (endpoint, await push(token.compact, to: endpoint, with: client)) }
                    }
                    var outcomes: [(String, String?)] = []
                    for await outcome in group { outcomes.append(outcome) }
                    return outcomes
                }
                for (endpoint, outcome) in outcomes {
                    if outcome != failing[endpoint] {
                        if let outcome {
                            logger.error(
                                "heartbeat not delivered", metadata: ["to": "\(endpoint)", "error": "\(outcome)"])
                        } else {
                            logger.notice("heartbeats delivered", metadata: ["to": "\(endpoint)"])
                        }
                        failing[endpoint] = outcome
                    }
                }
            } catch {
                logger.error("no heartbeat could be made", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: period)
        }
    }

    /// Nil when home took it; else why not.
    private func push(_ token: String, to endpoint: String, with client: HTTPClient) async -> String? {
        do {
            var request = HTTPClientRequest(url: endpoint)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/jwt")
            request.body = .bytes(ByteBuffer(string: token))
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 4096)
            guard (200..<300).contains(response.status.code) else {
                return "\(response.status.code): \(String(buffer: body))"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
