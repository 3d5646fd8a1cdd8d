import DurableFiles
import Foundation
import SystemPackage
import TestSupport
import Testing

@Suite("Gathering writes and early writeback")
struct GatheringWriteTests {
    @Test("a gathering write puts every part in order, empty parts and more parts than one writev takes included")
    func partsLandInOrder() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var random = SplitMix64(seed: 0x6761_7468)
        for round in 0..<20 {
            // Up to 3000 parts: past Linux's 1024 vectors per call, so the write must continue where the kernel
            // stopped; a third of the parts are empty.
            let parts = (0..<Int.random(in: 1...3000, using: &random)).map { _ in
                Int.random(in: 0..<3, using: &random) == 0 ? [] : random.bytes(Int.random(in: 1...700, using: &random))
            }
            let path = FilePath("\(scratch.path)/file-\(round)")
            let descriptor = try FileDescriptor.open(
                path, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
            try withBuffers(parts) { try FileSystemCalls.writeAll(descriptor, gathering: $0) }
            FileSystemCalls.startWriteback(descriptor)
            try FileSystemCalls.synchroniseData(descriptor)
            try descriptor.close()
            #expect(try FileSystemCalls.readAll(path) == parts.flatMap { $0 }, "round \(round)")
        }
    }

    @Test("a gathering write to a read-only descriptor fails with its errno")
    func failureIsReported() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = FilePath("\(scratch.path)/file")
        try FileDescriptor.open(path, .writeOnly, options: [.create], permissions: [.ownerReadWrite]).close()
        let descriptor = try FileDescriptor.open(path, .readOnly)
        defer { try? descriptor.close() }
        #expect(throws: Errno.badFileDescriptor) {
            try withBuffers([[1, 2, 3]]) { try FileSystemCalls.writeAll(descriptor, gathering: $0) }
        }
    }

    /// Calls `body` with raw views of `parts`, all valid for the duration of the call.
    private func withBuffers(_ parts: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> Void) throws {
        let pointers = parts.map { part -> UnsafeMutableRawBufferPointer in
            let pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: part.count, alignment: 1)
            part.withUnsafeBytes { pointer.copyMemory(from: $0) }
            return pointer
        }
        defer { pointers.forEach { $0.deallocate() } }
        try body(pointers.map { UnsafeRawBufferPointer($0) })
    }
}
