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
	TCP_ACK = 0x10,
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

/*
 * Set the IPv4 header checksum (IPv4) and the TCP checksum of packet @p out,
 * whose IP header is @p ihl bytes and whose TCP header + payload is @p tl
 * bytes; the length fields must already be right.
 */
static void set_checksums(uint8_t *out, size_t ihl, size_t tl)
{
	uint8_t ph[12], *th = out + ihl;
	uint64_t sum;
	uint16_t c;

	if ((out[0] >> 4) == 4) {
		memset(out + 10, 0, 2);
		c = csum_fold(csum_add(0, out, ihl));
		memcpy(out + 10, &c, 2);
		memcpy(ph, out + 12, 8);
		ph[8] = 0;
		ph[9] = PROTO_TCP;
		put_be16(ph + 10, (uint16_t)tl);
		sum = csum_add(0, ph, 12);
	} else {
		sum = csum_add(0, out + 8, 32);
		put_be32(ph, (uint32_t)tl);
		ph[4] = ph[5] = ph[6] = 0;
		ph[7] = PROTO_TCP;
		sum = csum_add(sum, ph, 8);
	}
	memset(th + 16, 0, 2);
	c = csum_fold(csum_add(sum, th, tl));
	memcpy(th + 16, &c, 2);
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
	} else {
		put_be16(out + 4, (uint16_t)tl);
	}
	uint8_t *th = out + ihl;

	put_be32(th + 4, get_be32(p + ihl + 4) + (uint32_t)off);
	if (i != count - 1)
		th[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (i != 0)
		th[13] &= (uint8_t)~TCP_CWR;
	set_checksums(out, ihl, tl);
	return (ssize_t)(hl + n);
}

/* ---- coalescing: the receive side ---------------------------------------- */

/*
 * @p p as a segment that may be merged: IPv4 without options or fragments,
 * or IPv6 with TCP right after the fixed header; lengths consistent; a
 * payload; flags ACK and at most PSH. Fills the header lengths.
 */
static bool mergeable(const uint8_t *p, size_t len, size_t *ihl, size_t *thl)
{
	if (len < IP4_HDR + TCP_HDR || len > GSO_MERGE_IN_MAX)
		return false;
	if ((p[0] >> 4) == 4) {
		if (p[0] != 0x45 || p[9] != PROTO_TCP || get_be16(p + 2) != len ||
		    (get_be16(p + 6) & 0x3fff) != 0) /* MF or a fragment offset */
			return false;
		*ihl = IP4_HDR;
	} else if ((p[0] >> 4) == 6) {
		if (len < IP6_HDR + TCP_HDR || p[6] != PROTO_TCP ||
		    get_be16(p + 4) != len - IP6_HDR)
			return false;
		*ihl = IP6_HDR;
	} else {
		return false;
	}
	*thl = (size_t)(p[*ihl + 12] >> 4) * 4;
	if (*thl < TCP_HDR || len - *ihl <= *thl)
		return false; /* no payload: nothing to merge (pure ACKs pass as they are) */
	return (p[*ihl + 13] & (uint8_t)~TCP_PSH) == TCP_ACK;
}

/* Same flow, next in sequence, same headers as the train (bar lengths, checksums, seq, ID). */
static bool extends(const struct gso_merge *m, const uint8_t *p, size_t ihl, size_t thl, size_t pay)
{
	const uint8_t *h = m->buf, *th = h + m->ihl, *qt = p + ihl;

	if (ihl != m->ihl || thl != m->thl || pay > m->mss || m->len + pay > GSO_MERGE_MAX ||
	    m->len + pay > m->cap)
		return false;
	if (ihl == IP4_HDR) {
		if (h[1] != p[1] || h[8] != p[8] || (h[6] & 0x40) != (p[6] & 0x40) ||
		    memcmp(h + 12, p + 12, 8) != 0)
			return false;
	} else if (memcmp(h, p, 4) != 0 || h[7] != p[7] || memcmp(h + 8, p + 8, 32) != 0) {
		return false;
	}
	return memcmp(th, qt, 4) == 0 && get_be32(qt + 4) == m->next_seq &&
	       memcmp(th + 8, qt + 8, 4) == 0 && memcmp(th + 14, qt + 14, 2) == 0 &&
	       memcmp(th + TCP_HDR, qt + TCP_HDR, thl - TCP_HDR) == 0;
}

void gso_merge_init(struct gso_merge *m, uint8_t *buf, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->cap = cap;
}

int gso_merge_flush(struct gso_merge *m, gso_emit_fn emit, void *arg)
{
	int r = 0;

	if (m->nseg == 0)
		return 0;
	if (m->nseg > 1) {
		if (m->ihl == IP4_HDR)
			put_be16(m->buf + 2, (uint16_t)m->len);
		else
			put_be16(m->buf + 4, (uint16_t)(m->len - IP6_HDR));
		set_checksums(m->buf, m->ihl, m->len - m->ihl);
		m->merged += (uint64_t)m->nseg;
	}
	r = emit(arg, m->buf, m->len);
	m->nseg = 0;
	m->len = 0;
	return r;
}

int gso_merge_push(struct gso_merge *m, const uint8_t *p, size_t len, gso_emit_fn emit, void *arg)
{
	size_t ihl, thl, pay;
	bool psh;
	int r = 0;

	if (!mergeable(p, len, &ihl, &thl)) {
		r = gso_merge_flush(m, emit, arg);
		return emit(arg, p, len) < 0 ? -1 : r;
	}
	pay = len - ihl - thl;
	psh = (p[ihl + 13] & TCP_PSH) != 0;
	if (m->nseg && extends(m, p, ihl, thl, pay)) {
		memcpy(m->buf + m->len, p + ihl + thl, pay);
		m->len += pay;
		m->next_seq += (uint32_t)pay;
		m->nseg++;
		if (psh)
			m->buf[m->ihl + 13] |= TCP_PSH;
		/* a short or pushed segment ends a train: nothing can join it */
		return psh || pay < m->mss ? gso_merge_flush(m, emit, arg) : 0;
	}
	r = gso_merge_flush(m, emit, arg);
	if (psh || len > m->cap) /* nothing can follow it */
		return emit(arg, p, len) < 0 ? -1 : r;
	memcpy(m->buf, p, len);
	m->len = len;
	m->ihl = ihl;
	m->thl = thl;
	m->mss = (uint16_t)pay;
	m->next_seq = get_be32(p + ihl + 4) + (uint32_t)pay;
	m->nseg = 1;
	return r;
}
