/* SPDX-License-Identifier: MIT */
#include "addrplan.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handle.h"
#include "wire.h"

enum {
	DERIVE_TRIES = 64,
	ALL_ONES = 0xff,
};

static const char derive_key[] = "portless addrplan v1";

static void must_parse(const char *s, struct ipaddr *out)
{
	bool ok = ipaddr_parse(s, out);

	/* The defaults are constants; a failure here is a programming error. */
	if (!ok)
		abort();
	ipaddr_mask(out);
}

void addrplan_defaults(struct addrplan_cfg *cfg)
{
	must_parse(ADDRPLAN_DEV4_DEFAULT, &cfg->dev4);
	must_parse(ADDRPLAN_DEV6_DEFAULT, &cfg->dev6);
	must_parse(ADDRPLAN_POOL4_DEFAULT, &cfg->pool4);
	must_parse(ADDRPLAN_POOL6_DEFAULT, &cfg->pool6);
}

/* BLAKE2b(key, handle || alt || counter): 32 pseudo-random bytes. */
static void derive_bytes(const char *handle, unsigned alt, unsigned counter, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t ctr[8];

	put_be32(ctr, alt);
	put_be32(ctr + 4, counter);
	crypto_generichash_init(&st, (const uint8_t *)derive_key, sizeof(derive_key) - 1, 32);
	crypto_generichash_update(&st, (const uint8_t *)handle, strlen(handle));
	crypto_generichash_update(&st, ctr, sizeof(ctr));
	crypto_generichash_final(&st, out, 32);
}

/* Keep the prefix bits of @p prefix, take the host bits from @p rnd. */
static void combine(const struct ipaddr *prefix, const uint8_t *rnd, struct ipaddr *out)
{
	unsigned bits = ipaddr_bits(prefix->family);

	*out = *prefix;
	out->plen = (uint8_t)bits;
	for (unsigned i = prefix->plen; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));

		out->a[i / 8] = (uint8_t)((out->a[i / 8] & ~m) | (rnd[i / 8] & m));
	}
}

static bool host_bits_uniform(const struct ipaddr *prefix, const struct ipaddr *a, int bit)
{
	for (unsigned i = prefix->plen; i < ipaddr_bits(a->family); i++)
		if (!!(a->a[i / 8] & (0x80 >> (i % 8))) != bit)
			return false;
	return true;
}

static bool v6_iid_reserved(const struct ipaddr *a)
{
	static const uint8_t anycast[7] = {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[8];

	/* RFC 2526 reserved subnet anycast (top 128 ids) and the subnet-router anycast (0). */
	if (memcmp(a->a + 8, anycast, sizeof(anycast)) == 0 && a->a[15] >= 0x80)
		return true;
	return memcmp(a->a + 8, zero, sizeof(zero)) == 0;
}

static bool candidate_ok(const struct ipaddr *prefix, const struct ipaddr *avoid,
			 const struct ipaddr *a)
{
	if (avoid && ipaddr_contains(avoid, a))
		return false;
	if (host_bits_uniform(prefix, a, 0) || host_bits_uniform(prefix, a, 1))
		return false;
	if (a->family == AF_INET)
		return a->a[3] != 0 && a->a[3] != ALL_ONES;
	return !v6_iid_reserved(a);
}

int addrplan_device_ex(const char *handle, const struct ipaddr *prefix, const struct ipaddr *avoid,
		       unsigned alt, struct ipaddr *out)
{
	unsigned max_plen;
	struct ipaddr p;
	uint8_t rnd[32];

	if (!handle || !handle_valid(handle) || !prefix || !prefix->family)
		return -EINVAL;
	max_plen = prefix->family == AF_INET ? 24 : 96;
	if (prefix->plen > max_plen)
		return -EINVAL;
	p = *prefix;
	ipaddr_mask(&p);
	for (unsigned i = 0; i < DERIVE_TRIES; i++) {
		derive_bytes(handle, alt, i, rnd);
		combine(&p, rnd, out);
		if (candidate_ok(&p, avoid, out))
			return 0;
	}
	return -EADDRNOTAVAIL; /* only when @p avoid covers (nearly) all of @p prefix */
}

int addrplan_device_v4(const char *handle, const struct ipaddr *prefix, struct ipaddr *out)
{
	struct addrplan_cfg d;

	addrplan_defaults(&d);
	if (prefix && prefix->family != AF_INET)
		return -EINVAL;
	return addrplan_device_ex(handle, prefix ? prefix : &d.dev4, &d.pool4, 0, out);
}

int addrplan_device_v6(const char *handle, const struct ipaddr *prefix, struct ipaddr *out)
{
	struct addrplan_cfg d;

	addrplan_defaults(&d);
	if (prefix && prefix->family != AF_INET6)
		return -EINVAL;
	return addrplan_device_ex(handle, prefix ? prefix : &d.dev6, &d.pool6, 0, out);
}

/* ---- host view and conflict check ---- */

int addrplan_host_add(struct addrplan_host *h, const struct addrplan_host_entry *ent)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 32;
		void *e = reallocarray(h->e, cap, sizeof(*h->e));

		if (!e)
			return -ENOMEM;
		h->e = e;
		h->cap = cap;
	}
	h->e[h->n++] = *ent;
	return 0;
}

void addrplan_host_clear(struct addrplan_host *h)
{
	free(h->e);
	memset(h, 0, sizeof(*h));
}

static const char *ent_ifname(const struct addrplan_host_entry *e, char *buf, size_t cap)
{
	if (e->ifname[0])
		return e->ifname;
	if (e->ifindex)
		snprintf(buf, cap, "interface #%d", e->ifindex);
	else
		snprintf(buf, cap, "no interface");
	return buf;
}

static const char *rtype_str(uint8_t t)
{
	switch (t) {
	case 1:
		return "unicast";
	case 2:
		return "local";
	case 6:
		return "blackhole";
	case 7:
		return "unreachable";
	case 8:
		return "prohibit";
	default:
		return "route";
	}
}

static enum addrplan_conflict classify(const struct addrplan_host_entry *e,
				       const struct ipaddr *addr)
{
	if (!e->is_route)
		return ipaddr_same_host(&e->addr, addr) ? ADDRPLAN_ADDR_IN_USE : ADDRPLAN_OK;
	if (e->addr.plen == 0 || !ipaddr_contains(&e->addr, addr))
		return ADDRPLAN_OK;
	if (e->table == 255 /* RT_TABLE_LOCAL: mirrors addresses, checked above */)
		return ADDRPLAN_OK;
	return ipaddr_is_host(&e->addr) ? ADDRPLAN_ROUTE_EXACT : ADDRPLAN_ROUTE_COVERS;
}

static void explain(const struct addrplan_host_entry *e, const struct ipaddr *addr,
		    enum addrplan_conflict c, char *why, size_t cap)
{
	char a[IPADDR_STRLEN], r[IPADDR_STRLEN], ifn[32];
	const char *dev = ent_ifname(e, ifn, sizeof(ifn));

	ipaddr_str(addr, false, a, sizeof(a));
	ipaddr_str(&e->addr, true, r, sizeof(r));
	if (c == ADDRPLAN_ADDR_IN_USE)
		snprintf(why, cap, "address %s already on %s (as %s)", a, dev, r);
	else if (c == ADDRPLAN_ROUTE_EXACT)
		snprintf(why, cap, "address %s already has a %s route via %s (table %u)", a,
			 rtype_str(e->rtype), dev, e->table);
	else
		snprintf(why, cap, "address %s is inside %s route %s via %s (table %u)", a,
			 rtype_str(e->rtype), r, dev, e->table);
}

enum addrplan_conflict addrplan_check(const struct addrplan_host *h, const struct ipaddr *addr,
				      int own_ifindex, char *why, size_t cap)
{
	enum addrplan_conflict worst = ADDRPLAN_OK;
	const struct addrplan_host_entry *we = NULL;

	for (size_t i = 0; i < h->n; i++) {
		const struct addrplan_host_entry *e = &h->e[i];
		enum addrplan_conflict c;

		if (own_ifindex && e->ifindex == own_ifindex)
			continue;
		c = classify(e, addr);
		/* Among covering routes, name the most specific one. */
		if (c > worst || (c == worst && c && we && e->addr.plen > we->addr.plen)) {
			worst = c;
			we = e;
		}
	}
	if (worst && why && cap)
		explain(we, addr, worst, why, cap);
	else if (why && cap)
		why[0] = '\0';
	return worst;
}

/* ---- client address pool ---- */

struct addrpool {
	struct ipaddr base4, base6; /* base6.family == 0: IPv4 only */
	uint32_t slots;             /* offsets 0..slots-1 from base4 */
	uint32_t next;              /* next-fit cursor */
	size_t in_use;
	uint64_t *used;     /* allocated */
	uint64_t *reserved; /* never hand out */
};

static bool bit_get(const uint64_t *m, uint32_t i)
{
	return m[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *m, uint32_t i, bool v)
{
	if (v)
		m[i / 64] |= 1ull << (i % 64);
	else
		m[i / 64] &= ~(1ull << (i % 64));
}

static uint32_t v4_u32(const struct ipaddr *a)
{
	return get_be32(a->a);
}

static void slot_v4(const struct addrpool *p, uint32_t i, struct ipaddr *out)
{
	*out = p->base4;
	out->plen = 32;
	put_be32(out->a, v4_u32(&p->base4) + i);
}

static void slot_v6(const struct addrpool *p, uint32_t i, struct ipaddr *out)
{
	*out = p->base6;
	out->plen = 128;
	put_be32(out->a + 12, get_be32(p->base6.a + 12) + i);
}

/* Slot index of @p a, or -1 when it is not one of the pool's addresses. */
static int64_t slot_of(const struct addrpool *p, const struct ipaddr *a)
{
	struct ipaddr s;
	uint32_t off;

	if (a->family == AF_INET && ipaddr_contains(&p->base4, a)) {
		off = v4_u32(a) - v4_u32(&p->base4);
		return off < p->slots ? (int64_t)off : -1;
	}
	if (a->family != AF_INET6 || !p->base6.family || !ipaddr_contains(&p->base6, a))
		return -1;
	off = get_be32(a->a + 12) - get_be32(p->base6.a + 12);
	if (off >= p->slots)
		return -1;
	slot_v6(p, off, &s);
	return ipaddr_same_host(&s, a) ? (int64_t)off : -1;
}

static bool slot_unusable(const struct addrpool *p, uint32_t i)
{
	struct ipaddr a;

	slot_v4(p, i, &a);
	return a.a[3] == 0 || a.a[3] == ALL_ONES;
}

static int pool_check(const struct ipaddr *pool4, const struct ipaddr *pool6)
{
	if (!pool4 || pool4->family != AF_INET || pool4->plen > 30)
		return -EINVAL;
	if (pool6 && (pool6->family != AF_INET6 || pool6->plen > 96))
		return -EINVAL;
	return 0;
}

int addrpool_new(const struct ipaddr *pool4, const struct ipaddr *pool6, struct addrpool **out)
{
	struct addrpool *p;
	uint64_t span;
	size_t words;
	int err = pool_check(pool4, pool6);

	*out = NULL;
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base4 = *pool4;
	ipaddr_mask(&p->base4);
	if (pool6) {
		p->base6 = *pool6;
		ipaddr_mask(&p->base6);
	}
	span = 1ull << (32 - pool4->plen);
	p->slots = (uint32_t)(span > ADDRPLAN_POOL_MAX ? ADDRPLAN_POOL_MAX : span);
	words = (p->slots + 63) / 64;
	p->used = calloc(words, sizeof(uint64_t));
	p->reserved = calloc(words, sizeof(uint64_t));
	if (!p->used || !p->reserved) {
		addrpool_free(p);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < p->slots; i++)
		if (slot_unusable(p, i))
			bit_set(p->reserved, i, true);
	*out = p;
	return 0;
}

void addrpool_free(struct addrpool *p)
{
	if (!p)
		return;
	free(p->used);
	free(p->reserved);
	free(p);
}

int addrpool_alloc(struct addrpool *p, struct ipaddr *v4, struct ipaddr *v6)
{
	for (uint32_t n = 0; n < p->slots; n++) {
		uint32_t i = (p->next + n) % p->slots;

		if (bit_get(p->used, i) || bit_get(p->reserved, i))
			continue;
		bit_set(p->used, i, true);
		p->in_use++;
		p->next = (i + 1) % p->slots;
		slot_v4(p, i, v4);
		if (v6) {
			memset(v6, 0, sizeof(*v6));
			if (p->base6.family)
				slot_v6(p, i, v6);
		}
		return 0;
	}
	return -ENOSPC;
}

int addrpool_release(struct addrpool *p, const struct ipaddr *addr)
{
	int64_t i = slot_of(p, addr);

	if (i < 0 || !bit_get(p->used, (uint32_t)i))
		return -ENOENT;
	bit_set(p->used, (uint32_t)i, false);
	p->in_use--;
	return 0;
}

int addrpool_reserve(struct addrpool *p, const struct ipaddr *addr)
{
	int64_t i = slot_of(p, addr);

	if (i < 0)
		return -ENOENT;
	bit_set(p->reserved, (uint32_t)i, true);
	return 0;
}

size_t addrpool_reserve_host(struct addrpool *p, const struct addrplan_host *h, int own_ifindex)
{
	size_t n = 0;

	for (size_t k = 0; k < h->n; k++) {
		const struct addrplan_host_entry *e = &h->e[k];
		int64_t i;

		if ((own_ifindex && e->ifindex == own_ifindex) ||
		    (e->is_route && !ipaddr_is_host(&e->addr)))
			continue;
		i = slot_of(p, &e->addr);
		if (i >= 0 && !bit_get(p->reserved, (uint32_t)i)) {
			bit_set(p->reserved, (uint32_t)i, true);
			n++;
		}
	}
	return n;
}

bool addrpool_is_allocated(const struct addrpool *p, const struct ipaddr *addr)
{
	int64_t i = slot_of(p, addr);

	return i >= 0 && bit_get(p->used, (uint32_t)i);
}

size_t addrpool_in_use(const struct addrpool *p)
{
	return p->in_use;
}

size_t addrpool_capacity(const struct addrpool *p)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->slots; i++)
		n += !bit_get(p->reserved, i);
	return n;
}
