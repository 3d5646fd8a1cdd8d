// swift-tools-version: 6.2
import PackageDescription

/// Every target of ours compiles in Swift 6 language mode with strict concurrency, and a warning is an error: the
/// appliance is built with one pinned toolchain, so a warning is always ours to fix, never a surprise for a user.
let package = Package(
    name: "Saatkond",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "saatkond", targets: ["saatkond"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // MARK: C libraries from Debian packages, found through pkg-config.
        .systemLibrary(name: "CLibudev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CLibsystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CTSS2", pkgConfig: "tss2-esys", providers: [.apt(["libtss2-dev"])]),

        // MARK: One thin wrapper per C library; no C type leaves these modules.
        .target(name: "Udev", dependencies: ["CLibudev"]),
        .target(
            name: "Systemd",
            dependencies: ["CLibsystemd", "DurableFiles", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "CryptoPrimitives", dependencies: ["CLibcrypto", "DurableFiles"]),
        .target(name: "ErasureCode", dependencies: ["CISAL"]),
        .target(name: "TPM2", dependencies: ["CTSS2", "CryptoPrimitives"]),

        // MARK: Pure core: formats and state machines, no I/O.
        .target(name: "StreamStore", dependencies: ["HashChain"]),
        .target(
            name: "ReplicationProtocol",
            dependencies: [
                "StreamStore", "Authorization", "HashChain", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "LivenessGate"),
        .target(name: "Authorization", dependencies: ["StreamStore"]),
        .target(name: "DiskLifecycle"),
        // Disks (issue 12): chassis bay maps.
        .target(name: "Chassis"),

        // MARK: Adapters and services.
        .target(name: "CLinuxCalls"),
        .target(
            name: "DurableFiles",
            dependencies: ["CLinuxCalls", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "HashChain", dependencies: ["CryptoPrimitives"]),
        // Disks (issue 12): the test rig, a chassis whose bays are loop devices.
        .target(
            name: "LoopRig",
            dependencies: ["DurableFiles", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .target(name: "HPKE", dependencies: ["CryptoPrimitives"]),
        // Escrow: the storage secret split m-of-n (Shamir over GF(256)) and sealed to home officials with HPKE.
        .target(
            name: "Escrow",
            dependencies: [
                "HPKE", "CryptoPrimitives", "DurableFiles", .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "StoreFormat",
            dependencies: [
                "StreamStore", "HashChain", "CryptoPrimitives", "HPKE", "ErasureCode",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ErasureStore",
            dependencies: [
                "StoreFormat", "StreamStore", "DurableFiles", "HashChain", "CryptoPrimitives", "HPKE", "ErasureCode",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "SaatkondLogging",
            dependencies: ["Systemd", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Watchdog",
            dependencies: [
                "LivenessGate", "Systemd", "LocalControl", "CryptoPrimitives",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "DevelopmentIdentity",
            dependencies: [
                "DurableFiles",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // MARK: Replication, in four modules: what both ends share, receipts, the receiver, the clients.
        .target(
            name: "ReplicationTransport",
            dependencies: ["ReplicationProtocol", .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .target(
            name: "Receipts",
            dependencies: [
                "ReplicationProtocol", "StreamStore", "HashChain", "CryptoPrimitives", "DurableFiles",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "Receiver",
            dependencies: [
                "ReplicationTransport", "Receipts", "ReplicationProtocol", "StreamStore", "Authorization",
                "CryptoPrimitives", "HashChain",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ReplicationClients",
            dependencies: [
                "ReplicationTransport", "ReplicationProtocol", "HashChain", "DurableFiles", "StreamStore",
                "Authorization",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "Appliance",
            dependencies: [
                "StoreFormat",
                "Receiver", "Receipts", "ReplicationTransport", "StreamStore", "ErasureStore", "CryptoPrimitives",
                "DurableFiles", "Authorization", "Disks", "Chassis", "LoopRig", "Keys", "Escrow",
                "Watchdog", "Systemd", "CLinuxCalls", "ConfigurationFile", "ReplicationProtocol",
                "DevelopmentIdentity",
                "SaatkondLogging",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Disks service parts (issue 12): SMART summaries, the custody log, the local control sockets.
        .target(name: "DiskHealth"),
        .target(
            name: "CustodyLog",
            dependencies: [
                "CryptoPrimitives", "DurableFiles", .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "LocalControl",
            dependencies: [
                "CryptoPrimitives", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // MARK: End of the disks service parts.
        .target(name: "ConfigurationFile"),
        .target(
            name: "Attestation",
            dependencies: ["CryptoPrimitives", "TPM2", "HashChain", "CustodyLog"]
        ),
        .target(
            name: "Health",
            dependencies: [
                "Attestation", "CryptoPrimitives", "TPM2", "HashChain", "Keys", "LocalControl", "Receipts",
                "ReplicationTransport", "Watchdog", "LivenessGate", "Systemd", "ConfigurationFile", "DurableFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Keys",
            dependencies: [
                "TPM2", "Escrow", "CryptoPrimitives", "HPKE", "StoreFormat", "LocalControl", "CustodyLog", "Receipts",
                "DurableFiles", "Systemd", "ConfigurationFile", "HashChain", "Watchdog", "LivenessGate", "Attestation",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Disks",
            dependencies: [
                "DiskLifecycle", "Chassis", "Udev", "DiskHealth", "CustodyLog", "LocalControl", "ErasureStore",
                "StoreFormat", "DurableFiles", "Systemd", "Watchdog", "LivenessGate", "CLinuxCalls", "CryptoPrimitives",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),

        // MARK: The one multi-call executable: parses arguments, starts a service.
        .executableTarget(
            name: "saatkond",
            dependencies: [
                "Appliance", "Disks", "Keys", "LoopRig", "LocalControl", "ReplicationClients", "Receipts",
                "ReplicationTransport", "ReplicationProtocol",
                "DevelopmentIdentity", "HashChain", "SaatkondLogging", "DurableFiles", "StreamStore", "Escrow",
                "ErasureStore", "StoreFormat", "CryptoPrimitives", "TPM2", "ConfigurationFile", "Attestation", "Health",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Benchmarks, run by scripts/bench; they print ratios against a baseline measured in the same run.
        .executableTarget(
            name: "StorageBenchmark",
            dependencies: [
                "StoreFormat",
                "ErasureStore", "StreamStore", "CryptoPrimitives", "DurableFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/StorageBenchmark"
        ),
        // The disks benchmark: the disks service over the loop-device rig, in its own process.
        .executableTarget(
            name: "DisksBenchmark",
            dependencies: [
                "Disks", "DiskLifecycle", "LoopRig", "ErasureStore", "StoreFormat", "StreamStore", "CryptoPrimitives",
                "DurableFiles",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/DisksBenchmark"
        ),
        .executableTarget(
            name: "KeysBenchmark",
            dependencies: [
                "Keys", "TPM2", "ErasureStore", "StoreFormat", "StreamStore", "CryptoPrimitives", "DurableFiles",
                "HashChain", "Attestation",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/KeysBenchmark"
        ),
        // The ingest benchmark's baseline receiver: mutual TLS and framing, acknowledging at once, storing nothing.
        .executableTarget(
            name: "IngestBaselines",
            dependencies: [
                "ReplicationTransport", "ReplicationProtocol", "HashChain", "DevelopmentIdentity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/IngestBaselines"
        ),
        // The hostile benchmark's attackers (also used by the flood tests), and the benchmark that runs them.
        .target(
            name: "HostileClients",
            dependencies: [
                "ReplicationProtocol",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            path: "Benchmarks/HostileClients"
        ),
        .executableTarget(
            name: "HostileBenchmark",
            dependencies: [
                "HostileClients", "ReplicationClients", "ReplicationTransport", "ReplicationProtocol",
                "DevelopmentIdentity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Benchmarks/HostileBenchmark"
        ),

        // MARK: Fuzz targets, run by scripts/fuzz under libFuzzer; built here as replayers of their corpus.
        .executableTarget(
            name: "FrameFuzzer",
            dependencies: ["ReplicationProtocol", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/FrameFuzzer",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "StoreFormatFuzzer",
            dependencies: ["StoreFormat"],
            path: "Fuzz/StoreFormatFuzzer",
            exclude: ["corpus"]
        ),

        // MARK: Tests, one target per module, and the machinery they share (child processes, sockets, scratch).
        .target(name: "TestSupport", dependencies: ["CryptoPrimitives", "TPM2"], path: "Tests/TestSupport"),
        // Disks (issue 12): UdevTests also drive the loop-device rig; ChassisTests read the maps in hardware/.
        .testTarget(
            name: "UdevTests",
            dependencies: [
                "Udev", "LoopRig", "Chassis", "TestSupport", .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "ChassisTests",
            dependencies: ["Chassis", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "LoopRigTests",
            dependencies: ["LoopRig", "TestSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd", "TestSupport"]),
        // Fixtures: Wycheproof's ECDSA P-256 vectors, read from the source tree.
        .testTarget(
            name: "CryptoPrimitivesTests",
            dependencies: [
                "CryptoPrimitives", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "ErasureCodeTests", dependencies: ["ErasureCode", "TestSupport"]),
        .testTarget(
            name: "DurableFilesTests",
            dependencies: ["DurableFiles", "TestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(
            name: "TPM2Tests",
            dependencies: [
                "TPM2", "CryptoPrimitives", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "ReplicationProtocolTests",
            dependencies: [
                "ReplicationProtocol", "Authorization", "HashChain", "StreamStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "LivenessGateTests", dependencies: ["LivenessGate"]),
        .testTarget(
            name: "DiskLifecycleTests",
            dependencies: ["DiskLifecycle", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "DisksTests",
            dependencies: [
                "Disks", "DiskLifecycle", "LocalControl", "LoopRig", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(
            name: "AuthorizationTests",
            dependencies: ["Authorization", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "HPKETests", dependencies: ["HPKE", "CryptoPrimitives", "TestSupport"]),
        // The report's token and verifier alone: offline, with software keys and TPMS_ATTEST built by the tests.
        .testTarget(
            name: "AttestationTests",
            dependencies: [
                "Attestation", "CryptoPrimitives", "TPM2", "HashChain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // EscrowTests also run Debian's gfsplit and gfcombine, and saatkond's `keys` escrow commands in-process.
        .testTarget(
            name: "EscrowTests",
            dependencies: [
                "Escrow", "HPKE", "CryptoPrimitives", "TestSupport", "saatkond", "Appliance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Test-only: the writer that the crash tests kill at random instants (`swift build --build-tests` builds it).
        .executableTarget(
            name: "StoreCrashWriter",
            dependencies: [
                "StoreFormat",
                "ErasureStore", "StreamStore", "CryptoPrimitives", "DurableFiles", "HashChain",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/StoreCrashWriter"
        ),
        .testTarget(
            name: "ErasureStoreTests",
            dependencies: [
                "StoreFormat",
                "ErasureStore", "StreamStore", "HashChain", "CryptoPrimitives", "DurableFiles", "TestSupport",
                "StoreCrashWriter", .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "HashChainTests",
            dependencies: [
                "HashChain", "CryptoPrimitives", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SaatkondLoggingTests",
            dependencies: ["SaatkondLogging", "Systemd", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "StreamStoreTests",
            dependencies: [
                "StreamStore", .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "WatchdogTests",
            dependencies: [
                "Watchdog", "LivenessGate", "Systemd", "CustodyLog", "DurableFiles", "TestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ReplicationTests",
            dependencies: [
                "StoreFormat",
                "Receiver", "ReplicationClients", "Receipts", "ReplicationTransport", "ReplicationProtocol",
                "Authorization", "ErasureStore", "StreamStore",
                "CryptoPrimitives", "DevelopmentIdentity", "TestSupport", "HostileClients", "HashChain",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // MARK: Tests of the disks service parts (issue 12).
        .testTarget(
            name: "DiskHealthTests",
            dependencies: [
                "DiskHealth", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Fixtures"]
        ),
        // Test-only: appends to a custody log until killed (`swift build --build-tests` builds it).
        .executableTarget(
            name: "CustodyCrashWriter",
            dependencies: ["CustodyLog", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/CustodyCrashWriter"
        ),
        .testTarget(
            name: "CustodyLogTests",
            dependencies: [
                "CustodyLog", "CryptoPrimitives", "DurableFiles", "TestSupport", "CustodyCrashWriter",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "KeysTests",
            dependencies: [
                "Keys", "TPM2", "CryptoPrimitives", "HPKE", "HashChain", "StoreFormat", "LocalControl",
                "ConfigurationFile", "TestSupport", "Attestation", "Health", "CustodyLog",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "LocalControlTests",
            dependencies: [
                "LocalControl", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // MARK: End of the tests of the disks service parts.
        .testTarget(
            name: "ApplianceTests",
            dependencies: [
                "StoreFormat",
                "Appliance", "DevelopmentIdentity", "StreamStore", "TestSupport", "HashChain",
                "Disks", "LoopRig", "LocalControl", "ErasureStore", "CryptoPrimitives", "TPM2", "CustodyLog",
                "DurableFiles", "Keys",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Every Swift target of ours: system libraries and the one C target have no Swift to warn about. (Filtering by a
// leading "C" also skipped CryptoPrimitives.)
for target in package.targets where target.type != .system && target.name != "CLinuxCalls" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
