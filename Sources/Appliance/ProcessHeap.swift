import DurableFiles

/// How the appliance's processes keep their heap near what they use.
///
/// glibc's defaults suit short-lived programs: up to eight malloc arenas per core, each keeping what its threads
/// freed, and a threshold for mapping large blocks on their own that rises to 32 MiB after the first such block is
/// freed, so 8 MiB segment buffers and 11 MiB stripes end up in arenas that never shrink (what that cost, measured,
/// is in `docs/storage-engine.md`, Memory).
enum ProcessHeap {
    /// Two arenas, and blocks of 4 MiB or more mapped on their own (segment buffers, stripes, large journal
    /// records), so that freeing them returns them to the system. Shard-sized blocks (1 MiB) stay in the arenas and
    /// are reused: mapped on their own, each would cost fresh page faults.
    static func bound() {
        // A heap left at glibc's defaults costs memory, not correctness: nothing to report to anyone.
        _ = ProcessCalls.boundHeap(arenas: 2, mappedFrom: 4 << 20)
    }
}
