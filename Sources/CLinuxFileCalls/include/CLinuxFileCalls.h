#ifndef SAATKOND_CLINUXFILECALLS_H
#define SAATKOND_CLINUXFILECALLS_H

#include <stdint.h>

/// Starts writeback of a file's dirty pages without waiting for it: sync_file_range(SYNC_FILE_RANGE_WRITE) over the
/// whole file. Glibc declares sync_file_range only under _GNU_SOURCE, which Swift's Glibc module does not set, hence
/// this one-function shim. Returns 0, or -1 with errno set; 0 and no effect where the call does not exist.
int saatkond_start_writeback(int fd);

#endif
