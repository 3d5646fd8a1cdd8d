#ifndef SAATKOND_CLIBUDEV_H
#define SAATKOND_CLIBUDEV_H

// libudev imports into Swift as it is; this header only gathers it into one module.
#include <libudev.h>

#endif
