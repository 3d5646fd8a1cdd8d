#ifndef SAATKOND_CLIBCRYPTO_SHIM_H
#define SAATKOND_CLIBCRYPTO_SHIM_H

// The OpenSSL 3 headers that CryptoPrimitives uses. Everything it calls imports into Swift as it is
// (functions and integer macros), so this header needs no pass-through shims of its own.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#endif
