/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: pdconf_parse on arbitrary bytes must never crash or overrun. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pdconf c;
	char err[PDCONF_ERR_BUF];
	/* An exact-size heap copy so ASan sees any read past the end. */
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	if (pdconf_parse(&c, "fuzz.conf", text, size, err, sizeof(err)) == 0) {
		/* Accepted configs satisfy the cross-field checks. */
		if (!c.device_enabled && !c.client_enabled)
			abort();
		if (c.idle_timeout > c.max_duration)
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	free(text);
	return 0;
}
