// tpm2-tss (libtss2-dev), reached through pkg-config "tss2-esys" (-I/usr/include/tss2).
// ESAPI for commands, the TCTI loader to reach a TPM from a configuration string, the marshalling
// library that ESAPI links against, and the response-code decoder for readable error messages.
#ifndef SAATKOND_CTSS2_H
#define SAATKOND_CTSS2_H

#include <stdint.h>
#include <tss2_esys.h>
#include <tss2_tctildr.h>
#include <tss2_mu.h>
#include <tss2_rc.h>

// Swift imports a macro only when it is a plain literal or a cast of one; these response codes and
// layers are built from other macros, so each is re-exported here as a constant of the same value.
enum : uint32_t {
    CTSS2_RC_LAYER_MASK = TSS2_RC_LAYER_MASK,
    CTSS2_TPM_RC_LAYER = TSS2_TPM_RC_LAYER,
    CTSS2_ESAPI_RC_LAYER = TSS2_ESAPI_RC_LAYER,
    CTSS2_TCTI_RC_LAYER = TSS2_TCTI_RC_LAYER,
    CTSS2_RC_INITIALIZE = TPM2_RC_INITIALIZE,
    CTSS2_RC_FAILURE = TPM2_RC_FAILURE,
    CTSS2_RC_PCR_CHANGED = TPM2_RC_PCR_CHANGED,
    CTSS2_RC_HASH = TPM2_RC_HASH,
    CTSS2_RC_VALUE = TPM2_RC_VALUE,
    CTSS2_RC_AUTH_FAIL = TPM2_RC_AUTH_FAIL,
    CTSS2_RC_POLICY_FAIL = TPM2_RC_POLICY_FAIL,
    CTSS2_RC_BAD_AUTH = TPM2_RC_BAD_AUTH,
    CTSS2_RC_OBJECT_MEMORY = TPM2_RC_OBJECT_MEMORY,
    CTSS2_RC_SESSION_MEMORY = TPM2_RC_SESSION_MEMORY,
    CTSS2_RC_MEMORY = TPM2_RC_MEMORY,
    CTSS2_RC_LOCALITY = TPM2_RC_LOCALITY,
    CTSS2_RC_YIELDED = TPM2_RC_YIELDED,
    CTSS2_RC_TESTING = TPM2_RC_TESTING,
    CTSS2_RC_LOCKOUT = TPM2_RC_LOCKOUT,
    CTSS2_RC_RETRY = TPM2_RC_RETRY,
};

#endif
