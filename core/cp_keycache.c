/* SPDX-License-Identifier: MIT */
#include "cp_keycache.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_hs.h"

/** One cached identity (or a recent failure to get its keys). */
struct ent {
	struct ent *next; /**< newest first */
	struct cp_key key;
	double fetched; /**< when the last fetch ended (or our own keys were looked up) */
	bool settled;   /**< key holds the outcome of a fetch (or our own keys) */
	bool fetching;  /**< a fetch is in flight */
};

struct cp_keycache {
	struct cp_keycache_cfg cfg;
	struct ent *head;
	unsigned n;
	bool walking; /**< in cp_keycache_each_failed(): evict nothing */
};

struct cp_keycache *cp_keycache_new(const struct cp_keycache_cfg *cfg)
{
	struct cp_keycache *kc;

	if (!cfg->max || !cfg->self)
		return NULL;
	kc = calloc(1, sizeof(*kc));
	if (kc)
		kc->cfg = *cfg;
	return kc;
}

void cp_keycache_free(struct cp_keycache *kc)
{
	struct ent *e;

	if (!kc)
		return;
	while ((e = kc->head) != NULL) {
		kc->head = e->next;
		free(e);
	}
	free(kc);
}

static struct ent *find(const struct cp_keycache *kc, const char *handle)
{
	for (struct ent *e = kc->head; e; e = e->next)
		if (!strcmp(e->key.pk.handle, handle))
			return e;
	return NULL;
}

/* Usable at @p now: valid keys within the TTL, or a recent failure. */
static bool fresh(const struct cp_keycache *kc, const struct ent *e, double now)
{
	double age = now - e->fetched;

	if (e->fetching || !e->settled)
		return false;
	return e->key.err ? age < kc->cfg.neg_ttl : age < kc->cfg.ttl;
}

/* Unlink and free the entry *@p pp points at. */
static void drop(struct cp_keycache *kc, struct ent **pp)
{
	struct ent *e = *pp;

	*pp = e->next;
	free(e);
	kc->n--;
}

/* Make room: drop the oldest-inserted entry not in flight. */
static void evict(struct cp_keycache *kc)
{
	struct ent **pp, **victim = NULL;

	for (pp = &kc->head; *pp; pp = &(*pp)->next)
		if (!(*pp)->fetching)
			victim = pp;
	if (victim)
		drop(kc, victim);
}

static struct ent *find_or_add(struct cp_keycache *kc, const char *handle)
{
	struct ent *e = find(kc, handle);

	if (e)
		return e;
	if (kc->n >= kc->cfg.max && !kc->walking)
		evict(kc);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->key.pk.handle, sizeof(e->key.pk.handle), "%s", handle);
	e->next = kc->head;
	kc->head = e;
	kc->n++;
	return e;
}

enum cp_keycache_res cp_keycache_lookup(struct cp_keycache *kc, const char *handle, double now,
					const struct cp_key **out)
{
	struct ent *e = find_or_add(kc, handle);

	*out = NULL;
	if (!e)
		return CP_KC_NOMEM;
	if (!strcmp(handle, kc->cfg.self->handle)) {
		e->key.pk = *kc->cfg.self;
		e->key.err = CP_OK;
		e->fetched = now;
		e->settled = true;
	}
	if (fresh(kc, e, now)) {
		*out = &e->key;
		return CP_KC_HIT;
	}
	if (e->fetching)
		return CP_KC_WAIT;
	e->fetching = true;
	return CP_KC_FETCH;
}

/* End @p e's fetch at @p now with @p err. */
static void settle(struct ent *e, int err, double now)
{
	e->fetching = false;
	e->settled = true;
	e->fetched = now;
	e->key.err = err;
	e->key.why[0] = '\0';
}

const struct cp_key *cp_keycache_fail(struct cp_keycache *kc, const char *handle, int err,
				      double now)
{
	struct ent *e = find(kc, handle);

	if (!e)
		return NULL;
	settle(e, err, now);
	return &e->key;
}

/* Are @p offered the keys of @p handle, self-signed and accepted by the pins? */
static int judge(const struct cp_keycache *kc, const char *handle, const struct pubkeys *offered,
		 const uint8_t keysig[CP_SIG_LEN], const uint8_t *proof, size_t proof_len,
		 char why[CP_KEY_WHY_BUF])
{
	why[0] = '\0';
	if (strcmp(offered->handle, handle) != 0 || !cp_keys_verify(offered, keysig))
		return CP_E_BAD_KEYS;
	if (!kc->cfg.pin)
		return CP_OK;
	return kc->cfg.pin(kc->cfg.pin_arg, offered, proof, proof_len, why, CP_KEY_WHY_BUF);
}

int cp_keycache_answer(struct cp_keycache *kc, const char *handle, const struct pubkeys *offered,
		       const uint8_t keysig[CP_SIG_LEN], const uint8_t *proof, size_t proof_len,
		       double now)
{
	char why[CP_KEY_WHY_BUF];
	int err = judge(kc, handle, offered, keysig, proof, proof_len, why);
	struct ent *e = find(kc, handle);

	if (!e)
		return err;
	settle(e, err, now);
	if (!err)
		e->key.pk = *offered;
	else
		memcpy(e->key.why, why, sizeof(why));
	return err;
}

bool cp_keycache_forget(struct cp_keycache *kc, const char *handle)
{
	struct ent **pp, *e;

	for (pp = &kc->head; (e = *pp) != NULL; pp = &e->next) {
		if (strcmp(e->key.pk.handle, handle) != 0)
			continue;
		if (e->fetching)
			return false;
		drop(kc, pp);
		return true;
	}
	return false;
}

unsigned cp_keycache_expire(struct cp_keycache *kc, double now)
{
	struct ent **pp = &kc->head, *e;
	unsigned dropped = 0;

	while ((e = *pp) != NULL) {
		if (e->fetching || fresh(kc, e, now)) {
			pp = &e->next;
			continue;
		}
		drop(kc, pp);
		dropped++;
	}
	return dropped;
}

void cp_keycache_each_failed(struct cp_keycache *kc, void (*fn)(void *arg, const char *handle),
			     void *arg)
{
	bool was = kc->walking;

	kc->walking = true;
	for (struct ent *e = kc->head; e; e = e->next)
		if (!e->fetching && e->key.err)
			fn(arg, e->key.pk.handle);
	kc->walking = was;
}

unsigned cp_keycache_count(const struct cp_keycache *kc)
{
	return kc->n;
}
