/* Secret wiping (see secret.h). */
#include <malloc.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "secret.h"

void secret_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void secret_free(void *p)
{
	if (!p)
		return;
	secret_wipe(p, malloc_usable_size(p));
	free(p);
}

void secret_freep(void *pp)
{
	void **p = pp;

	secret_free(*p);
	*p = NULL;
}
