/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the key-file parser. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity *id = NULL;
	char err[256];
	static int init;

	if (!init && sodium_init() >= 0)
		init = 1;
	if (identity_parse((const char *)data, size, &id, err, sizeof(err)) == 0)
		identity_free(id);
	return 0;
}
