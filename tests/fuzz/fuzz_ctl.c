/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: ctl_decode on arbitrary bytes (any local user can send
 * them to portlessd). Never crashes; a frame that decodes re-encodes to the
 * very same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1), out[CTL_FRAME_MAX];
	struct ctl_msg m;
	size_t used;
	int n;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	if (ctl_decode(buf, size, &m, &used) == 1) {
		n = ctl_encode(&m, out, sizeof(out));
		if (n < 0 || (size_t)n != used || memcmp(out, buf, used) != 0)
			abort();
	}
	free(buf);
	return 0;
}
