import DurableFiles
import Foundation
import SystemPackage
import TestSupport
import Testing

@Suite("Unnamed files")
struct UnnamedFileTests {
    @Test("an unnamed file has no name until linked, keeps what was written, and never replaces an existing name")
    func linkNamesIt() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let directory = FilePath(scratch.path)
        let file = try FileSystemCalls.createUnnamed(in: directory)
        defer { try? file.close() }
        var random = SplitMix64(seed: 0x756E_6E61)
        let bytes = random.bytes(10_000)
        _ = try bytes.withUnsafeBytes { try file.writeAll(toAbsoluteOffset: 0, $0) }
        try FileSystemCalls.synchronise(file)
        #expect(try FileSystemCalls.entries(of: directory).isEmpty, "an unnamed file shows up in its directory")

        try FileSystemCalls.link(file, at: directory.appending("named"))
        #expect(try FileSystemCalls.entries(of: directory) == ["named"])
        #expect(try FileSystemCalls.readAll(directory.appending("named")) == bytes)
        #expect(try FileSystemCalls.size(at: directory.appending("named")) == UInt64(bytes.count))
        #expect(throws: Errno.fileExists) { try FileSystemCalls.link(file, at: directory.appending("named")) }
    }

    @Test("an unnamed file that is closed before it is linked leaves nothing behind")
    func closedUnlinkedVanishes() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try FileSystemCalls.createUnnamed(in: FilePath(scratch.path))
        _ = try [UInt8](repeating: 7, count: 4096).withUnsafeBytes { try file.writeAll(toAbsoluteOffset: 0, $0) }
        try file.close()
        #expect(try FileSystemCalls.entries(of: FilePath(scratch.path)).isEmpty)
    }
}
