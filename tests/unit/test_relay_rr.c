/* SPDX-License-Identifier: MIT */
/*
 * The relay's return-routability check of a roam, on loopback with the
 * relay's real sockets and hand-made sides (a test holds both of a
 * ticket's secrets, as the attacker of the issue does):
 *  - a valid ROAM for side A from another address (the "victim", standing
 *    in for a spoofed source) gets at most one ROAM_CHAL there, however
 *    many ROAMs follow within a second, and no data: B's stream keeps
 *    going to A's old, proven address;
 *  - a genuine roam (A's new socket echoes the challenge) moves A: WELCOME
 *    and then B's data arrive at the new socket, none at the old one.
 * The SR client's own answer is exercised by tests/e2e/fault_link.sh.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <sodium.h>

#include "relay.h"
#include "test_relay_fix.h"
#include "relay_roam.h"
#include "sr_side.h"
#include "wire.h"

enum { A = SR_SIDE_A, B = SR_SIDE_B, STREAM = 50 };

struct world {
	struct ev_loop *loop;
	struct relay *r;
	double skew; /* the relay's clock runs this far ahead of the loop's */
	struct sr_ticket tk;
	int sa, sb, victim, sa2; /* UDP sockets connected to the relay */
	uint32_t rid[2];
	uint64_t ctr;
};

/* What a socket received: counts by type, the last ROAM_CHAL. */
struct got {
	unsigned chal, welcome, data, other;
	size_t bytes;
	uint8_t last_chal[SR_ROAM_CHAL_LEN];
};

static double relay_now(void *arg)
{
	struct world *w = arg;

	return ev_now(w->loop) + w->skew;
}

static uint64_t relay_unix_now(void *arg)
{
	struct world *w = arg;

	return (uint64_t)ev_now(w->loop) + (uint64_t)w->skew;
}

static int udp_to(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int setup(void **state)
{
	static struct world w;
	struct relay_cfg cfg;
	int err = 0;

	memset(&w, 0, sizeof(w));
	w.loop = ev_loop_new(EVFLAG_AUTO);
	fix_loopback_cfg(&cfg, &(struct relay_clock){relay_now, relay_unix_now, &w});
	w.r = relay_new(w.loop, &cfg, &err);
	assert_non_null(w.r);
	assert_int_equal(relay_issue(w.r, "@a", "@b", &w.tk), 0);
	w.sa = udp_to(relay_udp_port(w.r));
	w.sb = udp_to(relay_udp_port(w.r));
	w.victim = udp_to(relay_udp_port(w.r));
	w.sa2 = udp_to(relay_udp_port(w.r));
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	close(w->sa);
	close(w->sb);
	close(w->victim);
	close(w->sa2);
	relay_free(w->r);
	sr_ticket_wipe(&w->tk);
	ev_loop_destroy(w->loop);
	return 0;
}

/* Let the relay read and answer (a few loop rounds; loopback is immediate). */
static void run(struct world *w)
{
	for (int i = 0; i < 10; i++)
		ev_run(w->loop, EVRUN_NOWAIT);
}

static void put(int fd, const uint8_t *m, size_t n)
{
	assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
}

/* Read everything waiting on @p fd; remember relay ids from WELCOMEs in @p w. */
static struct got drain(struct world *w, int fd)
{
	struct got g = {0};
	uint8_t b[2048];
	ssize_t n;

	while ((n = recv(fd, b, sizeof(b), 0)) > 0) {
		g.bytes += (size_t)n;
		if (b[0] == SR_MSG_ROAM_CHAL && n == SR_ROAM_CHAL_LEN) {
			g.chal++;
			memcpy(g.last_chal, b, SR_ROAM_CHAL_LEN);
		} else if (b[0] == SR_MSG_WELCOME && n == SR_WELCOME_LEN) {
			g.welcome++;
			w->rid[b[2] & 1] = get_be32(b + SR_SIDE_HDR);
		} else if (b[0] == SR_MSG_DATA) {
			g.data++;
		} else {
			g.other++;
		}
	}
	return g;
}

static size_t head(const struct world *w, uint8_t *m, uint8_t type, uint8_t side, uint8_t x)
{
	m[0] = type;
	m[1] = SR_VERSION;
	m[2] = side;
	m[3] = x;
	memcpy(m + 4, w->tk.session_id, SR_SID_LEN);
	return SR_SIDE_HDR;
}

/* HELLO, CHALLENGE, AUTH, WELCOME for @p side from @p fd. */
static void join(struct world *w, int fd, uint8_t side)
{
	uint8_t m[SR_SIDE_MSG_MAX] = {0}, c[SR_CHALLENGE_LEN];
	size_t n = head(w, m, SR_MSG_HELLO, side, SR_TR_UDP);

	put(fd, m, SR_HELLO_LEN);
	run(w);
	assert_int_equal(recv(fd, c, sizeof(c), 0), SR_CHALLENGE_LEN);
	assert_int_equal(c[0], SR_MSG_CHALLENGE);
	memcpy(m + n, c + SR_SIDE_HDR, SR_NONCE_LEN);
	m[0] = SR_MSG_AUTH;
	sr_auth_mac(w->tk.secret[side], c + SR_SIDE_HDR, w->tk.session_id, side,
		    m + n + SR_NONCE_LEN);
	put(fd, m, SR_AUTH_LEN);
	run(w);
}

/* Both sides in over UDP from sa and sb. */
static void pair(struct world *w)
{
	struct relay_stats st;

	join(w, w->sa, A);
	join(w, w->sb, B);
	drain(w, w->sa);
	assert_int_equal(drain(w, w->sb).welcome, 1);
	relay_get_stats(w->r, &st);
	assert_int_equal(st.paired, 1);
}

/* A valid ROAM keepalive of side A (key and next counter), sent from @p fd. */
static void roam_from(struct world *w, int fd)
{
	uint8_t m[SR_ROAM_LEN], key[32];
	size_t n = head(w, m, SR_MSG_ROAM, A, SR_ROAM_KEEPALIVE);

	put_be32(m + n, w->rid[A]);
	put_be64(m + n + 4, ++w->ctr);
	sr_roam_key(w->tk.secret[A], key);
	sr_roam_mac(key, m, m + SR_ROAM_LEN - SR_MAC_LEN);
	sodium_memzero(key, sizeof(key));
	put(fd, m, sizeof(m));
}

/* B streams STREAM data packets to A. */
static void stream_from_b(struct world *w)
{
	uint8_t d[100] = {SR_MSG_DATA};

	put_be32(d + 4, w->rid[B]);
	for (int i = 0; i < STREAM; i++) {
		put_be64(d + 8, (uint64_t)i);
		put(w->sb, d, sizeof(d));
		if (i % 10 == 9)
			run(w);
	}
	run(w);
}

static void test_spoofed_roam(void **state)
{
	struct world *w = *state;
	struct relay_stats st;
	struct got v, a;

	pair(w);
	roam_from(w, w->victim); /* key holder, source address not its own */
	run(w);
	stream_from_b(w);
	for (int i = 0; i < 20; i++) /* and more ROAMs within the second */
		roam_from(w, w->victim);
	run(w);
	stream_from_b(w);
	v = drain(w, w->victim);
	a = drain(w, w->sa);
	assert_int_equal(v.chal, 1); /* one challenge, */
	assert_true(v.bytes <= SR_ROAM_LEN);
	assert_int_equal(v.data + v.welcome + v.other, 0); /* and nothing else, ever */
	assert_int_equal(a.data, 2 * STREAM);              /* the stream stayed with A */
	relay_get_stats(w->r, &st);
	assert_int_equal(st.roam_chal, 1);
	/* a second later: one more challenge per ROAM at most, still no data */
	w->skew += RELAY_ROAM_GAP;
	roam_from(w, w->victim);
	roam_from(w, w->victim);
	run(w);
	stream_from_b(w);
	v = drain(w, w->victim);
	assert_int_equal(v.chal, 1);
	assert_int_equal(v.data, 0);
	assert_int_equal(drain(w, w->sa).data, STREAM);
}

/* A moves to sa2: ROAM, the challenge there, the echo from there; then B's data follow. */
static void test_genuine_roam(void **state)
{
	struct world *w = *state;
	uint8_t key[32], echo[SR_ROAM_ECHO_LEN];
	struct got g;

	pair(w);
	roam_from(w, w->sa2);
	run(w);
	g = drain(w, w->sa2);
	assert_int_equal(g.chal, 1);
	assert_int_equal(g.welcome, 0);
	sr_roam_key(w->tk.secret[A], key);
	assert_int_equal(sr_side_roam_echo(key, A, w->tk.session_id, w->rid[A], g.last_chal,
					   sizeof(g.last_chal), echo),
			 0);
	sodium_memzero(key, sizeof(key));
	put(w->victim, echo, sizeof(echo)); /* the echo from elsewhere: nothing */
	put(w->sa, echo, sizeof(echo));
	run(w);
	assert_int_equal(drain(w, w->victim).bytes, 0);
	stream_from_b(w);
	assert_int_equal(drain(w, w->sa).data, STREAM);
	put(w->sa2, echo, sizeof(echo)); /* from the new socket: moved */
	run(w);
	assert_int_equal(drain(w, w->sa2).welcome, 1);
	stream_from_b(w);
	assert_int_equal(drain(w, w->sa2).data, STREAM);
	assert_int_equal(drain(w, w->sa).data, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_spoofed_roam, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_genuine_roam, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
