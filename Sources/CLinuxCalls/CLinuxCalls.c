#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>

#include "CLinuxCalls.h"

int saatkond_start_writeback(int fd) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    return 0;
#endif
}

int saatkond_direct_io_flag(void) {
#ifdef O_DIRECT
    return O_DIRECT;
#else
    return 0;
#endif
}

int saatkond_bound_heap(int arenas, int mmap_threshold) {
#if defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
    int arenasSet = mallopt(M_ARENA_MAX, arenas);
    int thresholdSet = mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    return arenasSet == 1 && thresholdSet == 1;
#else
    (void)arenas;
    (void)mmap_threshold;
    return 0;
#endif
}
