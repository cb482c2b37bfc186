/* SPDX-License-Identifier: MIT */
#include "replay.h"

#include <errno.h>
#include <string.h>

void replay_init(struct replay_win *w)
{
	memset(w, 0, sizeof(*w));
}

/* Counters are shifted by one internally so that 0 can mean "nothing seen". */
int replay_check(const struct replay_win *w, uint64_t ctr)
{
	uint64_t c;

	if (ctr == UINT64_MAX)
		return -ESTALE;
	c = ctr + 1;
	if (c > w->top)
		return 0;
	if (w->top - c >= REPLAY_WINDOW)
		return -ESTALE;
	if (w->bits[(c / 64) & (REPLAY_BLOCKS - 1)] & (1ULL << (c & 63)))
		return -EALREADY;
	return 0;
}

void replay_commit(struct replay_win *w, uint64_t ctr)
{
	uint64_t c = ctr + 1, idx = c / 64;

	if (c > w->top) {
		uint64_t cur = w->top / 64, n = idx - cur;

		if (n > REPLAY_BLOCKS)
			n = REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= n; i++)
			w->bits[(cur + i) & (REPLAY_BLOCKS - 1)] = 0;
		w->top = c;
	}
	w->bits[idx & (REPLAY_BLOCKS - 1)] |= 1ULL << (c & 63);
}
