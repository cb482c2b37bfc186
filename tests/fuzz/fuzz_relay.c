/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the relay end to end over loopback UDP (the relay's
 * event loop, not just its parser). A relay on 127.0.0.1, one fresh ticket
 * per input, two sides (A, B) with their own sockets. The input is a list
 * of [op u8][len u8][len bytes]:
 *   op % 4 == 0: the bytes as a datagram from side (op >> 2 & 1); with
 *                op & 8 the session id / relay id are patched in first;
 *   op % 4 == 1: a valid HELLO of that side;
 *   op % 4 == 2: AUTH over the last CHALLENGE nonce (op & 8: a wrong MAC);
 *   op % 4 == 3: ROAM with a valid MAC and a growing counter (op & 16: LEAVE);
 *                op & 32: the ROAM_ECHO of the last ROAM_CHAL instead; op & 64:
 *                from the other side's socket (a new address for that side).
 * After each datagram the loop runs once and answers are read back (so
 * CHALLENGE nonces, ROAM_CHALs and WELCOME relay ids feed the next steps). The relay
 * runs on an injected clock that moves 4 s per input (relay_tick() then
 * ends what is due): earlier inputs' sessions expire, time out or idle out
 * within a few inputs, on every run alike.
 */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "sr_side.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct relay *rl;
static int sock[2] = {-1, -1};
static struct sr_ticket tk;
static uint8_t nonce[2][SR_NONCE_LEN];
static uint32_t relay_id[2];
static uint64_t roam_ctr[2];
static uint8_t chal[2][SR_ROAM_CHAL_LEN]; /* the last ROAM_CHAL each socket got */
static double clock_s;                    /* the relay's clock, moved by the harness only */

static double fuzz_now(void *arg)
{
	return clock_s;
}

static uint64_t fuzz_unix_now(void *arg)
{
	return 1700000000u + (uint64_t)clock_s;
}

static int side_socket(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		abort();
	a.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	return fd;
}

static void init(void)
{
	struct relay_cfg c;
	struct sockaddr_in *u, *t;
	int err = 0;

	if (sodium_init() < 0)
		abort();
	log_set_level(PL_LOG_ERR);
	relay_cfg_default(&c);
	u = (struct sockaddr_in *)&c.udp_addr;
	t = (struct sockaddr_in *)&c.tcp_addr;
	u->sin_family = t->sin_family = AF_INET;
	u->sin_addr.s_addr = t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.udp_len = c.tcp_len = sizeof(struct sockaddr_in);
	strcpy(c.host, "127.0.0.1");
	c.max_per_identity = 100000;
	c.max_sessions = 100000;
	c.clock = (struct relay_clock){.now = fuzz_now, .unix_now = fuzz_unix_now};
	clock_s = 1000;
	loop = ev_loop_new(EVFLAG_AUTO);
	rl = relay_new(loop, &c, &err);
	if (!rl)
		abort();
	for (int i = 0; i < 2; i++)
		sock[i] = side_socket(relay_udp_port(rl));
}

/* Let the relay run, then read what it sent to each side. */
static void pump(void)
{
	uint8_t b[2048];

	ev_run(loop, EVRUN_NOWAIT);
	for (int i = 0; i < 2; i++) {
		ssize_t n;

		while ((n = recv(sock[i], b, sizeof(b), 0)) > 0) {
			if (b[0] == SR_MSG_CHALLENGE && n == SR_CHALLENGE_LEN)
				memcpy(nonce[i], b + SR_SIDE_HDR, SR_NONCE_LEN);
			else if (b[0] == SR_MSG_WELCOME && n == SR_WELCOME_LEN)
				relay_id[i] = get_be32(b + SR_SIDE_HDR);
			else if (b[0] == SR_MSG_ROAM_CHAL && n == SR_ROAM_CHAL_LEN)
				memcpy(chal[i], b, SR_ROAM_CHAL_LEN);
		}
	}
}

static size_t head(uint8_t *m, uint8_t type, int side, uint8_t x)
{
	m[0] = type;
	m[1] = SR_VERSION;
	m[2] = (uint8_t)side;
	m[3] = x;
	memcpy(m + 4, tk.session_id, SR_SID_LEN);
	return SR_SIDE_HDR;
}

/* ROAM of @p side, or (op & 32) its echo of the ROAM_CHAL the socket it goes out on got. */
static size_t roam_or_echo(uint8_t *m, uint8_t op, int side)
{
	uint8_t key[32];
	size_t n;

	sr_roam_key(tk.secret[side], key);
	if (op & 32) {
		int at = op & 64 ? side ^ 1 : side;

		n = sr_side_roam_echo(key, (uint8_t)side, tk.session_id, relay_id[side], chal[at],
				      SR_ROAM_CHAL_LEN, m) == 0
			? SR_ROAM_ECHO_LEN
			: 0;
	} else {
		n = head(m, SR_MSG_ROAM, side, op & 16 ? SR_ROAM_LEAVE : SR_ROAM_KEEPALIVE);
		put_be32(m + n, relay_id[side]);
		put_be64(m + n + 4, ++roam_ctr[side]);
		sr_roam_mac(key, m, m + SR_ROAM_LEN - SR_MAC_LEN);
		n = SR_ROAM_LEN;
	}
	sodium_memzero(key, sizeof(key));
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t m[SR_UDP_MAX];
	size_t off = 0;

	if (!loop)
		init();
	clock_s += 4;
	relay_tick(rl);
	if (relay_issue(rl, "@a", "@b", &tk) != 0)
		return 0; /* full: the previous ones expire as the clock moves */
	memset(nonce, 0, sizeof(nonce));
	memset(relay_id, 0, sizeof(relay_id));
	memset(chal, 0, sizeof(chal));
	for (int i = 0; i < 24 && size - off >= 2; i++) {
		uint8_t op = data[off];
		size_t len = data[off + 1], n = 0;
		int side = op >> 2 & 1;

		off += 2;
		if (len > size - off)
			len = size - off;
		switch (op % 4) {
		case 0:
			memcpy(m, data + off, len);
			n = len;
			if (op & 8 && n >= SR_SIDE_HDR) {
				if (m[0] >= 0x10)
					put_be32(m + 4, relay_id[side]);
				else
					memcpy(m + 4, tk.session_id, SR_SID_LEN);
			}
			break;
		case 1:
			memset(m, 0, SR_HELLO_LEN);
			head(m, SR_MSG_HELLO, side, SR_TR_UDP);
			n = SR_HELLO_LEN;
			break;
		case 2:
			n = head(m, SR_MSG_AUTH, side, 0);
			memcpy(m + n, nonce[side], SR_NONCE_LEN);
			sr_auth_mac(tk.secret[side], nonce[side], tk.session_id, (uint8_t)side,
				    m + n + SR_NONCE_LEN);
			if (op & 8)
				m[n + SR_NONCE_LEN] ^= 1;
			n = SR_AUTH_LEN;
			break;
		default:
			n = roam_or_echo(m, op, side);
			break;
		}
		off += len;
		if (op % 4 == 3 && op & 64)
			side ^= 1; /* from the other socket */
		if (n > 0 && send(sock[side], m, n, 0) < 0 && errno != ECONNREFUSED)
			abort();
		pump();
	}
	sr_ticket_wipe(&tk);
	return 0;
}
