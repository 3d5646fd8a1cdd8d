import ArgumentParser

/// `StorageBenchmark`: the figures of the erasure-coded store against raw writes to one file on the same
/// filesystem, each baseline measured in the same run. `Benchmarks/storage/run` runs every figure; each subcommand
/// prints its absolute numbers and ends with `RESULT` lines (see the README's "Benchmarks").
@main
struct StorageBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the erasure-coded store against raw writes to one file on the same filesystem.",
        subcommands: [BulkCommand.self, SmallCommand.self, RebuildCommand.self])
}

/// Where a benchmark works; it creates what it needs there and removes it at the end.
struct WorkOptions: ParsableArguments {
    @Option(help: "A directory on the filesystem to measure; created if absent, emptied at the end.")
    var work: String
}

/// `bulk`: a large stream in 1 MiB appends against a raw sequential write of the same bytes × (k+m)/k.
struct BulkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulk", abstract: "Bulk ingest and its peak resident memory.")

    @OptionGroup var options: WorkOptions

    @Option(help: "MiB of stream to ingest.")
    var mib = 4096

    @Option(help: "Make the stream durable at least every this many MiB.")
    var durableEveryMib = 64

    @Flag(help: "Run the store's ingest alone, without baseline or RESULT lines: for profiling it.")
    var storeOnly = false

    func run() throws {
        try BulkIngest(work: options.work, streamMiB: mib, durableEveryMiB: durableEveryMib, storeOnly: storeOnly)
            .run()
    }
}

/// `small`: 8 KiB appends each acknowledged on its own, by one writer and by many through a group committer.
struct SmallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "small", abstract: "Latency of small acknowledged appends.")

    @OptionGroup var options: WorkOptions

    @Option(help: "Acknowledged appends per measurement (and baseline writes).")
    var samples = 2000

    @Option(help: "Bytes of each append.")
    var bytes = 8192

    @Option(help: "Concurrent writers sharing one stream through a group committer.")
    var writers = 16

    func run() throws {
        try SmallAppends(work: options.work, samples: samples, appendBytes: bytes, writers: writers).run()
    }
}

/// `rebuild`: reconstructing one wiped member against a raw write of the same bytes.
struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild of one member after a disk replacement.")

    @OptionGroup var options: WorkOptions

    @Option(help: "MiB of stream to ingest before wiping the member.")
    var mib = 1024

    @Option(help: "The member to wipe and rebuild.")
    var member = 0

    func run() throws {
        try MemberRebuild(work: options.work, streamMiB: mib, member: member).run()
    }
}
