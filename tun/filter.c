/* SPDX-License-Identifier: MIT */
#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wire.h"

enum {
	IP4_HDR = 20,
	IP6_HDR = 40,
	TCP_HDR = 20,
	ICMP_HDR = 8,
	EXT_MIN = 8,
	FRAG_HDR = 8,
	PROTO_HOPOPTS = 0,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_ESP = 50,
	PROTO_AH = 51,
	PROTO_ICMPV6 = 58,
	PROTO_NONE = 59,
	PROTO_DSTOPTS = 60,
	IP4OPT_END = 0,
	IP4OPT_NOP = 1,
	IP4OPT_LSRR = 131,
	IP4OPT_SSRR = 137,
	ICMP4_ECHO_REPLY = 0,
	ICMP4_ECHO = 8,
	ICMP6_ECHO = 128,
	ICMP6_ECHO_REPLY = 129,
	TCP_SYN = 0x02,
	TCP_ACK = 0x10,
};

static const char *const reason_names[FILTER_REASON_COUNT] = {
    [FILTER_PASS] = "pass",
    [FILTER_TRUNCATED] = "truncated",
    [FILTER_MALFORMED] = "malformed",
    [FILTER_FRAGMENT] = "fragment",
    [FILTER_EXTHDR] = "extension header/option",
    [FILTER_NO_SESSION] = "no session",
    [FILTER_WRONG_SRC] = "wrong source",
    [FILTER_WRONG_DST] = "wrong destination",
    [FILTER_PROTO] = "protocol",
    [FILTER_PORT] = "port",
    [FILTER_ICMP] = "icmp type",
    [FILTER_OUT_SYN] = "device-initiated connection",
};

const char *filter_reason_str(enum filter_reason r)
{
	return (unsigned)r < FILTER_REASON_COUNT ? reason_names[r] : "unknown";
}

/* ---- parsing ---- */

/* Upper-layer header at l4_off: the fields the rules need, all bounds-checked. */
static enum filter_reason parse_l4(const uint8_t *p, size_t len, struct filter_info *fi)
{
	size_t off = fi->l4_off;

	if (fi->proto == PROTO_TCP) {
		size_t doff;

		if (len - off < TCP_HDR)
			return FILTER_TRUNCATED;
		doff = (size_t)(p[off + 12] >> 4) * 4;
		if (doff < TCP_HDR)
			return FILTER_MALFORMED;
		if (len - off < doff)
			return FILTER_TRUNCATED;
		fi->sport = get_be16(p + off);
		fi->dport = get_be16(p + off + 2);
		fi->tcp_flags = p[off + 13];
		return FILTER_PASS;
	}
	if (fi->proto == PROTO_UDP) {
		if (len - off < 8)
			return FILTER_TRUNCATED;
		fi->sport = get_be16(p + off);
		fi->dport = get_be16(p + off + 2);
		return FILTER_PASS;
	}
	if (fi->proto == PROTO_ICMP || fi->proto == PROTO_ICMPV6) {
		if (len - off < ICMP_HDR)
			return FILTER_TRUNCATED;
		fi->icmp_type = p[off];
		fi->icmp_code = p[off + 1];
	}
	return FILTER_PASS;
}

/* IPv4 options: only walked to refuse source routing, which the rules can't judge. */
static enum filter_reason parse_ip4_opts(const uint8_t *p, size_t hlen)
{
	size_t off = IP4_HDR;

	while (off < hlen) {
		uint8_t type = p[off];
		size_t olen;

		if (type == IP4OPT_END)
			break;
		if (type == IP4OPT_NOP) {
			off++;
			continue;
		}
		if (hlen - off < 2)
			return FILTER_MALFORMED;
		olen = p[off + 1];
		if (olen < 2 || hlen - off < olen)
			return FILTER_MALFORMED;
		if (type == IP4OPT_LSRR || type == IP4OPT_SSRR)
			return FILTER_EXTHDR;
		off += olen;
	}
	return FILTER_PASS;
}

static enum filter_reason parse_ip4(const uint8_t *p, size_t len, struct filter_info *fi)
{
	size_t hlen, tot;
	uint16_t frag;
	enum filter_reason r;

	if (len < IP4_HDR)
		return FILTER_TRUNCATED;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	tot = get_be16(p + 2);
	if (hlen < IP4_HDR || tot < hlen)
		return FILTER_MALFORMED;
	if (len < tot)
		return FILTER_TRUNCATED;
	r = parse_ip4_opts(p, hlen);
	if (r)
		return r;
	frag = get_be16(p + 6);
	if (frag & 0x1fff)
		return FILTER_FRAGMENT;
	fi->first_fragment = frag & 0x2000;
	fi->proto = p[9];
	ipaddr_from_bytes(&fi->src, AF_INET, p + 12, 32);
	ipaddr_from_bytes(&fi->dst, AF_INET, p + 16, 32);
	fi->ip_len = tot;
	fi->l4_off = hlen;
	return parse_l4(p, tot, fi);
}

/* One IPv6 extension header at *off: advances *off and *nh, or says why not. */
static enum filter_reason ext_step(const uint8_t *p, size_t len, size_t *off, uint8_t *nh,
				   struct filter_info *fi)
{
	size_t o = *off, hl;

	if (len - o < EXT_MIN)
		return FILTER_TRUNCATED;
	if (*nh == PROTO_FRAGMENT) {
		uint16_t fo = get_be16(p + o + 2);

		if (fo & 0xfff8)
			return FILTER_FRAGMENT;
		fi->first_fragment = fo & 1;
		hl = FRAG_HDR;
	} else if (*nh == PROTO_AH) {
		hl = ((size_t)p[o + 1] + 2) * 4;
	} else {
		hl = ((size_t)p[o + 1] + 1) * 8;
		if (*nh == PROTO_ROUTING && p[o + 3] != 0)
			return FILTER_EXTHDR; /* segments left: not the final destination */
	}
	if (len - o < hl)
		return FILTER_TRUNCATED;
	*nh = p[o];
	*off = o + hl;
	return FILTER_PASS;
}

static bool is_ext(uint8_t nh)
{
	return nh == PROTO_HOPOPTS || nh == PROTO_ROUTING || nh == PROTO_FRAGMENT ||
	       nh == PROTO_DSTOPTS || nh == PROTO_AH;
}

static enum filter_reason parse_ip6(const uint8_t *p, size_t len, struct filter_info *fi)
{
	size_t off = IP6_HDR, tot;
	uint8_t nh;
	int n;

	if (len < IP6_HDR)
		return FILTER_TRUNCATED;
	tot = IP6_HDR + (size_t)get_be16(p + 4);
	if (len < tot)
		return FILTER_TRUNCATED;
	nh = p[6];
	for (n = 0; is_ext(nh); n++) {
		enum filter_reason r;

		/* Hop-by-hop only first (RFC 8200 4.1); a bounded walk. */
		if (n == FILTER_MAX_EXTHDRS || (nh == PROTO_HOPOPTS && n > 0))
			return FILTER_EXTHDR;
		r = ext_step(p, tot, &off, &nh, fi);
		if (r)
			return r;
	}
	if (nh == PROTO_NONE || nh == PROTO_ESP)
		return FILTER_PROTO;
	fi->proto = nh;
	ipaddr_from_bytes(&fi->src, AF_INET6, p + 8, 128);
	ipaddr_from_bytes(&fi->dst, AF_INET6, p + 24, 128);
	fi->ip_len = tot;
	fi->l4_off = off;
	return parse_l4(p, tot, fi);
}

enum filter_reason filter_parse(const uint8_t *p, size_t len, struct filter_info *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 1)
		return FILTER_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return parse_ip4(p, len, out);
	case 6:
		return parse_ip6(p, len, out);
	default:
		return FILTER_MALFORMED;
	}
}

/* ---- sessions ---- */

struct fsess {
	bool used;
	struct filter_session_cfg cfg; /* cfg.ports points at ports[] below */
	uint16_t ports[FILTER_MAX_PORTS];
	struct filter_session_stats st;
};

struct filter {
	struct ipaddr dev4, dev6;
	unsigned max;
	struct filter_counters c;
	struct fsess *s;
	/* Compact copies of the client addresses for the per-packet scan. */
	uint32_t *key4;      /* per slot; 0 = none (0.0.0.0 is never a client) */
	uint8_t (*key6)[16]; /* per slot; valid when the slot's cfg has IPv6 */
};

int filter_new(const struct ipaddr *dev4, const struct ipaddr *dev6, unsigned max_sessions,
	       struct filter **out)
{
	struct filter *f;

	*out = NULL;
	if ((dev4 && dev4->family != AF_INET) || (dev6 && dev6->family != AF_INET6) ||
	    !max_sessions)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->s = calloc(max_sessions, sizeof(*f->s));
	f->key4 = calloc(max_sessions, sizeof(*f->key4));
	f->key6 = calloc(max_sessions, sizeof(*f->key6));
	if (!f->s || !f->key4 || !f->key6) {
		filter_free(f);
		return -ENOMEM;
	}
	if (dev4)
		f->dev4 = *dev4;
	if (dev6)
		f->dev6 = *dev6;
	f->max = max_sessions;
	*out = f;
	return 0;
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	free(f->s);
	free(f->key4);
	free(f->key6);
	free(f);
}

static struct fsess *by_id(const struct filter *f, uint64_t id)
{
	for (unsigned i = 0; i < f->max; i++)
		if (f->s[i].used && f->s[i].cfg.id == id)
			return &f->s[i];
	return NULL;
}

static const struct ipaddr *client_of(const struct fsess *s, int family)
{
	return family == AF_INET ? &s->cfg.client4 : &s->cfg.client6;
}

/* Linear over compact keys: a device runs a handful of sessions (~10 ns for 32). */
static struct fsess *by_client(const struct filter *f, const struct ipaddr *a)
{
	if (a->family == AF_INET) {
		uint32_t k = get_be32(a->a);

		for (unsigned i = 0; k && i < f->max; i++)
			if (f->key4[i] == k)
				return &f->s[i];
		return NULL;
	}
	for (unsigned i = 0; i < f->max; i++)
		if (f->s[i].used && f->s[i].cfg.client6.family && memcmp(f->key6[i], a->a, 16) == 0)
			return &f->s[i];
	return NULL;
}

static void set_keys(struct filter *f, const struct fsess *s)
{
	size_t i = (size_t)(s - f->s);

	f->key4[i] = s->used && s->cfg.client4.family ? get_be32(s->cfg.client4.a) : 0;
	memcpy(f->key6[i], s->cfg.client6.a, 16);
}

static int cfg_check(const struct filter_session_cfg *cfg)
{
	if (cfg->id == FILTER_ANY_SESSION || (!cfg->client4.family && !cfg->client6.family))
		return -EINVAL;
	if (cfg->client4.family == AF_INET && get_be32(cfg->client4.a) == 0)
		return -EINVAL;
	if ((cfg->client4.family && cfg->client4.family != AF_INET) ||
	    (cfg->client6.family && cfg->client6.family != AF_INET6))
		return -EINVAL;
	if (cfg->ports && cfg->nports > FILTER_MAX_PORTS)
		return -EINVAL;
	for (size_t i = 0; cfg->ports && i < cfg->nports; i++)
		if (!cfg->ports[i])
			return -EINVAL;
	return 0;
}

static bool addr_taken(const struct filter *f, const struct ipaddr *a)
{
	return a->family && by_client(f, a);
}

int filter_session_add(struct filter *f, const struct filter_session_cfg *cfg)
{
	struct fsess *s = NULL;
	int err = cfg_check(cfg);

	if (err)
		return err;
	if (by_id(f, cfg->id) || addr_taken(f, &cfg->client4) || addr_taken(f, &cfg->client6))
		return -EEXIST;
	for (unsigned i = 0; i < f->max && !s; i++)
		if (!f->s[i].used)
			s = &f->s[i];
	if (!s)
		return -ENOSPC;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (cfg->ports) {
		memcpy(s->ports, cfg->ports, cfg->nports * sizeof(uint16_t));
	} else {
		s->ports[0] = FILTER_DEFAULT_PORT;
		s->cfg.nports = 1;
	}
	s->cfg.ports = s->ports;
	s->cfg.client4.plen = s->cfg.client4.family ? 32 : 0;
	s->cfg.client6.plen = s->cfg.client6.family ? 128 : 0;
	s->used = true;
	set_keys(f, s);
	return 0;
}

int filter_session_remove(struct filter *f, uint64_t id)
{
	struct fsess *s = by_id(f, id);

	if (!s)
		return -ENOENT;
	memset(s, 0, sizeof(*s));
	set_keys(f, s);
	return 0;
}

int filter_session_stats(const struct filter *f, uint64_t id, struct filter_session_stats *st)
{
	const struct fsess *s = by_id(f, id);

	if (!s)
		return -ENOENT;
	*st = s->st;
	return 0;
}

void filter_get_counters(const struct filter *f, struct filter_counters *c)
{
	*c = f->c;
}

/* ---- rules ---- */

static bool port_allowed(const struct fsess *s, uint16_t port)
{
	for (size_t i = 0; i < s->cfg.nports; i++)
		if (s->ports[i] == port)
			return true;
	return false;
}

static const struct ipaddr *dev_addr(const struct filter *f, int family)
{
	return family == AF_INET ? &f->dev4 : &f->dev6;
}

static enum filter_reason judge_in(const struct fsess *s, const struct filter_info *fi)
{
	bool v4 = fi->src.family == AF_INET;

	if (fi->proto == PROTO_TCP)
		return port_allowed(s, fi->dport) ? FILTER_PASS : FILTER_PORT;
	if (fi->proto == (v4 ? PROTO_ICMP : PROTO_ICMPV6)) {
		bool echo = fi->icmp_type == (v4 ? ICMP4_ECHO : ICMP6_ECHO) && fi->icmp_code == 0;

		return echo && !s->cfg.deny_icmp_echo ? FILTER_PASS : FILTER_ICMP;
	}
	return FILTER_PROTO;
}

static enum filter_reason judge_out(const struct fsess *s, const struct filter_info *fi)
{
	bool v4 = fi->src.family == AF_INET;

	if (fi->proto == PROTO_TCP) {
		if (!port_allowed(s, fi->sport))
			return FILTER_PORT;
		return (fi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN ? FILTER_OUT_SYN
									: FILTER_PASS;
	}
	if (fi->proto == (v4 ? PROTO_ICMP : PROTO_ICMPV6)) {
		bool reply = fi->icmp_type == (v4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY) &&
			     fi->icmp_code == 0;

		return reply && !s->cfg.deny_icmp_echo ? FILTER_PASS : FILTER_ICMP;
	}
	return FILTER_PROTO;
}

static void set_match(struct filter_match *m, const struct fsess *s)
{
	if (!m)
		return;
	m->session_id = s ? s->cfg.id : FILTER_ANY_SESSION;
	m->ctx = s ? s->cfg.ctx : NULL;
}

static enum filter_reason count(struct filter *f, struct fsess *s, bool in, enum filter_reason r)
{
	if (r == FILTER_PASS) {
		*(in ? &f->c.passed_in : &f->c.passed_out) += 1;
		if (s)
			*(in ? &s->st.passed_in : &s->st.passed_out) += 1;
	} else {
		(in ? f->c.drop_in : f->c.drop_out)[r]++;
		if (s)
			*(in ? &s->st.dropped_in : &s->st.dropped_out) += 1;
	}
	return r;
}

static enum filter_reason inbound(struct filter *f, uint64_t sid, const uint8_t *p, size_t len,
				  struct fsess **sp)
{
	struct filter_info fi;
	enum filter_reason r;

	*sp = sid == FILTER_ANY_SESSION ? NULL : by_id(f, sid);
	if (sid != FILTER_ANY_SESSION && !*sp)
		return FILTER_NO_SESSION;
	r = filter_parse(p, len, &fi);
	if (r)
		return r;
	if (!*sp && !(*sp = by_client(f, &fi.src)))
		return FILTER_NO_SESSION;
	if (!ipaddr_same_host(client_of(*sp, fi.src.family), &fi.src))
		return FILTER_WRONG_SRC;
	if (!ipaddr_same_host(dev_addr(f, fi.dst.family), &fi.dst))
		return FILTER_WRONG_DST;
	if (fi.first_fragment) /* its later fragments never pass: nothing whole can get in */
		return FILTER_FRAGMENT;
	return judge_in(*sp, &fi);
}

enum filter_reason filter_inbound(struct filter *f, uint64_t sid, const uint8_t *p, size_t len,
				  struct filter_match *m)
{
	struct fsess *s = NULL;
	enum filter_reason r = inbound(f, sid, p, len, &s);

	set_match(m, s);
	return count(f, s, true, r);
}

static enum filter_reason outbound(struct filter *f, const uint8_t *p, size_t len,
				   struct fsess **sp)
{
	struct filter_info fi;
	enum filter_reason r = filter_parse(p, len, &fi);

	if (r)
		return r;
	if (!ipaddr_same_host(dev_addr(f, fi.src.family), &fi.src))
		return FILTER_WRONG_SRC;
	*sp = by_client(f, &fi.dst);
	if (!*sp)
		return FILTER_NO_SESSION;
	if (fi.first_fragment)
		return FILTER_FRAGMENT;
	return judge_out(*sp, &fi);
}

enum filter_reason filter_outbound(struct filter *f, const uint8_t *p, size_t len,
				   struct filter_match *m)
{
	struct fsess *s = NULL;
	enum filter_reason r = outbound(f, p, len, &s);

	set_match(m, s);
	return count(f, s, false, r);
}
