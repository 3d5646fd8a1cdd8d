import Foundation
import SystemPackage

/// Times a piece of work with the monotonic clock.
enum Stopwatch {
    private static let clock = ContinuousClock()

    /// How long `body` took.
    static func time(_ body: () throws -> Void) rethrows -> Duration {
        let start = clock.now
        try body()
        return start.duration(to: clock.now)
    }

    /// How long `body` took, starting from a settled filesystem: a `sync` first, untimed, so that the writeback and
    /// the block frees a previous phase left behind (a removed array, a deleted baseline file) are not charged to
    /// this one. Without it the baseline that follows the store ran up to 2.5 times slower than the one before it.
    static func timeFromSettled(_ body: () throws -> Void) rethrows -> Duration {
        sync()
        return try time(body)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in microseconds, as a floating-point number.
    var microseconds: Double { seconds * 1e6 }
}

/// A set of latency samples and their percentiles.
struct Latencies {
    private let sorted: [Duration]

    /// Takes the samples in any order.
    init(_ samples: [Duration]) {
        precondition(!samples.isEmpty, "a percentile of no samples")
        sorted = samples.sorted()
    }

    /// How many samples there are.
    var count: Int { sorted.count }

    /// The nearest-rank percentile: the smallest sample that at least `fraction` of the samples do not exceed.
    func percentile(_ fraction: Double) -> Duration {
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// The largest sample.
    var maximum: Duration { sorted[sorted.count - 1] }

    /// `p50 … µs, p99 … µs, max … µs`, for a report line.
    var summary: String {
        "p50 \(Report.micro(percentile(0.5))), p99 \(Report.micro(percentile(0.99))), max \(Report.micro(maximum))"
    }
}

/// The process's resident memory, from the kernel's accounting in /proc.
enum ResidentMemory {
    /// Resets the peak (VmHWM) to the current resident size, so that the next peak belongs to what runs after.
    static func resetPeak() throws {
        let descriptor = try FileDescriptor.open("/proc/self/clear_refs", .writeOnly, options: [.closeOnExec])
        defer { try? descriptor.close() }
        // "5" resets the peak resident set size (proc(5), clear_refs).
        _ = try descriptor.writeAll(Array("5".utf8))
    }

    /// The peak resident size (VmHWM) in KiB.
    static func peakKiB() throws -> Int { try statusField("VmHWM") }

    /// The current resident size (VmRSS) in KiB.
    static func currentKiB() throws -> Int { try statusField("VmRSS") }

    private static func statusField(_ name: String) throws -> Int {
        // /proc files report a size of 0, so read until the end rather than by the size.
        let descriptor = try FileDescriptor.open("/proc/self/status", .readOnly, options: [.closeOnExec])
        defer { try? descriptor.close() }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            if count == 0 { break }
            text += chunk[..<count]
        }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name + ":") {
            if let value = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first,
                let kib = Int(value.trimmingPrefix("\t"))
            {
                return kib
            }
        }
        throw BenchmarkFailure("no \(name) in /proc/self/status")
    }
}

/// A benchmark that could not run.
struct BenchmarkFailure: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The output: absolute figures for a person, then `RESULT` lines for scripts.
enum Report {
    /// Prints a line at once, so that a long run shows its progress through a pipe.
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// `RESULT <name> ratio=<x> target=<y>`: higher is better.
    static func ratio(_ name: String, _ value: Double, target: Double) {
        line("RESULT \(name) ratio=\(fixed(value, 3)) target=\(fixed(target, 2))")
    }

    /// `RESULT <name> <unit>=<x> max=<y>`: lower is better.
    static func maximum(_ name: String, unit: String, _ value: Int, max: Int) {
        line("RESULT \(name) \(unit)=\(value) max=\(max)")
    }

    /// A rate in MiB/s.
    static func rate(bytes: Int, over duration: Duration) -> String {
        "\(fixed(Double(bytes) / 1_048_576 / duration.seconds, 1)) MiB/s"
    }

    /// A duration in seconds.
    static func secondsText(_ duration: Duration) -> String { "\(fixed(duration.seconds, 2)) s" }

    /// A duration in microseconds.
    static func micro(_ duration: Duration) -> String { "\(fixed(duration.microseconds, 0)) µs" }

    /// `value` with `digits` digits after the point.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
