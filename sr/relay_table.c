/* SPDX-License-Identifier: MIT */
#include "relay_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

struct relay_table {
	struct relay_sess **slots;
	uint32_t nslots, slot_hint;
	struct relay_sess **buckets;
	uint32_t nbuckets; /* a power of two */
	unsigned max_per_identity;
};

struct relay_table *relay_table_new(unsigned max_sessions, unsigned max_per_identity)
{
	struct relay_table *t;

	if (!max_sessions || !(t = calloc(1, sizeof(*t))))
		return NULL;
	t->nslots = max_sessions;
	t->max_per_identity = max_per_identity;
	for (t->nbuckets = 64; t->nbuckets < t->nslots; t->nbuckets *= 2)
		;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->slots || !t->buckets) {
		relay_table_free(t);
		return NULL;
	}
	return t;
}

void relay_table_free(struct relay_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->buckets);
	free(t);
}

static uint32_t sid_hash(const struct relay_table *t, const uint8_t sid[SR_SID_LEN])
{
	return get_be32(sid) & (t->nbuckets - 1); /* session ids are random */
}

static int free_slot(const struct relay_table *t, uint32_t *out)
{
	for (uint32_t i = 0; i < t->nslots; i++) {
		uint32_t k = (t->slot_hint + i) % t->nslots;

		if (!t->slots[k]) {
			*out = k;
			return 0;
		}
	}
	return -EUSERS;
}

unsigned relay_table_count(const struct relay_table *t, const char *requester)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < t->nslots; i++)
		if (t->slots[i] && !strcmp(t->slots[i]->requester, requester))
			n++;
	return n;
}

int relay_table_admit(const struct relay_table *t, const char *requester)
{
	uint32_t slot;

	if (free_slot(t, &slot) < 0)
		return -EUSERS;
	if (relay_table_count(t, requester) >= t->max_per_identity)
		return -EDQUOT;
	return 0;
}

int relay_table_add(struct relay_table *t, struct relay_sess *s)
{
	uint32_t slot, h = sid_hash(t, s->sid);

	if (free_slot(t, &slot) < 0)
		return -EUSERS;
	t->slot_hint = slot + 1; /* round robin: a relay id is not soon reused */
	s->slot = slot;
	t->slots[slot] = s;
	s->hnext = t->buckets[h];
	t->buckets[h] = s;
	return 0;
}

void relay_table_remove(struct relay_table *t, struct relay_sess *s)
{
	struct relay_sess **pp = &t->buckets[sid_hash(t, s->sid)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	s->hnext = NULL;
	if (s->slot < t->nslots && t->slots[s->slot] == s)
		t->slots[s->slot] = NULL;
}

struct relay_sess *relay_table_find(const struct relay_table *t, const uint8_t sid[SR_SID_LEN])
{
	for (struct relay_sess *s = t->buckets[sid_hash(t, sid)]; s; s = s->hnext)
		if (!memcmp(s->sid, sid, SR_SID_LEN))
			return s;
	return NULL;
}

struct relay_sess *relay_table_by_relay_id(const struct relay_table *t, uint32_t relay_id,
					   uint8_t *side)
{
	uint32_t slot = relay_id >> 1;

	if (slot >= t->nslots)
		return NULL;
	*side = relay_id & 1;
	return t->slots[slot];
}

struct relay_sess *relay_table_next(const struct relay_table *t, uint32_t *cursor)
{
	while (*cursor < t->nslots) {
		struct relay_sess *s = t->slots[(*cursor)++];

		if (s)
			return s;
	}
	return NULL;
}
