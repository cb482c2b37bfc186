/* SPDX-License-Identifier: MIT */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

unsigned ipaddr_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static bool parse_len(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9' || strlen(s) > 3)
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

bool ipaddr_parse(const char *s, struct ipaddr *out)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned plen;
	int family;

	if (!s || strlen(s) >= sizeof(tmp))
		return false;
	strcpy(tmp, s);
	slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	family = strchr(tmp, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, tmp, out->a) != 1)
		return false;
	plen = ipaddr_bits(family);
	if (slash && !parse_len(slash + 1, plen, &plen))
		return false;
	out->family = (uint8_t)family;
	out->plen = (uint8_t)plen;
	return true;
}

void ipaddr_from_bytes(struct ipaddr *out, int family, const void *bytes, unsigned plen)
{
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)family;
	memcpy(out->a, bytes, ipaddr_bits(family) / 8);
	out->plen = (uint8_t)(plen > ipaddr_bits(family) ? ipaddr_bits(family) : plen);
}

const char *ipaddr_str(const struct ipaddr *a, bool with_len, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	if (!cap)
		return buf;
	if (!a->family || !inet_ntop(a->family, a->a, host, sizeof(host))) {
		snprintf(buf, cap, "(none)");
		return buf;
	}
	if (with_len)
		snprintf(buf, cap, "%s/%u", host, a->plen);
	else
		snprintf(buf, cap, "%s", host);
	return buf;
}

bool ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y)
{
	return x->plen == y->plen && ipaddr_same_host(x, y);
}

bool ipaddr_same_host(const struct ipaddr *x, const struct ipaddr *y)
{
	return x->family && x->family == y->family &&
	       memcmp(x->a, y->a, ipaddr_bits(x->family) / 8) == 0;
}

static bool prefix_match(const uint8_t *x, const uint8_t *y, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	uint8_t m;

	if (memcmp(x, y, full) != 0)
		return false;
	if (!rest)
		return true;
	m = (uint8_t)(0xff << (8 - rest));
	return (x[full] & m) == (y[full] & m);
}

bool ipaddr_contains(const struct ipaddr *p, const struct ipaddr *a)
{
	return p->family && p->family == a->family && prefix_match(p->a, a->a, p->plen);
}

void ipaddr_mask(struct ipaddr *p)
{
	unsigned bits = ipaddr_bits(p->family);

	for (unsigned i = p->plen; i < bits; i++)
		p->a[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}
