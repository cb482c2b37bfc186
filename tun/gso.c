/* SPDX-License-Identifier: MIT */
#include "gso.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

enum {
	IP4_HDR = 20,
	IP6_HDR = 40,
	TCP_HDR = 20,
	PROTO_TCP = 6,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_CWR = 0x80,
};

/* Ones' complement sum of @p n bytes added to @p sum (not folded). */
static uint64_t csum_add(uint64_t sum, const uint8_t *b, size_t n)
{
	while (n >= 8) {
		uint32_t a, c;

		memcpy(&a, b, 4);
		memcpy(&c, b + 4, 4);
		sum += (uint64_t)a + c; /* native order; folded consistently below */
		b += 8;
		n -= 8;
	}
	while (n >= 2) {
		uint16_t a;

		memcpy(&a, b, 2);
		sum += a;
		b += 2;
		n -= 2;
	}
	if (n) {
		uint16_t a = 0;

		memcpy(&a, b, 1); /* the odd byte is the high-order byte in network order */
		sum += a;
	}
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int gso_csum_finish(uint8_t *p, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t c;

	if (start > len || len - start < (size_t)offset + 2)
		return -EINVAL;
	c = csum_fold(csum_add(0, p + start, len - start));
	memcpy(p + start + offset, &c, 2);
	return 0;
}

/* IP header length and TCP header length of a super-packet; -EINVAL if not TCP. */
static int headers(const uint8_t *p, size_t len, const struct tun_gso *g, size_t *ihl, size_t *thl)
{
	if (g->type == GSO_TCP4) {
		if (len < IP4_HDR || (p[0] >> 4) != 4 || p[9] != PROTO_TCP)
			return -EINVAL;
		*ihl = (size_t)(p[0] & 0x0f) * 4;
	} else if (g->type == GSO_TCP6) {
		if (len < IP6_HDR || (p[0] >> 4) != 6 || p[6] != PROTO_TCP)
			return -EINVAL;
		*ihl = IP6_HDR;
	} else {
		return -EINVAL;
	}
	if (*ihl < IP4_HDR || len - *ihl < TCP_HDR)
		return -EINVAL;
	*thl = (size_t)(p[*ihl + 12] >> 4) * 4;
	if (*thl < TCP_HDR || len - *ihl < *thl)
		return -EINVAL;
	return 0;
}

int gso_hdr_len(const uint8_t *p, size_t len, const struct tun_gso *g)
{
	size_t ihl, thl;

	return headers(p, len, g, &ihl, &thl) < 0 ? -EINVAL : (int)(ihl + thl);
}

int gso_count(const uint8_t *p, size_t len, const struct tun_gso *g)
{
	size_t ihl, thl, pay;

	if (headers(p, len, g, &ihl, &thl) < 0 || g->size == 0)
		return -EINVAL;
	pay = len - ihl - thl;
	if (pay == 0)
		return 1;
	return (int)((pay + g->size - 1) / g->size);
}

ssize_t gso_segment(const uint8_t *p, size_t len, const struct tun_gso *g, int i, uint8_t *out,
		    size_t cap)
{
	size_t ihl, thl, hl, pay, off, n, tl;
	int count = gso_count(p, len, g);
	uint64_t sum;
	uint8_t ph[40];
	uint16_t c;

	if (count < 0 || i < 0 || i >= count || headers(p, len, g, &ihl, &thl) < 0)
		return -EINVAL;
	hl = ihl + thl;
	pay = len - hl;
	off = (size_t)i * g->size;
	n = pay - off < g->size ? pay - off : g->size;
	if (cap < hl + n)
		return -ENOSPC;
	memcpy(out, p, hl);
	memcpy(out + hl, p + hl + off, n);
	tl = thl + n; /* TCP length */
	if (g->type == GSO_TCP4) {
		put_be16(out + 2, (uint16_t)(hl + n));
		put_be16(out + 4, (uint16_t)(get_be16(p + 4) + i));
		memset(out + 10, 0, 2);
		c = csum_fold(csum_add(0, out, ihl));
		memcpy(out + 10, &c, 2);
		memcpy(ph, p + 12, 8);
		ph[8] = 0;
		ph[9] = PROTO_TCP;
		put_be16(ph + 10, (uint16_t)tl);
		sum = csum_add(0, ph, 12);
	} else {
		put_be16(out + 4, (uint16_t)tl);
		sum = csum_add(0, p + 8, 32);
		put_be32(ph, (uint32_t)tl);
		ph[4] = ph[5] = ph[6] = 0;
		ph[7] = PROTO_TCP;
		sum = csum_add(sum, ph, 8);
	}
	uint8_t *th = out + ihl;

	put_be32(th + 4, get_be32(p + ihl + 4) + (uint32_t)off);
	if (i != count - 1)
		th[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i != 0)
		th[13] &= (uint8_t)~TCP_CWR;
	memset(th + 16, 0, 2);
	c = csum_fold(csum_add(sum, th, tl));
	memcpy(th + 16, &c, 2);
	return (ssize_t)(hl + n);
}
