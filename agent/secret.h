/* Wiping secrets before their memory goes back to the allocator: the
 * IMDS token, the credential document, the secret key, the session
 * token and SigV4's signing-key intermediates must not linger in freed
 * heap, where a later bug (an over-read, a core dump) would show them. */
#ifndef ASG_AGENT_SECRET_H
#define ASG_AGENT_SECRET_H

#include <stddef.h>

/* OPENSSL_cleanse: zeroes n bytes in a way the compiler cannot drop. */
void secret_wipe(void *p, size_t n);
/* Wipes the whole allocation (malloc_usable_size: also what a string's
 * strlen() does not reach) and frees it.  NULL is fine. */
void secret_free(void *p);
/* For _cleanup_: __attribute__((cleanup(secret_freep))). */
void secret_freep(void *pp);
#define _cleanup_secret_ __attribute__((cleanup(secret_freep)))

#endif
