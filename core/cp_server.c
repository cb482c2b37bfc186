/* SPDX-License-Identifier: MIT */
#include "cp_server.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "cp_dir.h"
#include "cp_frame.h"
#include "cp_hs.h"
#include "cp_rot.h"
#include "cp_srv_enroll.h"
#include "cp_srv_fetched.h"
#include "cp_srv_quota.h"
#include "cp_store.h"
#include "log.h"
#include "net.h"
#include "wire.h"

enum {
	IN_CAP_IDLE = 256,         /**< input buffer of an idle connection */
	IN_CAP_BUSY = 16384,       /**< ... grown to this (or the frame size) when needed */
	OUT_MAX = 4 * 1024 * 1024, /**< output queue cap per connection */
	BACKFILL_BATCH = 64,       /**< rows per queue scan */
	HOUSEKEEP_S = 5,           /**< expiry sweep */
	CHANGE_CHECK_S = 1,        /**< operator commands (revoke, remove): a cheap version check */
	LINGER_S = 2,              /**< s: drain input after an error before closing */
};

enum sc_state { SC_HELLO, SC_AUTH, SC_READY, SC_CLOSING };

/** An identity hosted here (enrolled), in memory. */
struct home {
	struct pubkeys pk;
	uint8_t keysig[CP_SIG_LEN];
	struct cp_srv_quota q; /**< its queue and what it sent (rebuilt from the store) */
	struct sconn *monitor;
	uint64_t pushed;   /**< highest seq pushed to the monitor */
	bool backlog;      /**< queued rows above `pushed` may be unsent */
	bool seen;         /**< reload mark */
	bool revoked;      /**< revoked by the operator: every use refused */
	struct home *next; /**< hash chain */
};

/** One client connection. */
struct sconn {
	struct conn c;
	struct cp_server *srv;
	ev_timer timer;
	enum sc_state state;
	struct cp_sess sess;
	uint8_t challenge[CP_CHALLENGE_LEN];
	struct home *home;             /**< authenticated identity */
	struct cp_srv_fetched fetched; /**< whose keys it fetched (told of their revocation) */
	double last;                   /**< last frame (ev_now) */
	bool dead;
	bool dirty;                /**< queued output not yet flushed (on s->dirty) */
	struct sconn *prev, *next; /**< all live connections */
	struct sconn *next_dead;
	struct sconn *next_dirty;
};

/** An answer held back until the transaction commits. */
struct deferred {
	struct sconn *sc;
	uint32_t req;
	uint8_t type;  /**< CP_T_R_OK or CP_T_R_NOTIFIED */
	uint8_t flags; /**< CP_T_R_NOTIFIED's */
	uint64_t seq;
};

struct cp_server {
	struct ev_loop *loop;
	struct cp_store *st;
	struct cp_dir *dir;
	uint8_t sk[CP_KEY_LEN], pk[CP_KEY_LEN];
	int lfd;
	ev_io accept_w;
	ev_prepare commit_w;
	ev_timer house_w;
	ev_timer change_w;
	struct cp_server_cfg cfg;
	char advertise[CP_HOSTPORT_BUF];
	/* homes: chained hash keyed by SipHash of the handle */
	struct home **buckets;
	size_t nbuckets, nhomes;
	uint8_t hkey[16];
	/* connections */
	struct sconn *conns, *dead;
	struct sconn *dirty; /* corked connections with output queued this iteration */
	unsigned nconns;
	bool cork; /* batch output per loop iteration (PORTLESS_CP_NO_CORK=1: off) */
	/* group commit */
	struct deferred *defer;
	size_t ndefer, defer_cap;
	uint64_t seq;
	/* scratch: decrypted input, encoded output (one each; single-threaded) */
	uint8_t *rx, *tx;
	struct cp_srv_enroll_limit enroll; /**< global wrong-code limit */
	struct cp_server_stats stats;
};

static void sc_close(struct sconn *sc);
static void home_drop(struct cp_server *s, struct home *h);
static void home_revoke(struct cp_server *s, struct home *h);
static void backfill(struct cp_server *s, struct home *h);

/* ---------------- homes ---------------- */

/* Keyed hash of a handle: the homes table's and the fetched sets' key. */
static uint64_t handle_hash(const struct cp_server *s, const char *handle)
{
	uint8_t h[8];

	crypto_shorthash(h, (const uint8_t *)handle, strlen(handle), s->hkey);
	return get_be64(h);
}

static size_t hslot(const struct cp_server *s, const char *handle)
{
	return (size_t)handle_hash(s, handle) & (s->nbuckets - 1);
}

static struct home *home_find(const struct cp_server *s, const char *handle)
{
	for (struct home *h = s->buckets[hslot(s, handle)]; h; h = h->next)
		if (!strcmp(h->pk.handle, handle))
			return h;
	return NULL;
}

static int homes_grow(struct cp_server *s)
{
	size_t n = s->nbuckets * 2;
	struct home **b = calloc(n, sizeof(*b)), **old = s->buckets;
	size_t oldn = s->nbuckets;

	if (!b)
		return -ENOMEM;
	s->buckets = b;
	s->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		for (struct home *h = old[i], *nx; h; h = nx) {
			size_t k = hslot(s, h->pk.handle);

			nx = h->next;
			h->next = b[k];
			b[k] = h;
		}
	}
	free(old);
	return 0;
}

static struct home *home_add(struct cp_server *s, const struct pubkeys *pk,
			     const uint8_t keysig[CP_SIG_LEN])
{
	struct home *h;
	size_t k;

	if (s->nhomes >= s->nbuckets && homes_grow(s) < 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->pk = *pk;
	memcpy(h->keysig, keysig, CP_SIG_LEN);
	k = hslot(s, pk->handle);
	h->next = s->buckets[k];
	s->buckets[k] = h;
	s->nhomes++;
	return h;
}

static void home_unlink(struct cp_server *s, struct home *h)
{
	struct home **pp = &s->buckets[hslot(s, h->pk.handle)];

	while (*pp && *pp != h)
		pp = &(*pp)->next;
	if (*pp)
		*pp = h->next;
	s->nhomes--;
}

static bool hosts_cb(void *ctx, const char *handle)
{
	return home_find(ctx, handle) != NULL;
}

/* The quota counters of @p handle, NULL when it is not hosted here. */
static struct cp_srv_quota *quota_of(const struct cp_server *s, const char *handle)
{
	struct home *h = home_find(s, handle);

	return h ? &h->q : NULL;
}

/* Queue counters, rebuilt from the store. */
static void count_row(void *arg, const struct cp_qitem *it)
{
	struct cp_server *s = arg;

	cp_srv_quota_add(quota_of(s, it->rcpt), quota_of(s, it->sender), it->len);
}

static void uncount_row(void *arg, const struct cp_qitem *it)
{
	struct cp_server *s = arg;

	cp_srv_quota_del(quota_of(s, it->rcpt), quota_of(s, it->sender), it->len);
}

static void mark_ident(void *arg, const struct cp_ident *id)
{
	struct cp_server *s = arg;
	struct home *h;

	if (id->state != CP_ID_ENROLLED && id->state != CP_ID_REVOKED)
		return;
	h = home_find(s, id->pk.handle);
	if (h && !pubkeys_equal(&h->pk, &id->pk)) {
		home_drop(s, h); /* removed and enrolled again with other keys */
		h = NULL;
	}
	if (!h)
		h = home_add(s, &id->pk, id->keysig);
	if (!h)
		return;
	h->seen = true;
	if (id->state == CP_ID_REVOKED && !h->revoked)
		home_revoke(s, h);
}

/* Close connections of a home and forget it. */
static void home_drop(struct cp_server *s, struct home *h)
{
	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		if (sc->home == h)
			sc_close(sc);
	home_unlink(s, h);
	free(h);
}

/* (Re)load identities and counters from the store (start-up, external edits). */
static int homes_reload(struct cp_server *s)
{
	int r;

	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct home *h = s->buckets[i]; h; h = h->next)
			h->seen = false;
	r = cp_store_list(s->st, mark_ident, s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct home *h = s->buckets[i], *nx; h; h = nx) {
			nx = h->next;
			if (!h->seen)
				home_drop(s, h);
			else
				h->q = (struct cp_srv_quota){0};
		}
	}
	return cp_store_queue_all(s->st, count_row, s);
}

/* ---------------- sending ---------------- */

/* Seal s->tx[CP_FRAME_HDR..+len) in place and queue it. */
static int send_tx(struct sconn *sc, size_t len)
{
	struct cp_server *s = sc->srv;
	int n = cp_sess_seal(&sc->sess, s->tx + CP_FRAME_HDR, len, s->tx, CP_FRAME_MAX);

	if (n < 0)
		return n;
	n = conn_write(&sc->c, s->tx, (size_t)n);
	if (n == 0 && sc->c.corked && !sc->dirty) {
		sc->dirty = true;
		sc->next_dirty = s->dirty;
		s->dirty = sc;
	}
	return n;
}

/* Send what this loop iteration queued: one send per connection, not per frame. */
static void flush_dirty(struct cp_server *s)
{
	while (s->dirty) {
		struct sconn *sc = s->dirty;

		s->dirty = sc->next_dirty;
		sc->dirty = false;
		if (!sc->dead)
			(void)conn_flush(&sc->c);
	}
}

static int send_msg(struct sconn *sc, const struct cp_msg *m)
{
	int n;

	if (sc->dead || sc->state == SC_CLOSING)
		return -EPIPE;
	n = cp_msg_encode(m, sc->srv->tx + CP_FRAME_HDR, CP_MSG_MAX);
	if (n < 0) {
		log_msg(PL_LOG_ERR, "cp: cannot encode message type 0x%02x", m->type);
		return n;
	}
	return send_tx(sc, (size_t)n);
}

static int send_simple(struct sconn *sc, uint8_t type, uint32_t req, uint64_t seq, uint8_t flags)
{
	struct cp_msg m = {.type = type, .req = req, .seq = seq, .flags = flags};

	return send_msg(sc, &m);
}

static int send_err(struct sconn *sc, uint32_t req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int send_err(struct sconn *sc, uint32_t req, int code, const char *fmt, ...)
{
	struct cp_msg m = {.type = CP_T_R_ERR, .req = req, .err = (uint16_t)code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.errmsg, sizeof(m.errmsg), fmt, ap);
	va_end(ap);
	return send_msg(sc, &m);
}

/* Send an error, then stop reading requests, shut down the write side and close soon. */
static void fail_conn(struct sconn *sc, uint32_t req, int code, const char *why)
{
	if (sc->dead)
		return;
	if (sc->state != SC_HELLO) {
		(void)send_err(sc, req, code, "%s", why);
		if (conn_flush(&sc->c) < 0)
			return; /* the socket failed: it is closed */
	}
	log_msg(PL_LOG_INFO, "cp: closing connection%s%s: %s", sc->home ? " of " : "",
		sc->home ? sc->home->pk.handle : "", why);
	sc->state = SC_CLOSING;
	if (conn_pending(&sc->c) == 0)
		shutdown(sc->c.fd, SHUT_WR);
	ev_timer_stop(sc->srv->loop, &sc->timer);
	ev_timer_set(&sc->timer, LINGER_S, 0);
	ev_timer_start(sc->srv->loop, &sc->timer);
}

static int defer_answer(struct cp_server *s, struct sconn *sc, uint32_t req, uint8_t type,
			uint64_t seq, uint8_t flags)
{
	if (s->ndefer == s->defer_cap) {
		size_t cap = s->defer_cap ? s->defer_cap * 2 : 256;
		void *p = realloc(s->defer, cap * sizeof(*s->defer));

		if (!p)
			return -ENOMEM;
		s->defer = p;
		s->defer_cap = cap;
	}
	s->defer[s->ndefer++] =
	    (struct deferred){.sc = sc, .req = req, .type = type, .flags = flags, .seq = seq};
	return 0;
}

/* Open the iteration's transaction on first write. */
static int write_begin(struct cp_server *s)
{
	return cp_store_begin(s->st);
}

/* ---------------- pushes ---------------- */

static int push(struct sconn *sc, uint64_t seq, uint64_t expiry, const uint8_t *env, size_t len)
{
	struct cp_msg m = {
	    .type = CP_T_PUSH, .seq = seq, .expiry = expiry, .data = env, .data_len = len};
	int r = send_msg(sc, &m);

	if (r == 0)
		sc->srv->stats.pushes++;
	return r;
}

static int backfill_row(void *arg, const struct cp_qitem *it)
{
	struct home *h = arg;
	struct sconn *sc = h->monitor;

	if (!sc || conn_congested(&sc->c))
		return 1;
	if (push(sc, it->seq, it->expiry, it->env, it->len) < 0) {
		sc_close(sc);
		return 1;
	}
	h->pushed = it->seq;
	return 0;
}

/* Push queued rows above h->pushed until done or the monitor is congested. */
static void backfill(struct cp_server *s, struct home *h)
{
	uint64_t before;

	while (h->monitor && h->backlog && !conn_congested(&h->monitor->c)) {
		before = h->pushed;
		if (cp_store_queue_scan(s->st, h->pk.handle, h->pushed, net_unix_now(),
					BACKFILL_BATCH, backfill_row, h) < 0)
			return;
		if (h->pushed == before)
			h->backlog = false; /* nothing more (or stopped with nothing sent) */
	}
}

/* ---------------- revocation ---------------- */

/*
 * Tell every other authenticated connection that fetched @p h's keys that
 * it is revoked (CP_T_REVOKED, req 0). The frame needs no signature of its
 * own: it comes on the AEAD session keyed by the handshake with the server
 * key the client pinned, from the very server that answers for the keys.
 */
static unsigned tell_revoked(struct cp_server *s, const struct home *h)
{
	struct cp_msg m = {.type = CP_T_REVOKED};
	uint64_t hash = handle_hash(s, h->pk.handle);
	unsigned told = 0;

	snprintf(m.handle, sizeof(m.handle), "%s", h->pk.handle);
	for (struct sconn *sc = s->conns; sc; sc = sc->next) {
		if (sc->dead || sc->state != SC_READY || sc->home == h ||
		    !cp_srv_fetched_has(&sc->fetched, hash))
			continue;
		if (send_msg(sc, &m) < 0)
			sc_close(sc); /* output queue over its cap: it learns on reconnect */
		else
			told++;
	}
	return told;
}

/* @p h is revoked from now on: its connections go, its fetchers are told. */
static void home_revoke(struct cp_server *s, struct home *h)
{
	unsigned told;

	h->revoked = true; /* the home stays to answer "revoked" */
	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		if (sc->home == h)
			sc_close(sc);
	told = tell_revoked(s, h);
	log_msg(PL_LOG_INFO, "cp: %s is revoked (told %u connection%s that fetched its keys)",
		h->pk.handle, told, told == 1 ? "" : "s");
}

/* ---------------- operations ---------------- */

static int op_auth(struct sconn *sc, const struct cp_msg *m)
{
	struct home *h = home_find(sc->srv, m->handle);

	if (!h) {
		fail_conn(sc, m->req, CP_E_UNKNOWN_IDENTITY, "unknown identity");
		return -1;
	}
	if (h->revoked) {
		fail_conn(sc, m->req, CP_E_REVOKED, "identity revoked");
		return -1;
	}
	if (!cp_auth_verify(h->pk.sign_pk, m->handle, sc->challenge, sc->sess.sid, m->sig)) {
		fail_conn(sc, m->req, CP_E_AUTH, "identity authentication failed");
		return -1;
	}
	sc->home = h;
	sc->state = SC_READY;
	log_msg(PL_LOG_DEBUG, "cp: %s authenticated", h->pk.handle);
	return send_simple(sc, CP_T_R_OK, m->req, 0, 0);
}

/* A wrong code: count it (per handle, persisted; and globally) and refuse. */
static int enroll_wrong(struct sconn *sc, const struct cp_msg *m, const struct cp_ident *id,
			int code, const char *why)
{
	struct cp_server *s = sc->srv;
	uint32_t fails = id->fails + 1;

	cp_srv_enroll_failed(&s->enroll);
	if (write_begin(s) == 0)
		if (cp_store_set_fails(s->st, m->handle, fails,
				       net_unix_now() + cp_srv_enroll_backoff(fails)) < 0)
			log_msg(PL_LOG_ERR, "cp: cannot record a failed enrollment");
	log_msg(PL_LOG_WARN, "cp: enrollment of %s refused: %s", m->handle, why);
	fail_conn(sc, m->req, code, why);
	return -1;
}

static int enroll_check(struct sconn *sc, const struct cp_msg *m, struct cp_ident *id)
{
	uint8_t hash[CP_HASH_LEN];
	uint64_t now = net_unix_now();
	int r;

	if (cp_srv_enroll_limited(&sc->srv->enroll, ev_now(sc->srv->loop))) {
		fail_conn(sc, m->req, CP_E_RATE_LIMITED,
			  "too many enrollment attempts, retry later");
		return -1;
	}
	r = cp_store_get_ident(sc->srv->st, m->handle, id);
	if (r == -EIO) {
		fail_conn(sc, m->req, CP_E_STORE, "server storage failure");
		return -1;
	}
	if (r == -ENOENT) {
		fail_conn(sc, m->req, CP_E_UNKNOWN_IDENTITY,
			  "no such identity slot (the operator runs: portless-cp add)");
		return -1;
	}
	if (now < id->next_try) {
		fail_conn(sc, m->req, CP_E_RATE_LIMITED, "too many wrong codes, retry later");
		return -1;
	}
	cp_code_hash(m->code, hash);
	if (sodium_memcmp(hash, id->code_hash, CP_HASH_LEN) != 0)
		return enroll_wrong(sc, m, id, CP_E_CODE_INVALID, "wrong enrollment code");
	if (id->state == CP_ID_REVOKED) {
		fail_conn(sc, m->req, CP_E_REVOKED, "identity revoked");
		return -1;
	}
	if (id->state == CP_ID_ENROLLED) {
		fail_conn(sc, m->req, CP_E_CODE_USED, "enrollment code already used");
		return -1;
	}
	if (now >= id->code_expiry) {
		fail_conn(sc, m->req, CP_E_CODE_EXPIRED, "enrollment code expired");
		return -1;
	}
	return 0;
}

static int op_enroll(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	struct cp_ident id;
	struct pubkeys pk = {0};
	struct home *h;

	if (enroll_check(sc, m, &id) < 0)
		return -1;
	snprintf(pk.handle, sizeof(pk.handle), "%s", m->handle);
	memcpy(pk.sign_pk, m->sign_pk, CP_KEY_LEN);
	memcpy(pk.box_pk, m->box_pk, CP_KEY_LEN);
	if (!cp_keys_verify(&pk, m->keysig) ||
	    !cp_auth_verify(pk.sign_pk, pk.handle, sc->challenge, sc->sess.sid, m->sig)) {
		fail_conn(sc, m->req, CP_E_AUTH, "enrollment signatures invalid");
		return -1;
	}
	if (write_begin(s) < 0 || cp_store_enroll(s->st, &pk, m->keysig) < 0) {
		fail_conn(sc, m->req, CP_E_STORE, "server storage failure");
		return -1;
	}
	h = home_find(s, pk.handle);
	if (h)
		home_drop(s, h); /* stale (re-added after remove) */
	h = home_add(s, &pk, m->keysig);
	if (!h) {
		fail_conn(sc, m->req, CP_E_INTERNAL, "out of memory");
		return -1;
	}
	sc->home = h;
	sc->state = SC_READY;
	log_msg(PL_LOG_INFO, "cp: %s enrolled", pk.handle);
	return defer_answer(s, sc, m->req, CP_T_R_OK, 0, 0);
}

static int op_lookup(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_dir_entry e;
	struct cp_msg a = {.type = CP_T_R_LOOKUP, .req = m->req};

	if (cp_dir_lookup(sc->srv->dir, m->handle, &e) < 0)
		return send_err(sc, m->req, CP_E_UNKNOWN_IDENTITY, "unknown identity %s",
				m->handle);
	snprintf(a.handle, sizeof(a.handle), "%s", m->handle);
	snprintf(a.hostport, sizeof(a.hostport), "%s", e.hostport);
	memcpy(a.server_pk, e.server_pk, CP_KEY_LEN);
	return send_msg(sc, &a);
}

static int op_get_keys(struct sconn *sc, const struct cp_msg *m)
{
	struct home *h = home_find(sc->srv, m->handle);
	struct cp_msg a = {.type = CP_T_R_KEYS, .req = m->req};
	uint8_t rot[CP_RECORD_MAX];
	size_t rot_len = 0;

	if (!h)
		return send_err(sc, m->req, CP_E_UNKNOWN_IDENTITY, "unknown identity %s",
				m->handle);
	if (h->revoked)
		return send_err(sc, m->req, CP_E_REVOKED, "%s is revoked", m->handle);
	snprintf(a.handle, sizeof(a.handle), "%s", h->pk.handle);
	memcpy(a.sign_pk, h->pk.sign_pk, CP_KEY_LEN);
	memcpy(a.box_pk, h->pk.box_pk, CP_KEY_LEN);
	memcpy(a.keysig, h->keysig, CP_SIG_LEN);
	/* the latest rotation proof, for peers that pinned the previous keys */
	if (cp_store_get_record(sc->srv->st, h->pk.handle, CP_ROT_RECORD, rot, sizeof(rot),
				&rot_len) == 0 &&
	    rot_len > 0 && rot_len <= CP_ROT_MAX) {
		a.data = rot;
		a.data_len = rot_len;
	}
	cp_srv_fetched_add(&sc->fetched, handle_hash(sc->srv, h->pk.handle));
	return send_msg(sc, &a);
}

static int op_put_record(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	int r;

	if (write_begin(s) < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	r = cp_store_put_record(s->st, sc->home->pk.handle, m->name, m->data, m->data_len);
	if (r == -EDQUOT)
		return send_err(sc, m->req, CP_E_LIMIT, "at most %d records per identity",
				CP_RECORDS_PER_ID);
	if (r < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	return defer_answer(s, sc, m->req, CP_T_R_OK, 0, 0);
}

static int op_get_record(struct sconn *sc, const struct cp_msg *m)
{
	uint8_t buf[CP_RECORD_MAX];
	struct cp_msg a = {.type = CP_T_R_RECORD, .req = m->req, .data = buf};
	int r;

	if (!home_find(sc->srv, m->handle))
		return send_err(sc, m->req, CP_E_UNKNOWN_IDENTITY, "unknown identity %s",
				m->handle);
	r = cp_store_get_record(sc->srv->st, m->handle, m->name, buf, sizeof(buf), &a.data_len);
	if (r == -ENOENT)
		return send_err(sc, m->req, CP_E_NOT_FOUND, "%s has no record '%s'", m->handle,
				m->name);
	if (r < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	return send_msg(sc, &a);
}

static int op_del_record(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	int r;

	if (write_begin(s) < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	r = cp_store_del_record(s->st, sc->home->pk.handle, m->name);
	if (r == -ENOENT)
		return send_err(sc, m->req, CP_E_NOT_FOUND, "no record '%s'", m->name);
	if (r < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	return defer_answer(s, sc, m->req, CP_T_R_OK, 0, 0);
}

/* The checks a home makes before queueing: sender, recipient, expiry, limits. */
static int notify_check(struct sconn *sc, const struct cp_msg *m, struct home **rcpt)
{
	char from[HANDLE_BUF], to[HANDLE_BUF];
	uint64_t now = net_unix_now();
	struct home *r;
	int e;

	if (envelope_peek(m->data, m->data_len, from, to) != ENV_OK)
		return send_err(sc, m->req, CP_E_PROTO, "malformed envelope"), -1;
	if (strcmp(from, sc->home->pk.handle) != 0)
		return send_err(sc, m->req, CP_E_FORGED_SENDER,
				"envelope sender %s is not you (%s)", from, sc->home->pk.handle),
		       -1;
	r = home_find(sc->srv, to);
	if (!r)
		return send_err(sc, m->req, CP_E_UNKNOWN_IDENTITY, "unknown identity %s", to), -1;
	if (r->revoked)
		return send_err(sc, m->req, CP_E_REVOKED, "%s is revoked", to), -1;
	if (m->expiry <= now || m->expiry > now + CP_EXPIRY_MAX + CP_CLOCK_SKEW)
		return send_err(sc, m->req, CP_E_EXPIRY, "expiry must be within one day"), -1;
	e = cp_srv_quota_check(&r->q, &sc->home->q, m->data_len);
	if (e == CP_E_QUEUE_FULL)
		return send_err(sc, m->req, CP_E_QUEUE_FULL, "queue of %s is full", to), -1;
	if (e == CP_E_QUOTA)
		return send_err(sc, m->req, CP_E_QUOTA,
				"you have %d notifications queued; wait for acknowledgements",
				CP_SENDER_QUOTA),
		       -1;
	*rcpt = r;
	return 0;
}

static int op_notify(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	struct home *r;
	uint64_t seq;

	if (notify_check(sc, m, &r) < 0)
		return sc->dead ? -1 : 0;
	seq = ++s->seq;
	if (write_begin(s) < 0 || cp_store_queue_add(s->st, seq, r->pk.handle, sc->home->pk.handle,
						     m->expiry, m->data, m->data_len) < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	cp_srv_quota_add(&r->q, &sc->home->q, m->data_len);
	s->stats.notifies++;
	/* Push now (before the commit): the recipient may see it a moment early,
	 * harmless (at-least-once + its replay cache); the sender's answer waits. */
	if (r->monitor && !r->backlog && !conn_congested(&r->monitor->c)) {
		if (push(r->monitor, seq, m->expiry, m->data, m->data_len) == 0)
			r->pushed = seq;
		else
			sc_close(r->monitor);
	} else if (r->monitor) {
		r->backlog = true;
	}
	/* The sender learns whether the recipient is connected (presence): what
	 * `portless ssh` needs to say "device offline" at once. */
	return defer_answer(s, sc, m->req, CP_T_R_NOTIFIED, seq,
			    r->monitor ? CP_NOTIFIED_ONLINE : 0);
}

static int op_monitor(struct sconn *sc, const struct cp_msg *m)
{
	struct home *h = sc->home;
	int r;

	if (h->monitor && h->monitor != sc) {
		struct sconn *old = h->monitor;

		h->monitor = NULL;
		fail_conn(old, 0, CP_E_REPLACED, "replaced by a newer monitor connection");
	}
	h->monitor = sc;
	h->pushed = 0;
	h->backlog = true;
	r = send_simple(sc, CP_T_R_OK, m->req, 0, 0);
	if (r < 0)
		return r;
	backfill(sc->srv, h);
	return sc->dead ? -1 : 0;
}

static int op_ack(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	char sender[HANDLE_BUF];
	size_t len;

	if (write_begin(s) < 0)
		return 0; /* not acknowledged: it will be pushed again */
	for (uint16_t i = 0; i < m->nack; i++) {
		uint64_t seq = get_be64(m->acks + 8 * (size_t)i);
		struct cp_qitem it = {.rcpt = sc->home->pk.handle, .sender = sender};

		if (cp_store_queue_del(s->st, sc->home->pk.handle, seq, sender, &len) < 0)
			continue;
		it.len = len;
		uncount_row(s, &it);
		s->stats.acks++;
	}
	return 0;
}

/*
 * ROTATE: the authenticated identity replaces its keys. The proof must be
 * signed by its current key and name the new keys, which carry their own
 * self-signature. The proof is kept (record CP_ROT_RECORD) and handed out
 * with the keys; connections stay (they authenticated with the old key).
 */
static int op_rotate(struct sconn *sc, const struct cp_msg *m)
{
	struct cp_server *s = sc->srv;
	struct home *h = sc->home;
	struct pubkeys pk = {0};
	struct cp_rot rot;

	if (cp_rot_decode(m->data, m->data_len, &rot) != 0)
		return send_err(sc, m->req, CP_E_PROTO, "malformed rotation proof");
	snprintf(pk.handle, sizeof(pk.handle), "%s", h->pk.handle);
	memcpy(pk.sign_pk, rot.new_sign_pk, CP_KEY_LEN);
	memcpy(pk.box_pk, rot.new_box_pk, CP_KEY_LEN);
	if (!cp_rot_verify(m->data, m->data_len, h->pk.sign_pk, &pk) ||
	    !cp_keys_verify(&pk, m->keysig))
		return send_err(sc, m->req, CP_E_AUTH,
				"rotation proof or new key signature does not verify");
	if (write_begin(s) < 0 || cp_store_rotate(s->st, h->pk.sign_pk, &pk, m->keysig) < 0 ||
	    cp_store_put_record(s->st, pk.handle, CP_ROT_RECORD, m->data, m->data_len) < 0)
		return send_err(sc, m->req, CP_E_STORE, "server storage failure");
	h->pk = pk;
	memcpy(h->keysig, m->keysig, CP_SIG_LEN);
	log_msg(PL_LOG_INFO, "cp: %s rotated its keys", pk.handle);
	return defer_answer(s, sc, m->req, CP_T_R_OK, 0, 0);
}

static int dispatch_ready(struct sconn *sc, const struct cp_msg *m)
{
	if (sc->home && sc->home->revoked) {
		fail_conn(sc, m->req, CP_E_REVOKED, "identity revoked");
		return -1;
	}
	switch (m->type) {
	case CP_T_ROTATE:
		return op_rotate(sc, m);
	case CP_T_LOOKUP:
		return op_lookup(sc, m);
	case CP_T_GET_KEYS:
		return op_get_keys(sc, m);
	case CP_T_PUT_RECORD:
		return op_put_record(sc, m);
	case CP_T_GET_RECORD:
		return op_get_record(sc, m);
	case CP_T_DEL_RECORD:
		return op_del_record(sc, m);
	case CP_T_NOTIFY:
		return op_notify(sc, m);
	case CP_T_MONITOR:
		return op_monitor(sc, m);
	case CP_T_ACK:
		return op_ack(sc, m);
	case CP_T_PING:
		return send_simple(sc, CP_T_R_OK, m->req, 0, 0);
	default:
		fail_conn(sc, m->req, CP_E_PROTO, "unexpected message");
		return -1;
	}
}

static int dispatch(struct sconn *sc, const struct cp_msg *m)
{
	if (sc->state == SC_READY)
		return dispatch_ready(sc, m);
	if (m->type == CP_T_AUTH)
		return op_auth(sc, m);
	if (m->type == CP_T_ENROLL)
		return op_enroll(sc, m);
	fail_conn(sc, m->req, CP_E_NOT_AUTHED, "authenticate first");
	return -1;
}

/* ---------------- input ---------------- */

static int on_hello(struct sconn *sc)
{
	struct cp_server *s = sc->srv;
	uint8_t out[CP_SERVER_HELLO_LEN];
	struct cp_msg m = {.type = CP_T_CHALLENGE};

	if (conn_in_len(&sc->c) < CP_CLIENT_HELLO_LEN)
		return 0;
	if (cp_hs_server(s->sk, s->pk, conn_in(&sc->c), out, &sc->sess) < 0) {
		fail_conn(sc, 0, CP_E_PROTO, "bad client hello");
		return -1;
	}
	conn_consume(&sc->c, CP_CLIENT_HELLO_LEN);
	randombytes_buf(sc->challenge, sizeof(sc->challenge));
	memcpy(m.challenge, sc->challenge, sizeof(sc->challenge));
	sc->state = SC_AUTH;
	if (conn_write(&sc->c, out, sizeof(out)) < 0 || send_msg(sc, &m) < 0) {
		sc_close(sc);
		return -1;
	}
	return 0;
}

/* Make room for a frame of @p need bytes (grow the input buffer). */
static int want_bytes(struct sconn *sc, size_t need)
{
	if (need <= sc->c.in_cap)
		return 0;
	if (need < IN_CAP_BUSY)
		need = IN_CAP_BUSY;
	if (conn_set_in_cap(&sc->c, need) < 0) {
		sc_close(sc);
		return -1;
	}
	return 0;
}

/* One whole frame at the start of the input: open, decode, dispatch. */
static int one_frame(struct sconn *sc, size_t flen)
{
	struct cp_server *s = sc->srv;
	struct cp_msg m;
	int n = cp_sess_open(&sc->sess, conn_in(&sc->c), flen, s->rx, CP_MSG_MAX);

	if (n < 0) {
		fail_conn(sc, 0, CP_E_PROTO, "frame fails authentication");
		return -1;
	}
	conn_consume(&sc->c, flen);
	n = cp_msg_decode(s->rx, (size_t)n, &m);
	if (n < 0 || !cp_msg_from_client(m.type)) {
		fail_conn(sc, m.req, CP_E_PROTO, "malformed message");
		return -1;
	}
	sc->last = ev_now(s->loop);
	if (dispatch(sc, &m) < 0 && !sc->dead && sc->state != SC_CLOSING)
		sc_close(sc); /* output queue over its cap (peer not reading) or no memory */
	return sc->dead || sc->state == SC_CLOSING ? -1 : 0;
}

static int sc_on_data(struct conn *c)
{
	struct sconn *sc = container_of(c, struct sconn, c);
	size_t flen;
	int r;

	/* A read that filled the small idle buffer: the peer is busy, read more at once. */
	if (c->in_len == c->in_cap && c->in_cap < IN_CAP_BUSY && want_bytes(sc, IN_CAP_BUSY) < 0)
		return -1;

	if (sc->state == SC_CLOSING) {
		conn_consume(c, conn_in_len(c)); /* discard while lingering */
		return 0;
	}
	if (sc->state == SC_HELLO && (on_hello(sc) < 0 || sc->state == SC_HELLO))
		return sc->dead ? -1 : 0;
	for (;;) {
		r = cp_frame_check(conn_in(c), conn_in_len(c), &flen);
		if (r == -EAGAIN)
			return want_bytes(sc, flen);
		if (r == -EMSGSIZE) {
			fail_conn(sc, 0, CP_E_TOO_BIG, "frame over the size limit");
			return sc->dead ? -1 : 0;
		}
		if (r < 0) {
			fail_conn(sc, 0, CP_E_PROTO, "malformed frame");
			return sc->dead ? -1 : 0;
		}
		if (one_frame(sc, flen) < 0)
			return sc->dead ? -1 : 0;
	}
}

static int sc_on_drain(struct conn *c)
{
	struct sconn *sc = container_of(c, struct sconn, c);

	if (sc->state == SC_CLOSING) {
		shutdown(c->fd, SHUT_WR);
		return 0;
	}
	if (sc->home && sc->home->monitor == sc && sc->home->backlog)
		backfill(sc->srv, sc->home);
	return sc->dead ? -1 : 0;
}

static void sc_on_close(struct conn *c, int err)
{
	sc_close(container_of(c, struct sconn, c));
}

static const struct conn_ops sc_ops = {
    .on_data = sc_on_data,
    .on_drain = sc_on_drain,
    .on_close = sc_on_close,
};

/* ---------------- connection life ---------------- */

static double sc_timeout(const struct sconn *sc)
{
	const struct cp_server_cfg *cfg = &sc->srv->cfg;

	if (sc->state != SC_READY)
		return cfg->hs_timeout;
	return sc->home && sc->home->monitor == sc ? cfg->monitor_timeout : cfg->idle_timeout;
}

static void sc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sconn *sc = container_of(w, struct sconn, timer);
	double left;

	if (sc->state == SC_CLOSING) {
		sc_close(sc);
		return;
	}
	left = sc->last + sc_timeout(sc) - ev_now(loop);
	if (sc->state != SC_READY || left <= 0) {
		log_msg(PL_LOG_DEBUG, "cp: connection timed out");
		sc_close(sc);
		return;
	}
	if (sc->c.in_len == 0 && sc->c.in_cap > IN_CAP_IDLE)
		if (conn_set_in_cap(&sc->c, IN_CAP_IDLE) < 0) /* give big buffers back when idle */
			log_msg(PL_LOG_DEBUG, "cp: cannot shrink an input buffer");
	w->repeat = left;
	ev_timer_again(loop, w);
}

/* Mark dead and unlink; the memory is freed after the commit (safe point). */
static void sc_close(struct sconn *sc)
{
	struct cp_server *s = sc->srv;

	if (sc->dead)
		return;
	sc->dead = true;
	ev_timer_stop(s->loop, &sc->timer);
	conn_close(&sc->c);
	cp_sess_wipe(&sc->sess);
	cp_srv_fetched_free(&sc->fetched);
	if (sc->home && sc->home->monitor == sc)
		sc->home->monitor = NULL;
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	s->nconns--;
	sc->next_dead = s->dead;
	s->dead = sc;
}

static void accept_one(struct cp_server *s, int fd)
{
	struct sconn *sc;

	if (s->nconns >= s->cfg.max_conns) {
		close(fd);
		return;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc || conn_init(&sc->c, s->loop, fd, &sc_ops, IN_CAP_IDLE, OUT_MAX, false) < 0) {
		if (sc)
			conn_close(&sc->c);
		else
			close(fd);
		free(sc);
		return;
	}
	sc->srv = s;
	conn_set_cork(&sc->c, s->cork);
	sc->last = ev_now(s->loop);
	ev_timer_init(&sc->timer, sc_timer_cb, s->cfg.hs_timeout, 0);
	ev_timer_start(s->loop, &sc->timer);
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->nconns++;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cp_server *s = container_of(w, struct cp_server, accept_w);

	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_msg_errno(PL_LOG_WARN, errno, "cp: accept");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		accept_one(s, fd);
	}
}

/* ---------------- group commit ---------------- */

static void flush_deferred(struct cp_server *s, bool ok)
{
	for (size_t i = 0; i < s->ndefer; i++) {
		struct deferred *d = &s->defer[i];

		if (d->sc->dead)
			continue;
		if (ok)
			(void)send_simple(d->sc, d->type, d->req, d->seq, d->flags);
		else
			(void)send_err(d->sc, d->req, CP_E_STORE, "server storage failure");
	}
	s->ndefer = 0;
}

static void free_dead(struct cp_server *s)
{
	while (s->dead) {
		struct sconn *sc = s->dead;

		s->dead = sc->next_dead;
		free(sc);
	}
}

/* Commit the open transaction (if any) and send the answers that waited for it. */
static bool commit_now(struct cp_server *s)
{
	bool ok = true;

	if (cp_store_in_txn(s->st)) {
		ok = cp_store_commit(s->st) == 0;
		s->stats.commits++;
		if (!ok) {
			log_msg(PL_LOG_ERR, "cp: commit failed; reloading state from the store");
			(void)homes_reload(s);
		}
	}
	flush_deferred(s, ok);
	return ok;
}

static void commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct cp_server *s = container_of(w, struct cp_server, commit_w);

	(void)commit_now(s);
	flush_dirty(s);
	free_dead(s);
}

/* ---------------- housekeeping ---------------- */

/* An operator command changed the store (a revocation ends sessions within a second or so). */
static void change_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cp_server *s = container_of(w, struct cp_server, change_w);

	if (cp_store_changed(s->st)) {
		log_msg(PL_LOG_INFO, "cp: store changed by an operator command; reloading");
		if (homes_reload(s) < 0)
			log_msg(PL_LOG_ERR, "cp: reload failed");
	}
}

static void house_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cp_server *s = container_of(w, struct cp_server, house_w);

	if (write_begin(s) == 0)
		if (cp_store_queue_expire(s->st, net_unix_now(), uncount_row, s) < 0)
			log_msg(PL_LOG_ERR, "cp: expiry sweep failed");
}

/* ---------------- life ---------------- */

static void cfg_defaults(struct cp_server_cfg *c)
{
	if (!c->max_conns)
		c->max_conns = 65536;
	if (c->hs_timeout <= 0)
		c->hs_timeout = 10;
	if (c->idle_timeout <= 0)
		c->idle_timeout = 120;
	if (c->monitor_timeout <= 0)
		c->monitor_timeout = 3 * 60;
}

static int open_listener(struct cp_server *s, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (net_parse_hostport(s->cfg.listen, &ss, &len) < 0) {
		snprintf(err, errlen, "bad listen address '%s' (want ip:port)", s->cfg.listen);
		return -EINVAL;
	}
	s->lfd = net_listen_tcp((struct sockaddr *)&ss, len, 1024);
	if (s->lfd < 0) {
		snprintf(err, errlen, "listen on %s: %s", s->cfg.listen, strerror(-s->lfd));
		return s->lfd;
	}
	ev_io_init(&s->accept_w, accept_cb, s->lfd, EV_READ);
	ev_io_start(s->loop, &s->accept_w);
	return 0;
}

static int server_setup(struct cp_server *s, char *err, size_t errlen)
{
	if (cp_data_load_key(s->cfg.datadir, s->sk, s->pk, err, errlen) < 0 ||
	    cp_store_open(s->cfg.datadir, false, &s->st, err, errlen) < 0)
		return -1;
	s->nbuckets = 1024;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->rx = malloc(CP_MSG_MAX);
	s->tx = malloc(CP_FRAME_MAX);
	s->dir = cp_dir_local_new(s->advertise, s->pk, hosts_cb, s);
	if (!s->buckets || !s->rx || !s->tx || !s->dir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	randombytes_buf(s->hkey, sizeof(s->hkey));
	if (homes_reload(s) < 0) {
		snprintf(err, errlen, "cannot read the store (see log)");
		return -1;
	}
	s->seq = cp_store_max_seq(s->st);
	return open_listener(s, err, errlen);
}

struct cp_server *cp_server_new(struct ev_loop *loop, const struct cp_server_cfg *cfg, char *err,
				size_t errlen)
{
	struct cp_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->lfd = -1;
	s->cork = getenv("PORTLESS_CP_NO_CORK") == NULL;
	s->cfg = *cfg;
	cfg_defaults(&s->cfg);
	snprintf(s->advertise, sizeof(s->advertise), "%s",
		 cfg->advertise ? cfg->advertise : cfg->listen);
	if (server_setup(s, err, errlen) < 0) {
		cp_server_free(s);
		return NULL;
	}
	ev_prepare_init(&s->commit_w, commit_cb);
	ev_prepare_start(loop, &s->commit_w);
	ev_timer_init(&s->house_w, house_cb, HOUSEKEEP_S, HOUSEKEEP_S);
	ev_timer_init(&s->change_w, change_cb, CHANGE_CHECK_S, CHANGE_CHECK_S);
	ev_timer_start(loop, &s->house_w);
	ev_timer_start(loop, &s->change_w);
	log_msg(PL_LOG_INFO, "cp: serving %zu identities on %s", s->nhomes, s->cfg.listen);
	return s;
}

void cp_server_free(struct cp_server *s)
{
	if (!s)
		return;
	if (s->st && cp_store_in_txn(s->st)) {
		bool ok = cp_store_commit(s->st) == 0;

		flush_deferred(s, ok);
	}
	while (s->conns)
		sc_close(s->conns);
	free_dead(s);
	if (s->lfd >= 0) {
		ev_io_stop(s->loop, &s->accept_w);
		close(s->lfd);
	}
	ev_prepare_stop(s->loop, &s->commit_w);
	ev_timer_stop(s->loop, &s->house_w);
	ev_timer_stop(s->loop, &s->change_w);
	for (size_t i = 0; s->buckets && i < s->nbuckets; i++)
		for (struct home *h = s->buckets[i], *nx; h; h = nx) {
			nx = h->next;
			free(h);
		}
	free(s->buckets);
	free(s->defer);
	free(s->rx);
	free(s->tx);
	cp_dir_free(s->dir);
	cp_store_close(s->st);
	sodium_memzero(s->sk, sizeof(s->sk));
	free(s);
}

void cp_server_get_stats(const struct cp_server *s, struct cp_server_stats *st)
{
	unsigned long mon = 0;

	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		mon += sc->home && sc->home->monitor == sc;
	*st = s->stats;
	st->conns = s->nconns;
	st->monitors = mon;
	st->homes = s->nhomes;
}

int cp_server_revoke(struct cp_server *s, const char *handle)
{
	struct home *h = home_find(s, handle);
	int r;

	if (!h || h->revoked)
		return -ENOENT;
	r = write_begin(s);
	if (r == 0)
		r = cp_store_revoke(s->st, handle);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : -EIO;
	/* committed before anyone is told: a revocation is never taken back */
	if (!commit_now(s))
		return -EIO;
	h = home_find(s, handle);
	if (h && !h->revoked)
		home_revoke(s, h);
	return 0;
}
