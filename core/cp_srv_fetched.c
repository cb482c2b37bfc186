/* SPDX-License-Identifier: MIT */
#include "cp_srv_fetched.h"

#include <stdlib.h>

/* Make room for one more hash; false when the set must give up tracking. */
static bool grow(struct cp_srv_fetched *f)
{
	uint32_t cap;
	uint64_t *p;

	if (f->n < f->cap)
		return true;
	if (f->cap >= CP_SRV_FETCHED_MAX)
		return false;
	cap = f->cap ? f->cap * 2 : 8;
	if (cap > CP_SRV_FETCHED_MAX)
		cap = CP_SRV_FETCHED_MAX;
	p = realloc(f->h, cap * sizeof(*p));
	if (!p)
		return false;
	f->h = p;
	f->cap = cap;
	return true;
}

void cp_srv_fetched_add(struct cp_srv_fetched *f, uint64_t hash)
{
	if (cp_srv_fetched_has(f, hash))
		return;
	if (!grow(f)) {
		/* over the bound: tell this connection about every revocation from now on */
		cp_srv_fetched_free(f);
		f->all = true;
		return;
	}
	f->h[f->n++] = hash;
}

bool cp_srv_fetched_has(const struct cp_srv_fetched *f, uint64_t hash)
{
	if (f->all)
		return true;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->h[i] == hash)
			return true;
	return false;
}

void cp_srv_fetched_free(struct cp_srv_fetched *f)
{
	free(f->h);
	*f = (struct cp_srv_fetched){0};
}
