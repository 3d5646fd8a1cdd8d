import CLinuxCalls

/// The kernel's name of a thread, which `top -H` and `/proc/PID/task/TID/comm` show; Foundation's `Thread.name` does
/// not reach it on Linux.
public enum ThreadName {
    /// Names the calling thread; the kernel keeps the first 15 bytes. A name is a diagnostic: where the kernel refuses
    /// it, the thread runs unnamed and nothing else changes.
    public static func setForCurrentThread(_ name: String) {
        _ = saatkond_name_current_thread(name)
    }
}
