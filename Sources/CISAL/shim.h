#ifndef SAATKOND_CISAL_SHIM_H
#define SAATKOND_CISAL_SHIM_H

// ISA-L's erasure-code and CRC entry points are plain functions that Swift imports directly, so this shim only
// names the headers; no pass-through functions are needed.
#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>

#endif
