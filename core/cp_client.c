/* SPDX-License-Identifier: MIT */
#include "cp_client.h"

#include <errno.h>
#include <float.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "cp_frame.h"
#include "cp_hs.h"
#include "cp_conf.h"
#include "cp_keycache.h"
#include "cp_pin.h"
#include "cp_replay.h"
#include "cp_rot.h"
#include "log.h"
#include "net.h"
#include "wire.h"

enum {
	IN_CAP_IDLE = 512,
	IN_CAP_BUSY = 65536,
	OUT_MAX = 8 * 1024 * 1024,
	CONNECT_TIMEOUT = 10, /**< s for TCP connect + handshake + auth */
	NEG_TTL = 5,          /**< s a failed key fetch is remembered */
	MAX_KEYS = 4096,      /**< cached key entries */
	MAX_PUSH_WAIT = 1024, /**< pushes parked waiting for a sender's keys */
};

_Static_assert((int)ENVELOPE_LIFE_MAX == (int)CP_EXPIRY_MAX &&
		   (int)ENVELOPE_SKEW == (int)CP_CLOCK_SKEW,
	       "a recipient accepts the expiries its home accepts");

enum cstate { C_DOWN, C_CONNECTING, C_HELLO, C_CHALLENGE, C_AUTHING, C_UP };

enum req_kind {
	R_NOTIFY, /**< waits for keys, then NOTIFY */
	R_RAWENV, /**< NOTIFY of a given envelope */
	R_KEYS,   /**< user get_keys: waits for the key fetch */
	R_FETCH,  /**< internal GET_KEYS on the wire */
	R_LOOKUP,
	R_PUT,
	R_GET,
	R_DEL,
	R_MONITOR,
	R_PING,
	R_AUTH,   /**< AUTH or ENROLL */
	R_ROTATE, /**< ROTATE: data = new keysig[64] | proof */
};

enum req_state { Q_WAIT_CONN, Q_WAIT_KEYS, Q_SENT };

struct req {
	struct req *prev, *next;
	enum req_kind kind;
	enum req_state state;
	uint32_t id;
	double deadline;
	void *arg;
	union {
		cp_done_cb done;
		cp_keys_cb keys;
		cp_record_cb record;
		cp_lookup_cb lookup;
	} cb;
	char handle[HANDLE_BUF];
	char name[CP_RECNAME_BUF];
	uint16_t type;
	uint32_t ttl;
	uint64_t expiry;
	uint8_t *data; /**< owned copy: payload, envelope or record data */
	size_t len;
	int ferr; /**< error to report once detached */
};

/** A pushed notification parked until its sender's keys arrive. */
struct parked {
	struct parked *next;
	uint64_t seq, expiry;
	char from[HANDLE_BUF];
	size_t len;
	uint8_t env[];
};

struct buf {
	uint8_t *p;
	size_t cap;
};

struct cp_client {
	struct ev_loop *loop;
	struct cp_client_cfg cfg;
	struct conn conn;
	bool conn_live;
	enum cstate state;
	struct cp_hs hs;
	struct cp_sess sess;
	ev_timer tick_w;   /**< deadlines, keepalive */
	ev_timer retry_w;  /**< reconnect back-off */
	ev_prepare kick_w; /**< deferred work from API calls (no callback runs inside them) */
	bool broken;       /**< a send failed: drop the connection at the next safe point */
	double state_since, last_tx;
	unsigned attempt;
	bool monitor, closing, enrolling;
	int depth; /**< nesting of loop callbacks into us */
	uint32_t next_id;
	struct req *reqs; /**< all requests, oldest first */
	struct req *reqs_tail;
	unsigned nreqs;
	char enroll_code[CP_CODE_BUF];
	struct cp_keycache *keys;
	struct parked *park, *park_tail;
	unsigned npark;
	struct cp_replay *replay; /**< opened by cp_client_monitor() (or the first push) */
	struct buf rx, tx, work;
	int last_err;
	char last_msg[CP_ERRMSG_MAX + 1];
};

const char cp_msg_offline[] = "queued: the recipient is not connected to its home";

static void conn_down(struct cp_client *c, int err, const char *msg);
static void kick(struct cp_client *c);
static void resume_keys(struct cp_client *c, const char *handle);
static void drain_parked(struct cp_client *c);
static int send_req(struct cp_client *c, struct req *r);

/* ---------------- small helpers ---------------- */

static int buf_need(struct buf *b, size_t n)
{
	uint8_t *p;

	if (n <= b->cap)
		return 0;
	if (n < 1024)
		n = 1024;
	p = realloc(b->p, n);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = n;
	return 0;
}

static void buf_free(struct buf *b)
{
	if (b->p)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}

static void enter(struct cp_client *c)
{
	c->depth++;
}

static void destroy(struct cp_client *c);

/* Leave a loop callback; true when the client was destroyed. */
static bool leave(struct cp_client *c)
{
	if (c->broken && !c->closing && c->depth == 1) {
		c->broken = false;
		if (c->conn_live)
			conn_down(c, CP_E_CLOSED, "cannot send (output queue full)");
	}
	if (--c->depth == 0 && c->closing) {
		destroy(c);
		return true;
	}
	return false;
}

static void state_cb(struct cp_client *c, bool up, int err, const char *msg)
{
	if (c->cfg.on_state && !c->closing)
		c->cfg.on_state(c->cfg.arg, up, err, msg);
}

/* ---------------- requests ---------------- */

static struct req *req_new(struct cp_client *c, enum req_kind kind, void *arg)
{
	struct req *r;

	if (c->closing || c->nreqs >= CP_CLIENT_MAX_PENDING)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->kind = kind;
	r->arg = arg;
	r->deadline = ev_now(c->loop) + CP_CLIENT_REQ_TIMEOUT;
	r->prev = c->reqs_tail;
	if (c->reqs_tail)
		c->reqs_tail->next = r;
	else
		c->reqs = r;
	c->reqs_tail = r;
	c->nreqs++;
	return r;
}

static void req_unlink(struct cp_client *c, struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		c->reqs_tail = r->prev;
	c->nreqs--;
}

static void req_free(struct req *r)
{
	if (r->data)
		sodium_memzero(r->data, r->len);
	free(r->data);
	free(r);
}

/* Call @p r's callback with @p err (0: success without data). */
static void req_call(struct cp_client *c, struct req *r, int err, const char *msg)
{
	if (!msg)
		msg = cp_strerror(err);
	if (!c->closing) {
		switch (r->kind) {
		case R_NOTIFY:
		case R_RAWENV:
		case R_PUT:
		case R_DEL:
		case R_AUTH:
		case R_ROTATE:
			if (r->cb.done)
				r->cb.done(r->arg, err, msg);
			break;
		case R_KEYS:
			r->cb.keys(r->arg, err ? err : CP_E_INTERNAL, NULL);
			break;
		case R_GET:
			r->cb.record(r->arg, err ? err : CP_E_INTERNAL, NULL, 0);
			break;
		case R_LOOKUP:
			r->cb.lookup(r->arg, err ? err : CP_E_INTERNAL, NULL, NULL);
			break;
		default:
			break;
		}
	}
}

/* Complete @p r with @p err and free it. */
static void req_done(struct cp_client *c, struct req *r, int err, const char *msg)
{
	req_unlink(c, r);
	req_call(c, r, err, msg);
	req_free(r);
}

static struct req *req_find_sent(struct cp_client *c, uint32_t id)
{
	for (struct req *r = c->reqs; r; r = r->next)
		if (r->state == Q_SENT && r->id == id)
			return r;
	return NULL;
}

/* ---------------- key cache ---------------- */

/*
 * Keys for @p handle if usable now; otherwise make sure a fetch is under way
 * and return NULL (the waiter is resumed by resume_keys()). Our own keys come
 * from our identity.
 */
static const struct cp_key *keys_get(struct cp_client *c, const char *handle)
{
	const struct cp_key *k;
	struct req *r;

	if (cp_keycache_lookup(c->keys, handle, ev_now(c->loop), &k) != CP_KC_FETCH)
		return k;
	r = req_new(c, R_FETCH, NULL);
	if (!r)
		return cp_keycache_fail(c->keys, handle, CP_E_NOMEM, ev_now(c->loop));
	snprintf(r->handle, sizeof(r->handle), "%s", handle);
	if (c->state == C_UP) {
		r->id = ++c->next_id ? c->next_id : ++c->next_id;
		r->state = Q_SENT;
		if (send_req(c, r) < 0)
			c->broken = true;
	} else {
		kick(c);
	}
	return NULL;
}

/* An R_KEYS answer (or error) for a fetch. */
static void fetch_done(struct cp_client *c, struct req *r, int err, const struct cp_msg *m)
{
	char handle[HANDLE_BUF];
	struct pubkeys pk = {0};

	snprintf(handle, sizeof(handle), "%s", r->handle);
	req_unlink(c, r);
	req_free(r);
	if (err) {
		(void)cp_keycache_fail(c->keys, handle, err, ev_now(c->loop));
	} else {
		snprintf(pk.handle, sizeof(pk.handle), "%s", m->handle);
		memcpy(pk.sign_pk, m->sign_pk, CP_KEY_LEN);
		memcpy(pk.box_pk, m->box_pk, CP_KEY_LEN);
		(void)cp_keycache_answer(c->keys, handle, &pk, m->keysig, m->data, m->data_len,
					 ev_now(c->loop));
	}
	resume_keys(c, handle);
}

/* ---------------- sending ---------------- */

/* Encode @p m, seal, queue. */
static int send_msg(struct cp_client *c, const struct cp_msg *m, size_t body_hint)
{
	size_t cap = CP_FRAME_HDR + CP_MSG_HDR + body_hint + 512 + CP_TAG_LEN;
	int n;

	if (cap > CP_FRAME_MAX)
		cap = CP_FRAME_MAX;
	if (buf_need(&c->tx, cap) < 0)
		return -ENOMEM;
	n = cp_msg_encode(m, c->tx.p + CP_FRAME_HDR, c->tx.cap - CP_FRAME_HDR - CP_TAG_LEN);
	if (n < 0)
		return n;
	n = cp_sess_seal(&c->sess, c->tx.p + CP_FRAME_HDR, (size_t)n, c->tx.p, c->tx.cap);
	if (n < 0)
		return n;
	c->last_tx = ev_now(c->loop);
	return conn_write(&c->conn, c->tx.p, (size_t)n);
}

/* Seal the notification of @p r to @p to and send it. */
static int send_notify(struct cp_client *c, struct req *r, const struct pubkeys *to)
{
	uint8_t id[ENVELOPE_ID_LEN];
	struct cp_msg m = {.type = CP_T_NOTIFY, .req = r->id};
	size_t envlen;
	int e;

	if (buf_need(&c->work, ENVELOPE_OUTER_OVERHEAD + ENVELOPE_SEAL_OVERHEAD +
				   ENVELOPE_INNER_OVERHEAD + r->len) < 0)
		return -ENOMEM;
	randombytes_buf(id, sizeof(id));
	r->expiry = net_unix_now() + r->ttl;
	e = envelope_seal(c->cfg.id, to, r->type, id, r->expiry, r->data, r->len, c->work.p,
			  c->work.cap, &envlen);
	if (e != ENV_OK)
		return -EINVAL;
	m.expiry = r->expiry;
	m.data = c->work.p;
	m.data_len = envlen;
	return send_msg(c, &m, envlen);
}

static int send_req(struct cp_client *c, struct req *r)
{
	struct cp_msg m = {.req = r->id};

	switch (r->kind) {
	case R_FETCH:
		m.type = CP_T_GET_KEYS;
		snprintf(m.handle, sizeof(m.handle), "%s", r->handle);
		break;
	case R_LOOKUP:
		m.type = CP_T_LOOKUP;
		snprintf(m.handle, sizeof(m.handle), "%s", r->handle);
		break;
	case R_PUT:
		m.type = CP_T_PUT_RECORD;
		snprintf(m.name, sizeof(m.name), "%s", r->name);
		m.data = r->data ? r->data : (const uint8_t *)"";
		m.data_len = r->len;
		break;
	case R_GET:
		m.type = CP_T_GET_RECORD;
		snprintf(m.handle, sizeof(m.handle), "%s", r->handle);
		snprintf(m.name, sizeof(m.name), "%s", r->name);
		break;
	case R_DEL:
		m.type = CP_T_DEL_RECORD;
		snprintf(m.name, sizeof(m.name), "%s", r->name);
		break;
	case R_RAWENV:
		m.type = CP_T_NOTIFY;
		m.expiry = r->expiry;
		m.data = r->data;
		m.data_len = r->len;
		break;
	case R_ROTATE:
		m.type = CP_T_ROTATE;
		memcpy(m.keysig, r->data, CP_SIG_LEN);
		m.data = r->data + CP_SIG_LEN;
		m.data_len = r->len - CP_SIG_LEN;
		break;
	case R_MONITOR:
		m.type = CP_T_MONITOR;
		break;
	case R_PING:
		m.type = CP_T_PING;
		break;
	default:
		return -EINVAL;
	}
	return send_msg(c, &m, m.data_len);
}

/* Move one request forward: keys -> seal -> send. Returns <0 on a send failure. */
static int advance(struct cp_client *c, struct req *r)
{
	const struct cp_key *k;
	int ret;

	if (r->kind == R_NOTIFY || r->kind == R_KEYS) {
		k = keys_get(c, r->handle);
		if (!k) {
			r->state = Q_WAIT_KEYS;
			return 0;
		}
		if (k->err || r->kind == R_KEYS) {
			if (r->kind == R_KEYS && !k->err) {
				req_unlink(c, r);
				if (!c->closing)
					r->cb.keys(r->arg, CP_OK, &k->pk);
				req_free(r);
			} else {
				char msg[CP_ERRMSG_MAX + 1];

				if (k->why[0]) /* the pin check's text names the handle */
					snprintf(msg, sizeof(msg), "%s", k->why);
				else
					snprintf(msg, sizeof(msg), "%s: %s", r->handle,
						 cp_strerror(k->err));
				req_done(c, r, k->err, msg);
			}
			return 0;
		}
		if (c->state != C_UP) {
			r->state = Q_WAIT_CONN;
			return 0;
		}
		r->id = ++c->next_id ? c->next_id : ++c->next_id;
		ret = send_notify(c, r, &k->pk);
		if (ret == -EINVAL) {
			req_done(c, r, CP_E_ENVELOPE, NULL);
			return 0;
		}
		r->state = Q_SENT;
		return ret;
	}
	if (c->state != C_UP) {
		r->state = Q_WAIT_CONN;
		return 0;
	}
	r->id = ++c->next_id ? c->next_id : ++c->next_id;
	r->state = Q_SENT;
	return send_req(c, r);
}

/* Push every waiting request that can move. */
static void pump(struct cp_client *c)
{
	struct req *r, *nx;

	for (r = c->reqs; r && !c->closing; r = nx) {
		nx = r->next;
		if (r->state != Q_WAIT_CONN || r->kind == R_AUTH)
			continue;
		if (advance(c, r) < 0) {
			c->broken = true;
			return;
		}
		/* advance frees at most r itself (and appends fetches, sent at once) */
	}
}

static void resume_keys(struct cp_client *c, const char *handle)
{
	struct req *r, *nx;

	for (r = c->reqs; r && !c->closing; r = nx) {
		nx = r->next;
		if (r->state == Q_WAIT_KEYS && !strcmp(r->handle, handle) && advance(c, r) < 0) {
			c->broken = true;
			return;
		}
	}
	drain_parked(c);
}

/* ---------------- connection ---------------- */

static int on_connected(struct conn *cn);
static int on_data(struct conn *cn);
static void on_close(struct conn *cn, int err);

static const struct conn_ops client_ops = {
    .on_data = on_data,
    .on_close = on_close,
    .on_connected = on_connected,
};

static void start_connect(struct cp_client *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool inprog;
	int fd;

	if (net_parse_hostport(c->cfg.server, &ss, &len) < 0) {
		conn_down(c, CP_E_CONFIG, "bad server address");
		return;
	}
	fd = net_connect_tcp((struct sockaddr *)&ss, len, &inprog);
	if (fd < 0 ||
	    conn_init(&c->conn, c->loop, fd, &client_ops, IN_CAP_IDLE, OUT_MAX, inprog) < 0) {
		if (fd >= 0)
			conn_close(&c->conn);
		conn_down(c, CP_E_CONNECT, fd < 0 ? strerror(-fd) : "out of memory");
		return;
	}
	c->conn_live = true;
	c->state = C_CONNECTING;
	c->state_since = ev_now(c->loop);
	if (!inprog)
		(void)on_connected(&c->conn);
}

static bool want_conn(const struct cp_client *c)
{
	return !c->closing && (c->monitor || c->nreqs > 0);
}

/* Called after any change: connect if needed, send what can be sent. */
static void kick(struct cp_client *c)
{
	if (c->closing)
		return;
	if (c->state == C_DOWN) {
		if (want_conn(c) && !ev_is_active(&c->retry_w))
			start_connect(c);
		return;
	}
	if (c->state == C_UP)
		pump(c);
	if (!ev_is_active(&c->tick_w))
		ev_timer_start(c->loop, &c->tick_w);
}

static int on_connected(struct conn *cn)
{
	struct cp_client *c = container_of(cn, struct cp_client, conn);
	uint8_t hello[CP_CLIENT_HELLO_LEN];

	cp_hs_client_start(&c->hs, c->cfg.server_pk, hello);
	c->state = C_HELLO;
	if (conn_write(cn, hello, sizeof(hello)) < 0) {
		conn_down(c, CP_E_CONNECT, "cannot send hello");
		return -1;
	}
	return 0;
}

/* For cp_keycache_each_failed(): requests waiting on keys whose fetch failed. */
static void resume_failed(void *arg, const char *handle)
{
	struct cp_client *c = arg;

	if (!c->closing)
		resume_keys(c, handle);
}

/*
 * After a lost connection: fail the requests waiting on fetches that
 * failed, then drop every settled entry (none is usable at DBL_MAX; fetches
 * in flight stay). Keys are trusted only while the connection on which the
 * home would tell us of their revocation is up; the next fetch asks again.
 */
static void keys_after_down(struct cp_client *c)
{
	cp_keycache_each_failed(c->keys, resume_failed, c);
	if (!c->closing)
		(void)cp_keycache_expire(c->keys, DBL_MAX);
}

/* Forget every parked push. */
static void drop_parked(struct cp_client *c)
{
	while (c->park) {
		struct parked *p = c->park;

		c->park = p->next;
		free(p);
	}
	c->park_tail = NULL;
	c->npark = 0;
}

/* Should request @p r fail now (true) or wait for the reconnect? */
static bool fails_on_down(const struct cp_client *c, const struct req *r, bool fatal)
{
	if (r->kind == R_MONITOR || r->kind == R_PING || r->kind == R_AUTH)
		return true;
	if (r->state == Q_SENT)
		return r->kind != R_FETCH || fatal || !c->monitor;
	return fatal || !c->monitor;
}

/*
 * A daemon's (monitor) connection failed: say why, with the address, at the
 * default level; a reason repeated on the next attempts drops to debug (the
 * "reconnect attempt" line still shows each one).
 */
static void log_down(const struct cp_client *c, bool was_up, int err, const char *msg)
{
	bool again = !was_up && c->attempt > 0 && err == c->last_err && !strcmp(msg, c->last_msg);
	const char *what = cp_strerror(err);

	if (!c->monitor || c->closing)
		return;
	log_msg(again ? PL_LOG_DEBUG : PL_LOG_WARN, "control plane at %s: %s%s%s%s", c->cfg.server,
		was_up ? "connection lost: " : "", msg, strcmp(msg, what) ? " -- " : "",
		strcmp(msg, what) ? what : "");
}

/* Fail what cannot wait for a reconnect; schedule the reconnect. */
static void conn_down(struct cp_client *c, int err, const char *msg)
{
	bool was_up = c->state == C_UP;
	bool fatal = err != CP_E_CLOSED && err != CP_E_CONNECT && err != CP_E_TIMEOUT;
	struct req *r, *nx, *failed = NULL;

	if (c->conn_live)
		conn_close(&c->conn);
	c->conn_live = false;
	c->state = C_DOWN;
	sodium_memzero(&c->hs, sizeof(c->hs));
	cp_sess_wipe(&c->sess);
	log_down(c, was_up, err, msg ? msg : cp_strerror(err));
	c->last_err = err;
	snprintf(c->last_msg, sizeof(c->last_msg), "%s", msg ? msg : cp_strerror(err));
	drop_parked(c); /* not acked: the home pushes them again */
	for (r = c->reqs; r; r = nx) {
		nx = r->next;
		if (!fails_on_down(c, r, fatal)) {
			if (r->state == Q_SENT)
				r->state = Q_WAIT_CONN; /* a fetch: asked again after reconnect */
			continue;
		}
		req_unlink(c, r);
		if (r->kind == R_FETCH) {
			/* will not be answered: remember the failure (waiters see it) */
			(void)cp_keycache_fail(c->keys, r->handle,
					       r->state == Q_SENT ? CP_E_CLOSED : err,
					       ev_now(c->loop));
			req_free(r);
			continue;
		}
		r->next = failed; /* completed below, after the state is consistent */
		r->ferr = r->state == Q_SENT ? CP_E_CLOSED : err;
		failed = r;
	}
	if ((c->monitor || c->nreqs > 0) && !c->closing) {
		double delay = net_backoff(c->attempt++, 0.5, 30);

		if (c->monitor) /* fault tests check the back-off and jitter here */
			log_msg(PL_LOG_INFO, "control plane: reconnect attempt %u in %.3f s",
				c->attempt, delay);
		ev_timer_set(&c->retry_w, delay, 0);
		ev_timer_start(c->loop, &c->retry_w);
	}
	if (was_up || c->attempt <= 1 || fatal)
		state_cb(c, false, err, c->last_msg);
	while (failed) {
		r = failed;
		failed = r->next;
		req_call(c, r, r->ferr, c->last_msg);
		req_free(r);
	}
	if (!c->closing)
		keys_after_down(c);
}

static int send_auth(struct cp_client *c, const struct cp_msg *ch)
{
	struct cp_msg m = {.req = ++c->next_id};
	const struct identity *id = c->cfg.id;

	snprintf(m.handle, sizeof(m.handle), "%s", id->pub.handle);
	cp_auth_sign(id, ch->challenge, c->sess.sid, m.sig);
	if (c->enrolling) {
		m.type = CP_T_ENROLL;
		snprintf(m.code, sizeof(m.code), "%s", c->enroll_code);
		memcpy(m.sign_pk, id->pub.sign_pk, CP_KEY_LEN);
		memcpy(m.box_pk, id->pub.box_pk, CP_KEY_LEN);
		cp_keys_sign(id, m.keysig);
	} else {
		m.type = CP_T_AUTH;
	}
	for (struct req *r = c->reqs; r; r = r->next)
		if (r->kind == R_AUTH) {
			r->id = m.req;
			r->state = Q_SENT;
		}
	c->state = C_AUTHING;
	return send_msg(c, &m, 0);
}

static void went_up(struct cp_client *c)
{
	struct req *r;

	c->state = C_UP;
	c->attempt = 0;
	c->enrolling = false;
	sodium_memzero(c->enroll_code, sizeof(c->enroll_code));
	state_cb(c, true, CP_OK, "connected");
	if (c->monitor && !c->closing && (r = req_new(c, R_MONITOR, NULL)) != NULL) {
		/* the monitor request goes first */
		req_unlink(c, r);
		c->nreqs++;
		r->prev = NULL;
		r->next = c->reqs;
		if (c->reqs)
			c->reqs->prev = r;
		else
			c->reqs_tail = r;
		c->reqs = r;
	}
	pump(c);
}

/* ---------------- incoming ---------------- */

static void ack(struct cp_client *c, uint64_t seq)
{
	uint8_t b[8];
	struct cp_msg m = {.type = CP_T_ACK, .nack = 1, .acks = b};

	put_be64(b, seq);
	if (c->state == C_UP && send_msg(c, &m, 8) < 0)
		log_msg(PL_LOG_DEBUG, "cp client: ack not sent (will be redelivered)");
}

/* The replay cache of our key directory (memory only without one), loaded on first need. */
static int replay_ready(struct cp_client *c)
{
	if (c->replay)
		return 0;
	return cp_replay_open(c->cfg.keydir, CP_CLIENT_REPLAY, CP_CLIENT_REPLAY_PER_SENDER,
			      &c->replay);
}

/* Record an opened envelope in the replay cache: ENV_OK when new. */
static int replay_add(struct cp_client *c, const struct envelope *e, uint64_t now)
{
	if (replay_ready(c) < 0)
		return ENV_E_REPLAY_STORE;
	return cp_replay_add(c->replay, e->from, e->id, e->expiry, now);
}

/*
 * Open, verify, de-duplicate and deliver one notification; acks it unless
 * it could not be judged now (no memory, replay cache file failing): then
 * the home delivers it again later.
 */
static void deliver(struct cp_client *c, uint64_t seq, const uint8_t *env, size_t len,
		    const struct cp_key *k)
{
	struct envelope e;
	uint64_t now = net_unix_now();
	int r;

	if (k->err) {
		log_msg(PL_LOG_WARN, "cp client: dropping notification from %s: %s", k->pk.handle,
			k->why[0] ? k->why : cp_strerror(k->err));
		ack(c, seq);
		return;
	}
	if (buf_need(&c->work, len) < 0)
		return; /* not acked: redelivered later */
	r = envelope_open(c->cfg.id, &k->pk, env, len, now, c->work.p, c->work.cap, &e);
	if (r == ENV_OK)
		r = replay_add(c, &e, now);
	if (r == ENV_OK && c->cfg.on_notification)
		c->cfg.on_notification(c->cfg.arg, &e);
	else if (r != ENV_OK && r != ENV_E_REPLAY)
		log_msg(PL_LOG_WARN, "cp client: %s notification from %s: %s",
			r == ENV_E_REPLAY_STORE ? "not acknowledging" : "dropping", k->pk.handle,
			envelope_strerror(r));
	sodium_memzero(c->work.p, len);
	if (r != ENV_E_REPLAY_STORE)
		ack(c, seq); /* even when the callback freed us: it has handled the notification */
}

static int park(struct cp_client *c, const struct cp_msg *m, const char *from)
{
	struct parked *p;

	if (c->npark >= MAX_PUSH_WAIT)
		return -ENOBUFS; /* not acked: redelivered after reconnect */
	p = malloc(sizeof(*p) + m->data_len);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->seq = m->seq;
	p->expiry = m->expiry;
	p->len = m->data_len;
	snprintf(p->from, sizeof(p->from), "%s", from);
	memcpy(p->env, m->data, m->data_len);
	if (c->park_tail)
		c->park_tail->next = p;
	else
		c->park = p;
	c->park_tail = p;
	c->npark++;
	return 0;
}

/* Deliver parked pushes in order while their senders' keys are known. */
static void drain_parked(struct cp_client *c)
{
	const struct cp_key *k;

	while (c->park && !c->closing) {
		struct parked *p = c->park;

		k = keys_get(c, p->from);
		if (!k)
			return;
		c->park = p->next;
		if (!c->park)
			c->park_tail = NULL;
		c->npark--;
		deliver(c, p->seq, p->env, p->len, k);
		free(p);
	}
}

/*
 * The sender filter, before the sender's keys are fetched (and pinned) and
 * before anything enters the replay cache. The type is read from the
 * decrypted, not yet verified, inner envelope: envelope_open() verifies
 * the signature over that same from and type before anything is acted on.
 * 1: allowed (or no filter); 0: refused or undecryptable (ack it); -1: no
 * memory (not acked: redelivered later).
 */
static int push_allowed(struct cp_client *c, const struct cp_msg *m, const char *from)
{
	struct envelope e;
	bool ok;
	int r;

	if (!c->cfg.sender_allowed)
		return 1;
	if (buf_need(&c->work, m->data_len) < 0)
		return -1;
	r = envelope_peek_inner(c->cfg.id, m->data, m->data_len, c->work.p, c->work.cap, &e);
	if (r != ENV_OK) {
		log_msg(PL_LOG_WARN, "cp client: dropping notification from %s: %s", from,
			envelope_strerror(r));
		return 0;
	}
	sodium_memzero(c->work.p, m->data_len); /* e.from and e.type are copies */
	ok = c->cfg.sender_allowed(c->cfg.arg, e.from, e.type);
	if (!ok)
		log_msg(PL_LOG_DEBUG, "cp client: notification from %s (type %u) refused by policy",
			e.from, e.type);
	return ok ? 1 : 0;
}

static void on_push(struct cp_client *c, const struct cp_msg *m)
{
	char from[HANDLE_BUF], to[HANDLE_BUF];
	const struct cp_key *k;
	int allowed;

	if (envelope_peek(m->data, m->data_len, from, to) != ENV_OK) {
		log_msg(PL_LOG_WARN, "cp client: dropping malformed notification");
		ack(c, m->seq);
		return;
	}
	allowed = push_allowed(c, m, from);
	if (allowed == 0)
		ack(c, m->seq);
	if (allowed <= 0 || c->closing)
		return;
	if (!c->park && (k = keys_get(c, from)) != NULL) {
		deliver(c, m->seq, m->data, m->data_len, k);
		return;
	}
	if (park(c, m, from) < 0)
		log_msg(PL_LOG_WARN, "cp client: too many notifications waiting for keys");
	else
		drain_parked(c);
}

/*
 * The home says m->handle is revoked: its keys go (the entry now holds
 * CP_E_REVOKED, so requests and parked pushes waiting on it fail), then
 * the application hears of it once, e.g. to end that identity's sessions.
 */
static void on_revoked(struct cp_client *c, const struct cp_msg *m)
{
	const struct cp_key *k;
	double now = ev_now(c->loop);

	log_msg(PL_LOG_INFO, "control plane: %s is revoked; its keys are no longer trusted",
		m->handle);
	if (cp_keycache_lookup(c->keys, m->handle, now, &k) != CP_KC_NOMEM)
		(void)cp_keycache_fail(c->keys, m->handle, CP_E_REVOKED, now);
	resume_keys(c, m->handle);
	if (c->cfg.on_revoked && !c->closing)
		c->cfg.on_revoked(c->cfg.arg, m->handle);
}

static void on_answer(struct cp_client *c, const struct cp_msg *m)
{
	struct req *r = req_find_sent(c, m->req);
	int err = m->type == CP_T_R_ERR ? m->err : 0;
	const char *msg = err ? m->errmsg : NULL;

	if (!r)
		return; /* answer to a request that timed out */
	switch (r->kind) {
	case R_FETCH:
		if (!err && m->type != CP_T_R_KEYS)
			err = CP_E_PROTO;
		fetch_done(c, r, err, m);
		return;
	case R_GET:
		if (!err && m->type == CP_T_R_RECORD) {
			req_unlink(c, r);
			r->cb.record(r->arg, CP_OK, m->data, m->data_len);
			req_free(r);
			return;
		}
		break;
	case R_LOOKUP:
		if (!err && m->type == CP_T_R_LOOKUP) {
			req_unlink(c, r);
			r->cb.lookup(r->arg, CP_OK, m->hostport, m->server_pk);
			req_free(r);
			return;
		}
		break;
	case R_NOTIFY:
	case R_RAWENV:
		if (!err && m->type != CP_T_R_NOTIFIED)
			err = CP_E_PROTO;
		if (!err && !(m->flags & CP_NOTIFIED_ONLINE))
			msg = cp_msg_offline;
		break;
	default:
		if (!err && m->type != CP_T_R_OK)
			err = CP_E_PROTO;
	}
	if (!err && (r->kind == R_GET || r->kind == R_LOOKUP))
		err = CP_E_PROTO;
	req_done(c, r, err, msg);
}

static void on_auth_answer(struct cp_client *c, const struct cp_msg *m)
{
	struct req *r = req_find_sent(c, m->req);
	int err = m->type == CP_T_R_ERR ? m->err : (m->type == CP_T_R_OK ? 0 : CP_E_PROTO);

	if (err) {
		conn_down(c, err, m->type == CP_T_R_ERR ? m->errmsg : NULL);
		return;
	}
	if (r)
		req_done(c, r, CP_OK, NULL);
	if (!c->closing)
		went_up(c);
}

static int on_message(struct cp_client *c, const struct cp_msg *m)
{
	if (cp_msg_from_client(m->type)) {
		conn_down(c, CP_E_PROTO, "server sent a client message");
		return -1;
	}
	if (c->state == C_CHALLENGE) {
		if (m->type != CP_T_CHALLENGE) {
			conn_down(c, m->type == CP_T_R_ERR ? m->err : CP_E_PROTO,
				  m->type == CP_T_R_ERR ? m->errmsg : "expected a challenge");
			return -1;
		}
		if (send_auth(c, m) < 0) {
			conn_down(c, CP_E_CLOSED, "cannot send");
			return -1;
		}
		return 0;
	}
	if (c->state == C_AUTHING) {
		on_auth_answer(c, m);
	} else if (m->type == CP_T_PUSH) {
		on_push(c, m);
	} else if (m->type == CP_T_REVOKED) {
		on_revoked(c, m);
	} else if (m->type == CP_T_R_ERR && m->req == 0) {
		conn_down(c, m->err, m->errmsg);
	} else {
		on_answer(c, m);
	}
	return c->state == C_DOWN || c->closing ? -1 : 0;
}

static int on_frame(struct cp_client *c, size_t flen)
{
	struct cp_msg m;
	int n;

	if (buf_need(&c->rx, flen) < 0) {
		conn_down(c, CP_E_NOMEM, NULL);
		return -1;
	}
	n = cp_sess_open(&c->sess, conn_in(&c->conn), flen, c->rx.p, c->rx.cap);
	if (n < 0) {
		conn_down(c, c->state == C_CHALLENGE ? CP_E_SERVER_KEY : CP_E_PROTO,
			  c->state == C_CHALLENGE ? NULL : "frame fails authentication");
		return -1;
	}
	conn_consume(&c->conn, flen);
	if (cp_msg_decode(c->rx.p, (size_t)n, &m) < 0) {
		conn_down(c, CP_E_PROTO, "malformed message from server");
		return -1;
	}
	return on_message(c, &m);
}

static int on_server_hello(struct cp_client *c)
{
	if (conn_in_len(&c->conn) < CP_SERVER_HELLO_LEN)
		return 1;
	if (cp_hs_client_finish(&c->hs, conn_in(&c->conn), &c->sess) < 0) {
		conn_down(c, CP_E_SERVER_KEY, NULL);
		return -1;
	}
	conn_consume(&c->conn, CP_SERVER_HELLO_LEN);
	c->state = C_CHALLENGE;
	return 0;
}

static int frames(struct cp_client *c)
{
	size_t flen;
	int r;

	if (c->state == C_HELLO && (r = on_server_hello(c)) != 0)
		return r < 0 ? -1 : 0;
	while (c->state != C_DOWN && !c->closing) {
		r = cp_frame_check(conn_in(&c->conn), conn_in_len(&c->conn), &flen);
		if (r == -EAGAIN) {
			if (flen > c->conn.in_cap && conn_set_in_cap(&c->conn, flen) < 0) {
				conn_down(c, CP_E_NOMEM, NULL);
				return -1;
			}
			return 0;
		}
		if (r < 0) {
			conn_down(c, r == -EMSGSIZE ? CP_E_TOO_BIG : CP_E_PROTO,
				  "bad frame from server");
			return -1;
		}
		if (on_frame(c, flen) < 0)
			return -1;
	}
	return -1;
}

static int on_data(struct conn *cn)
{
	struct cp_client *c = container_of(cn, struct cp_client, conn);
	int r;

	enter(c);
	/* a read that filled the small idle buffer: grow so a busy stream costs fewer reads */
	if (cn->in_len == cn->in_cap && cn->in_cap < IN_CAP_BUSY &&
	    conn_set_in_cap(cn, IN_CAP_BUSY) < 0)
		log_msg(PL_LOG_DEBUG, "cp client: cannot grow the input buffer");
	r = frames(c);
	if (!c->conn_live)
		r = -1;
	if (leave(c))
		return -1;
	return r < 0 && !c->conn_live ? -1 : 0;
}

static void on_close(struct conn *cn, int err)
{
	struct cp_client *c = container_of(cn, struct cp_client, conn);

	enter(c);
	if (c->state == C_CONNECTING)
		conn_down(c, CP_E_CONNECT, strerror(-err));
	else if (c->state == C_HELLO || c->state == C_CHALLENGE)
		conn_down(c, CP_E_SERVER_KEY, "connection closed during the handshake");
	else
		conn_down(c, CP_E_CLOSED, err ? strerror(-err) : "closed by the server");
	leave(c);
}

/* ---------------- timers ---------------- */

static void expire_reqs(struct cp_client *c, double now)
{
	struct req *r, *nx;
	bool unanswered = false;

	for (r = c->reqs; r && !c->closing; r = nx) {
		nx = r->next;
		if (now < r->deadline || r->kind == R_AUTH)
			continue;
		unanswered |= c->state == C_UP && r->state == Q_SENT;
		if (r->kind == R_FETCH) {
			fetch_done(c, r, CP_E_TIMEOUT, NULL);
			nx = c->reqs; /* resume may have changed the list */
		} else {
			req_done(c, r, CP_E_TIMEOUT, NULL);
		}
	}
	/*
	 * A request sent on an "up" connection got no answer in time: the path is
	 * dead (e.g. our address changed under an established TCP connection,
	 * which the kernel would notice only after many minutes). Reconnect.
	 */
	if (unanswered && c->state == C_UP && !c->closing)
		conn_down(c, CP_E_TIMEOUT, "no answer from the control plane");
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cp_client *c = container_of(w, struct cp_client, tick_w);
	double now = ev_now(loop);
	enter(c);
	if (c->state != C_DOWN && c->state != C_UP && now - c->state_since > CONNECT_TIMEOUT)
		conn_down(c, CP_E_TIMEOUT, "connect/handshake timed out");
	expire_reqs(c, now);
	(void)cp_keycache_expire(c->keys, now);
	if (c->state == C_UP && c->monitor && now - c->last_tx > CP_CLIENT_PING &&
	    req_new(c, R_PING, NULL))
		pump(c);
	if (!c->closing && !c->monitor && c->nreqs == 0)
		ev_timer_stop(loop, w);
	leave(c);
}

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct cp_client *c = container_of(w, struct cp_client, kick_w);

	ev_prepare_stop(loop, w);
	enter(c);
	kick(c);
	leave(c);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cp_client *c = container_of(w, struct cp_client, retry_w);

	enter(c);
	kick(c);
	leave(c);
}

/* ---------------- public ---------------- */

/* The key cache's pin check: the pin file in our key directory, under the key policy. */
static int pin_keys(void *arg, const struct pubkeys *pk, const uint8_t *proof, size_t proof_len,
		    char *why, size_t whylen)
{
	const struct cp_client *c = arg;
	struct cp_pin_policy pol = {0};
	char fpr[ID_FPR_BUF] = "";
	bool have = false;

	if (c->cfg.key_policy) {
		/* -EPERM (nobody asked for it), or any other error: no first use */
		pol.no_first_use = c->cfg.key_policy(c->cfg.arg, pk->handle, fpr, &have) != 0;
		fpr[ID_FPR_BUF - 1] = '\0';
		pol.expect_fpr = have ? fpr : NULL;
	}
	return cp_pin_check_policy(c->cfg.keydir, pk, proof, proof_len, &pol, why, whylen);
}

struct cp_client *cp_client_new(struct ev_loop *loop, const struct cp_client_cfg *cfg)
{
	struct cp_client *c;
	struct cp_keycache_cfg kcfg = {
	    .max = MAX_KEYS,
	    .ttl = CP_CLIENT_KEY_TTL,
	    .neg_ttl = NEG_TTL,
	    .pin = pin_keys,
	};

	if (!cfg->server || !cfg->id || !handle_valid(cfg->id->pub.handle))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->cfg = *cfg;
	if (cfg->server == cfg->server_buf)
		c->cfg.server = c->cfg.server_buf;
	if (cfg->keydir == cfg->keydir_buf)
		c->cfg.keydir = c->cfg.keydir_buf;
	c->cfg.owned_id = NULL;
	kcfg.self = &cfg->id->pub;
	kcfg.pin_arg = c;
	c->keys = cp_keycache_new(&kcfg);
	if (!c->keys) {
		free(c);
		return NULL;
	}
	ev_timer_init(&c->tick_w, tick_cb, 1, 1);
	ev_init(&c->retry_w, retry_cb);
	ev_prepare_init(&c->kick_w, kick_cb);
	return c;
}

static void destroy(struct cp_client *c)
{
	struct req *r;

	while ((r = c->reqs) != NULL) {
		req_unlink(c, r);
		req_free(r);
	}
	cp_keycache_free(c->keys);
	drop_parked(c);
	if (c->conn_live)
		conn_close(&c->conn);
	ev_timer_stop(c->loop, &c->tick_w);
	ev_timer_stop(c->loop, &c->retry_w);
	ev_prepare_stop(c->loop, &c->kick_w);
	cp_replay_close(c->replay);
	buf_free(&c->rx);
	buf_free(&c->tx);
	buf_free(&c->work);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

void cp_client_free(struct cp_client *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	ev_timer_stop(c->loop, &c->tick_w);
	ev_timer_stop(c->loop, &c->retry_w);
	ev_prepare_stop(c->loop, &c->kick_w);
	if (c->depth == 0)
		destroy(c);
}

int cp_client_monitor(struct cp_client *c)
{
	int r;

	if (!c->cfg.on_notification)
		return -EINVAL;
	r = replay_ready(c); /* loaded now: a damaged file is an error at start, not later */
	if (r < 0)
		return r;
	c->monitor = true;
	if (c->state == C_UP && !req_new(c, R_MONITOR, NULL))
		return -ENOMEM;
	if (!ev_is_active(&c->kick_w))
		ev_prepare_start(c->loop, &c->kick_w);
	return 0;
}

bool cp_client_is_up(const struct cp_client *c)
{
	return c->state == C_UP;
}

void cp_client_forget(struct cp_client *c, const char *handle)
{
	(void)cp_keycache_forget(c->keys, handle);
}

static struct req *new_user_req(struct cp_client *c, enum req_kind kind, void *cb, void *arg)
{
	struct req *r = req_new(c, kind, arg);

	if (r)
		r->cb.done = (cp_done_cb)cb;
	return r;
}

static int copy_data(struct req *r, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	r->data = malloc(n);
	if (!r->data)
		return -ENOMEM;
	memcpy(r->data, p, n);
	r->len = n;
	return 0;
}

/* Requests made by API calls are moved on from the loop (kick_cb), so no
 * callback ever runs inside an API call. */
static int submit(struct cp_client *c, struct req *r, int err)
{
	if (err < 0) {
		req_unlink(c, r);
		req_free(r);
		return err;
	}
	if (!ev_is_active(&c->kick_w))
		ev_prepare_start(c->loop, &c->kick_w);
	return 0;
}

int cp_client_notify(struct cp_client *c, const char *to, uint16_t type, const uint8_t *payload,
		     size_t len, uint32_t ttl_s, cp_done_cb cb, void *arg)
{
	struct req *r;

	if (!handle_valid(to) || len > ENVELOPE_MAX_PAYLOAD || ttl_s == 0 ||
	    ttl_s > CP_EXPIRY_MAX || (len && !payload))
		return -EINVAL;
	r = new_user_req(c, R_NOTIFY, (void *)cb, arg);
	if (!r)
		return c->closing ? -ESHUTDOWN : -ENOBUFS;
	snprintf(r->handle, sizeof(r->handle), "%s", to);
	r->type = type;
	r->ttl = ttl_s;
	return submit(c, r, copy_data(r, payload, len));
}

int cp_client_send_envelope(struct cp_client *c, const uint8_t *env, size_t len, uint64_t expiry,
			    cp_done_cb cb, void *arg)
{
	struct req *r;

	if (len == 0 || len > ENVELOPE_MAX)
		return -EINVAL;
	r = new_user_req(c, R_RAWENV, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	r->expiry = expiry;
	return submit(c, r, copy_data(r, env, len));
}

int cp_client_get_keys(struct cp_client *c, const char *handle, cp_keys_cb cb, void *arg)
{
	struct req *r;

	if (!handle_valid(handle) || !cb)
		return -EINVAL;
	r = new_user_req(c, R_KEYS, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	snprintf(r->handle, sizeof(r->handle), "%s", handle);
	return submit(c, r, 0);
}

int cp_client_lookup(struct cp_client *c, const char *handle, cp_lookup_cb cb, void *arg)
{
	struct req *r;

	if (!handle_valid(handle) || !cb)
		return -EINVAL;
	r = new_user_req(c, R_LOOKUP, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	snprintf(r->handle, sizeof(r->handle), "%s", handle);
	return submit(c, r, 0);
}

int cp_client_put_record(struct cp_client *c, const char *name, const uint8_t *data, size_t len,
			 cp_done_cb cb, void *arg)
{
	struct req *r;

	if (!cp_recname_valid(name) || len > CP_RECORD_MAX || (len && !data))
		return -EINVAL;
	r = new_user_req(c, R_PUT, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	snprintf(r->name, sizeof(r->name), "%s", name);
	return submit(c, r, copy_data(r, data, len));
}

int cp_client_get_record(struct cp_client *c, const char *handle, const char *name, cp_record_cb cb,
			 void *arg)
{
	struct req *r;

	if (!handle_valid(handle) || !cp_recname_valid(name) || !cb)
		return -EINVAL;
	r = new_user_req(c, R_GET, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	snprintf(r->handle, sizeof(r->handle), "%s", handle);
	snprintf(r->name, sizeof(r->name), "%s", name);
	return submit(c, r, 0);
}

int cp_client_del_record(struct cp_client *c, const char *name, cp_done_cb cb, void *arg)
{
	struct req *r;

	if (!cp_recname_valid(name))
		return -EINVAL;
	r = new_user_req(c, R_DEL, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	snprintf(r->name, sizeof(r->name), "%s", name);
	return submit(c, r, 0);
}

int cp_client_rotate(struct cp_client *c, const uint8_t keysig[CP_SIG_LEN], const uint8_t *proof,
		     size_t proof_len, cp_done_cb cb, void *arg)
{
	uint8_t buf[CP_SIG_LEN + CP_ROT_MAX];
	struct req *r;

	if (!proof_len || proof_len > CP_ROT_MAX)
		return -EINVAL;
	memcpy(buf, keysig, CP_SIG_LEN);
	memcpy(buf + CP_SIG_LEN, proof, proof_len);
	r = new_user_req(c, R_ROTATE, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	return submit(c, r, copy_data(r, buf, CP_SIG_LEN + proof_len));
}

int cp_client_enroll(struct cp_client *c, const char *code, cp_done_cb cb, void *arg)
{
	struct req *r;

	if (strlen(code) == 0 || strlen(code) > CP_CODE_MAX || c->state != C_DOWN || c->nreqs)
		return -EINVAL;
	r = new_user_req(c, R_AUTH, (void *)cb, arg);
	if (!r)
		return -ENOBUFS;
	c->enrolling = true;
	snprintf(c->enroll_code, sizeof(c->enroll_code), "%s", code);
	return submit(c, r, 0);
}

int cp_client_cfg_load(const char *keydir, struct cp_client_cfg *cfg, char *err, size_t errlen)
{
	char path[4096];
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (keydir) {
		if (strlen(keydir) >= sizeof(cfg->keydir_buf))
			return -ENAMETOOLONG;
		snprintf(cfg->keydir_buf, sizeof(cfg->keydir_buf), "%s", keydir);
	} else if (identity_default_dir(cfg->keydir_buf, sizeof(cfg->keydir_buf)) < 0) {
		snprintf(err, errlen, "cannot work out the key directory (set --keys or HOME)");
		return -ENOENT;
	}
	cfg->keydir = cfg->keydir_buf;
	r = cp_conf_load(cfg->keydir, cfg->server_buf, cfg->server_pk, err, errlen);
	if (r < 0)
		return r;
	cfg->server = cfg->server_buf;
	if (identity_path(path, sizeof(path), cfg->keydir) < 0)
		return -ENAMETOOLONG;
	r = identity_load(path, &cfg->owned_id, err, errlen);
	if (r < 0)
		return r;
	cfg->id = cfg->owned_id;
	return 0;
}

void cp_client_cfg_release(struct cp_client_cfg *cfg)
{
	identity_free(cfg->owned_id);
	cfg->owned_id = NULL;
	cfg->id = NULL;
}
