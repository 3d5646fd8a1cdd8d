import Foundation
import TestSupport
import Testing

/// The way home ships base backups: `pg_basebackup -Ft -D - | saatkond send --stream … -`, and back.
@Suite("A tar stream through a pipe", .enabled(if: SaatkondExecutable.exists && Command.locate("tar") != nil))
struct TarPipeTests {
    @Test("several hundred MiB of tar piped through send and back through restore are identical")
    func tarRoundTrip() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-tar")
        defer { scratch.remove() }
        let source = "\(scratch.path)/base"
        try FileManager.default.createDirectory(atPath: "\(source)/pg_wal", withIntermediateDirectories: true)
        for index in 0..<6 {
            try writeRandomFile("\(source)/base-\(index).dat", count: 50 << 20)
        }
        try writeRandomFile("\(source)/pg_wal/000000010000000000000001", count: 16 << 20)
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let client = "--state '\(state)' --connect 127.0.0.1:\(appliance.port) --stream ee.population.base"
        let binary = SaatkondExecutable.path
        try Command.run(
            "bash", ["-c", "set -o pipefail; tar -C '\(source)' -cf - . | '\(binary)' send \(client) -"])
        try Command.run("sh", ["-c", "tar -C '\(source)' -cf '\(scratch.path)/expected.tar' ."])
        try Command.run("sh", ["-c", "'\(binary)' restore \(client) > '\(scratch.path)/restored.tar'"])
        #expect(sameBytes("\(scratch.path)/expected.tar", "\(scratch.path)/restored.tar"))
        let size = try FileManager.default.attributesOfItem(atPath: "\(scratch.path)/restored.tar")[.size] as? Int
        #expect((size ?? 0) > 300 << 20)
    }
}
