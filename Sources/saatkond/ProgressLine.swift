import Foundation
import NIOConcurrencyHelpers

/// A progress line on standard error, redrawn at most a few times a second: bytes, rate, and ETA when the total
/// is known. Silent when standard error is not a terminal.
final class ProgressLine: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var drawn = false
    }

    private let enabled: Bool
    private let total: UInt64?
    private let start = ContinuousClock.now
    private let state = NIOLockedValueBox(State())

    init(enabled: Bool, total: UInt64?) {
        self.enabled = enabled
        self.total = total
    }

    func update(done: UInt64) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let due = state.withLockedValue { state -> Bool in
            if let last = state.lastDraw, last.duration(to: now) < .milliseconds(200) { return false }
            state.lastDraw = now
            state.drawn = true
            return true
        }
        guard due else { return }
        let seconds = max(
            Double(start.duration(to: now).components.attoseconds) / 1e18
                + Double(start.duration(to: now).components.seconds), 0.001)
        let rate = Double(done) / seconds
        var text = "\(Self.bytes(Double(done))) at \(Self.bytes(rate))/s"
        if let total, total > 0 {
            let percent = Double(done) * 100 / Double(total)
            text += String(format: " (%.0f%% of %@", percent, Self.bytes(Double(total)))
            if rate > 0, done < total {
                text += ", ETA \(Int((Double(total - done) / rate).rounded()))s"
            }
            text += ")"
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    func finish() {
        if enabled && state.withLockedValue({ $0.drawn }) {
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    private static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = value
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f %@", value, units[unit])
    }
}
