#ifndef SAATKOND_CLINUXCALLS_H
#define SAATKOND_CLINUXCALLS_H

/// Glibc calls and constants that Swift's Glibc module does not import: sync_file_range and O_DIRECT are declared
/// only under _GNU_SOURCE, and mallopt lives in <malloc.h>, which the module leaves out.

/// Starts writeback of a file's dirty pages without waiting for it: sync_file_range(SYNC_FILE_RANGE_WRITE) over the
/// whole file. Returns 0, or -1 with errno set; 0 and no effect where the call does not exist.
int saatkond_start_writeback(int fd);

/// O_DIRECT (declared only under _GNU_SOURCE), or 0 where the platform has none.
int saatkond_direct_io_flag(void);

/// Bounds how much freed memory the allocator keeps: at most `arenas` malloc arenas (glibc makes up to eight per
/// core, each holding on to what its threads freed), and blocks of `mmap_threshold` bytes or more mapped on their own,
/// so that freeing one returns it to the system. Returns 1 when both settings took, 0 otherwise.
int saatkond_bound_heap(int arenas, int mmap_threshold);

/// Opens a new file without a name in `directory` for writing (O_TMPFILE, declared only under _GNU_SOURCE): a crash
/// before ``saatkond_link_unnamed`` leaves nothing behind. Returns the descriptor, or -1 with errno set (EOPNOTSUPP
/// where the filesystem or platform has no unnamed files).
int saatkond_open_unnamed(const char *directory, unsigned int mode);

/// Gives the unnamed file `fd` the name `path` (linkat with AT_EMPTY_PATH, or through /proc/self/fd where that is not
/// permitted). Returns 0, or -1 with errno set; fails with EEXIST if `path` exists.
int saatkond_link_unnamed(int fd, const char *path);

/// Makes this process non-dumpable (prctl(PR_SET_DUMPABLE, 0), variadic in C): no core file, and no ptrace or
/// /proc/PID/mem for its own user. Returns 0, or -1 with errno set.
int saatkond_forbid_core_dumps(void);

/// Names the calling thread for the kernel (prctl(PR_SET_NAME), variadic in C), which keeps the first 15 bytes: what
/// `top -H` and /proc/PID/task/TID/comm show. Returns 0, or -1 with errno set.
int saatkond_name_current_thread(const char *name);

/// An epoll instance (close-on-exec) for an event loop that waits on descriptors: <sys/epoll.h> is not in Swift's
/// Glibc module, and its packed epoll_event does not import well. Returns the descriptor, or -1 with errno set.
int saatkond_epoll_create(void);

/// Adds `fd` to the epoll instance for readability. Returns 0, or -1 with errno set.
int saatkond_epoll_add_readable(int epoll, int fd);

/// Waits up to `timeout_ms` (-1: forever) and writes the readable descriptors to `ready` (at most `capacity`).
/// Returns how many, 0 on timeout, or -1 with errno set (EINTR included).
int saatkond_epoll_wait_readable(int epoll, int *ready, int capacity, int timeout_ms);

/// A non-blocking, close-on-exec eventfd for waking an event loop from another thread. Returns it, or -1.
int saatkond_eventfd(void);

#endif
