import Foundation

/// A file that another thread is still writing: home's spool of standard input while it is sent to several
/// appliances at once. Each appliance's sender reads the file from its own descriptor and waits here, as it would on
/// a pipe, for bytes beyond what it has read, until the writer says the input ended.
///
/// `@unchecked Sendable`: every field is read and changed only while `condition` is locked.
public final class GrowingFile: @unchecked Sendable {
    private let condition = NSCondition()
    private var written: UInt64 = 0
    private var ending: Result<UInt64, any Error>?

    /// A file with nothing written yet.
    public init() {}

    /// The writer appended `count` bytes, which readers may now read.
    public func grew(by count: Int) {
        condition.lock()
        written += UInt64(count)
        condition.broadcast()
        condition.unlock()
    }

    /// The writer is done: the file holds the whole input (its length), or the input failed.
    public func ended(_ result: Result<UInt64, any Error>) {
        condition.lock()
        ending = result
        condition.broadcast()
        condition.unlock()
    }

    /// The bytes written so far.
    public var writtenSoFar: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return written
    }

    /// Blocks until bytes beyond `offset` are written or the input ended; returns how many may be read from
    /// `offset` now, 0 at the end of the input. Throws the input's failure.
    func readable(from offset: UInt64) throws -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        while written <= offset && ending == nil { condition.wait() }
        if case .failure(let error) = ending { throw error }
        return written > offset ? written - offset : 0
    }

    /// Blocks until the writer is done; returns the input's length or throws its failure.
    public func waitForEnd() throws -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        while ending == nil { condition.wait() }
        return try ending!.get()
    }
}
