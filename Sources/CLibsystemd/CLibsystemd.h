#ifndef SAATKOND_CLIBSYSTEMD_H
#define SAATKOND_CLIBSYSTEMD_H

// Only the non-variadic entry points are used (sd_notify, sd_watchdog_enabled, sd_journal_sendv), so Swift can call
// them directly and no shim function is needed. sd-journal.h's function-like macros are invisible to Swift, which
// therefore calls the plain sd_journal_sendv without implicit CODE_FILE/CODE_LINE fields.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
