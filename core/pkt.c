/* SPDX-License-Identifier: MIT */
#include "pkt.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

void pkt_init(struct pkt *p, void *storage, size_t cap, size_t headroom)
{
	p->base = storage;
	p->cap = cap;
	p->off = headroom <= cap ? headroom : cap;
	p->len = 0;
}

struct pkt *pkt_new(size_t cap, size_t headroom)
{
	struct pkt *p = malloc(sizeof(*p) + cap);

	if (!p)
		return NULL;
	pkt_init(p, (uint8_t *)(p + 1), cap, headroom);
	return p;
}

void pkt_free(struct pkt *p)
{
	if (!p)
		return;
	sodium_memzero(p->base, p->cap);
	free(p);
}

uint8_t *pkt_push(struct pkt *p, size_t n)
{
	if (p->off < n)
		return NULL;
	p->off -= n;
	p->len += n;
	return pkt_data(p);
}

uint8_t *pkt_pull(struct pkt *p, size_t n)
{
	uint8_t *start = pkt_data(p);

	if (p->len < n)
		return NULL;
	p->off += n;
	p->len -= n;
	return start;
}

uint8_t *pkt_put(struct pkt *p, size_t n)
{
	uint8_t *end = pkt_data(p) + p->len;

	if (pkt_tailroom(p) < n)
		return NULL;
	p->len += n;
	return end;
}

int pkt_trim(struct pkt *p, size_t len)
{
	if (len > p->len)
		return -EINVAL;
	p->len = len;
	return 0;
}

int pkt_reset(struct pkt *p, size_t headroom)
{
	if (headroom > p->cap)
		return -EINVAL;
	p->off = headroom;
	p->len = 0;
	return 0;
}
