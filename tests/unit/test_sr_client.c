/* SPDX-License-Identifier: MIT */
/*
 * sr_client against a fake SR on loopback UDP (the test answers HELLO and
 * AUTH itself and forwards data by relay_id), with an injected clock. The
 * attacks: a relay that drops every REKEY_RESP, a forged WELCOME, an
 * unauthenticated data datagram while waiting, a ticket naming a host.
 */
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <ev.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sr_client.h"
#include "wire.h"

/* A resolver call would block the loop: count them (there must be none). */
static int resolver_calls;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	resolver_calls++;
	return EAI_FAIL;
}

enum { RID_A = 0x0a0a0a0a, RID_B = 0x0b0b0b0b };

struct side {
	struct sr_client *c;
	int up, down_reason, packets;
	double down_at;
};

struct world {
	struct ev_loop *loop;
	int rfd; /* the fake SR's socket */
	struct sockaddr_in raddr, addr[2];
	bool paired;          /* WELCOME says PAIRED (else WAITING) */
	bool drop_resp;       /* drop B's REKEY_RESP (found with a copy of A's keys) */
	struct dp_state *spy; /* opens B -> A packets: A's receive key */
	uint8_t last_a[2048]; /* the last data packet A sent */
	double now;
	struct side s[2];
	struct dp_keys keys[2];
	uint8_t sid[SR_SID_LEN];
};

static double clock_of(void *arg)
{
	return ((struct world *)arg)->now;
}

static void on_up(void *arg, int tr)
{
	((struct side *)arg)->up++;
}

static void on_packet(void *arg, struct pkt *p)
{
	((struct side *)arg)->packets++;
}

static void on_down(void *arg, int reason, const char *msg)
{
	struct side *s = arg;

	s->down_reason = reason;
	sr_client_free(s->c); /* allowed from the callback */
	s->c = NULL;
}

static void keys_make(struct world *w)
{
	struct dp_keypair ka, kb;
	struct dp_transcript t = {.handle_a = "@alice", .handle_b = "@device"};

	dp_keypair_new(&ka);
	dp_keypair_new(&kb);
	memcpy(t.session_id, w->sid, SR_SID_LEN);
	memcpy(t.pk_a, ka.pk, DP_PK_LEN);
	memcpy(t.pk_b, kb.pk, DP_PK_LEN);
	t.aead = DP_AEAD_CHACHA20POLY1305;
	assert_int_equal(dp_derive(&ka, SR_SIDE_A, &t, &w->keys[0]), 0);
	assert_int_equal(dp_derive(&kb, SR_SIDE_B, &t, &w->keys[1]), 0);
	dp_keypair_wipe(&ka);
	dp_keypair_wipe(&kb);
}

static int setup(void **state)
{
	static struct world w;
	socklen_t l = sizeof(w.raddr);

	memset(&w, 0, sizeof(w));
	w.loop = ev_loop_new(EVFLAG_AUTO);
	w.rfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	w.raddr.sin_family = AF_INET;
	w.raddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(w.rfd, (struct sockaddr *)&w.raddr, sizeof(w.raddr)), 0);
	assert_int_equal(getsockname(w.rfd, (struct sockaddr *)&w.raddr, &l), 0);
	randombytes_buf(w.sid, sizeof(w.sid));
	keys_make(&w);
	w.paired = true;
	w.now = ev_now(w.loop);
	resolver_calls = 0;
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	for (int i = 0; i < 2; i++)
		sr_client_free(w->s[i].c);
	dp_state_free(w->spy);
	close(w->rfd);
	ev_loop_destroy(w->loop);
	return 0;
}

static void put_head(uint8_t *m, uint8_t type, uint8_t side, uint8_t x, const uint8_t *sid)
{
	m[0] = type;
	m[1] = SR_VERSION;
	m[2] = side;
	m[3] = x;
	memcpy(m + 4, sid, SR_SID_LEN);
}

static void to_side(struct world *w, int side, const uint8_t *m, size_t n)
{
	assert_int_equal(
	    sendto(w->rfd, m, n, 0, (struct sockaddr *)&w->addr[side], sizeof(w->addr[side])),
	    (ssize_t)n);
}

static void welcome(struct world *w, int side, uint8_t state, uint32_t rid)
{
	uint8_t m[SR_WELCOME_LEN];

	put_head(m, SR_MSG_WELCOME, (uint8_t)side, state, w->sid);
	put_be32(m + SR_SIDE_HDR, rid);
	m[SR_SIDE_HDR + 4] = SR_TR_UDP;
	to_side(w, side, m, sizeof(m));
}

/* Should the path drop this B -> A packet? Only a REKEY_RESP (the spy can read it). */
static bool drop(struct world *w, const uint8_t *b, size_t n)
{
	uint8_t buf[2048], t;
	struct pkt p;

	if (!w->drop_resp)
		return false;
	pkt_init(&p, buf, sizeof(buf), 0);
	memcpy(pkt_put(&p, n), b, n);
	return dp_open(w->spy, &p, &t, w->now) == 0 && t == SR_MSG_DATA_CTRL &&
	       pkt_data(&p)[0] == DPC_REKEY_RESP;
}

/* One datagram at the fake SR. */
static void relay_one(struct world *w, const uint8_t *b, size_t n, const struct sockaddr_in *from)
{
	uint8_t m[SR_CHALLENGE_LEN] = {0};

	if (n >= SR_SIDE_HDR && b[0] == SR_MSG_HELLO) {
		w->addr[b[2] & 1] = *from;
		put_head(m, SR_MSG_CHALLENGE, b[2], 0, w->sid);
		to_side(w, b[2] & 1, m, sizeof(m));
	} else if (n >= SR_SIDE_HDR && b[0] == SR_MSG_AUTH) {
		welcome(w, b[2] & 1, w->paired ? SR_WS_PAIRED : SR_WS_WAITING,
			b[2] ? RID_B : RID_A);
	} else if (n >= SR_DP_OVERHEAD && sr_msg_is_data(b[0])) {
		int from_b = get_be32(b + 4) == RID_B;

		if (!from_b)
			memcpy(w->last_a, b, n);
		if (!(from_b && drop(w, b, n)))
			to_side(w, !from_b, b, n);
	}
}

static void pump(struct world *w)
{
	for (int round = 0; round < 4; round++) {
		uint8_t b[2048];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		ev_run(w->loop, EVRUN_NOWAIT);
		while ((n = recvfrom(w->rfd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl)) > 0) {
			relay_one(w, b, (size_t)n, &from);
			fl = sizeof(from);
		}
	}
}

static struct sr_client *client(struct world *w, int side, const char *host)
{
	struct sr_session_params sp = {0};
	struct sr_client_cbs cb = {.on_up = on_up, .on_packet = on_packet, .on_down = on_down};
	struct sr_client *c;

	sp.ticket.side = (uint8_t)side;
	memcpy(sp.ticket.session_id, w->sid, SR_SID_LEN);
	snprintf(sp.ticket.host, sizeof(sp.ticket.host), "%s", host);
	sp.ticket.udp_port = ntohs(w->raddr.sin_port);
	sp.ticket.tcp_port = sp.ticket.udp_port;
	sp.keys = w->keys[side];
	sp.transport = SR_TR_UDP;
	dp_limits_default(&sp.limits);
	cb.arg = &w->s[side];
	c = sr_client_new(w->loop, &sp, &cb);
	if (c)
		sr_client_set_clock(c, clock_of, w);
	w->s[side].c = c;
	return c;
}

static void send_data(struct side *s, const char *txt)
{
	uint8_t buf[SR_HEADROOM + 64 + SR_TAILROOM];
	struct pkt p;

	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, strlen(txt)), txt, strlen(txt));
	if (sr_client_send(s->c, &p) < 0)
		return; /* refused (keys expired): on_down says why */
}

/* Both up through the fake SR. */
static void both_up(struct world *w)
{
	assert_non_null(client(w, SR_SIDE_A, "127.0.0.1"));
	assert_non_null(client(w, SR_SIDE_B, "127.0.0.1"));
	for (int i = 0; i < 20 && !(w->s[0].up && w->s[1].up); i++)
		pump(w);
	assert_int_equal(w->s[0].up, 1);
	assert_int_equal(w->s[1].up, 1);
}

/*
 * The relay drops every REKEY_RESP of a busy session for 12 simulated
 * hours. Before: both sides stayed up on epoch 0 all along. Now both end at
 * reject-after-time (3 x 120 s) with SR_DOWN_KEYS_EXPIRED.
 */
static void dropped_resp_ends_session_both_sides(void **state)
{
	struct world *w = *state;
	double t0 = w->now;
	struct sr_client_stats st;

	w->spy = dp_state_new(&w->keys[0], NULL, w->now);
	w->drop_resp = true;
	both_up(w);
	for (int sec = 1; sec <= 12 * 3600 && (w->s[0].c || w->s[1].c); sec++) {
		w->now = t0 + sec;
		for (int i = 0; i < 2; i++) {
			if (w->s[i].c && !w->s[i].down_reason) {
				sr_client_get_stats(w->s[i].c, &st);
				assert_int_equal(st.rekeys, 0);
				send_data(&w->s[i], i ? "reply" : "typing");
			}
			if (w->s[i].c && !w->s[i].down_reason)
				sr_client_poll(w->s[i].c);
			if (w->s[i].down_reason && w->s[i].down_at == 0)
				w->s[i].down_at = w->now - t0;
		}
		pump(w);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w->s[i].down_reason, SR_DOWN_KEYS_EXPIRED);
		assert_true(w->s[i].down_at >= 360 && w->s[i].down_at <= 362);
		assert_true(w->s[i].packets > 300); /* data flowed until then */
	}
}

/* UP: a forged WELCOME (no MAC) naming another relay_id changes nothing. */
static void forged_welcome_keeps_relay_id(void **state)
{
	struct world *w = *state;

	both_up(w);
	welcome(w, SR_SIDE_A, SR_WS_PAIRED, 0xdeadbeef);
	pump(w);
	send_data(&w->s[0], "still mine");
	pump(w);
	assert_int_equal(get_be32(w->last_a + 4), RID_A);
	assert_int_equal(w->s[1].packets, 1);
	assert_int_equal(w->s[0].up, 1);
	assert_int_equal(w->s[0].down_reason, 0);
}

/* WAITING: a datagram of a data type that fails AEAD does not bring the session up. */
static void unauthentic_data_does_not_pair(void **state)
{
	struct world *w = *state;
	uint8_t junk[64], buf[SR_HEADROOM + 64 + SR_TAILROOM];
	struct sr_client_stats st;
	struct dp_state *b;
	struct pkt p;

	w->paired = false;
	assert_non_null(client(w, SR_SIDE_A, "127.0.0.1"));
	for (int i = 0; i < 5; i++)
		pump(w);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = SR_MSG_DATA;
	junk[1] = 0;
	junk[2] = SR_DP_VERSION;
	to_side(w, SR_SIDE_A, junk, sizeof(junk));
	pump(w);
	assert_int_equal(w->s[0].up, 0);
	sr_client_get_stats(w->s[0].c, &st);
	assert_int_equal(st.drop_tag, 1);
	assert_int_equal(sr_client_transport(w->s[0].c), SR_TR_NONE);
	/* the peer's authentic packet may overtake PAIRED: that one does */
	b = dp_state_new(&w->keys[1], NULL, w->now);
	pkt_init(&p, buf, sizeof(buf), SR_HEADROOM);
	memcpy(pkt_put(&p, 5), "hello", 5);
	assert_int_equal(dp_seal(b, SR_MSG_DATA, RID_B, &p, w->now), 0);
	to_side(w, SR_SIDE_A, pkt_data(&p), p.len);
	pump(w);
	dp_state_free(b);
	assert_int_equal(w->s[0].up, 1);
	assert_int_equal(w->s[0].packets, 1);
}

/* A ticket naming a host is refused at once, without a resolver call. */
static void host_name_refused_without_resolver(void **state)
{
	struct world *w = *state;

	assert_null(client(w, SR_SIDE_A, "relay.example.net"));
	assert_null(client(w, SR_SIDE_A, "localhost"));
	assert_int_equal(resolver_calls, 0);
	assert_non_null(client(w, SR_SIDE_A, "127.0.0.1")); /* numeric: fine, no resolver */
	assert_int_equal(resolver_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(dropped_resp_ends_session_both_sides, setup, teardown),
	    cmocka_unit_test_setup_teardown(forged_welcome_keeps_relay_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(unauthentic_data_does_not_pair, setup, teardown),
	    cmocka_unit_test_setup_teardown(host_name_refused_without_resolver, setup, teardown),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
