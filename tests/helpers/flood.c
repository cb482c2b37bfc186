/* SPDX-License-Identifier: MIT */
/*
 * flood: a bounded storm of random and mutated bytes at listening ports, for
 * the bad-input e2e test. One thread, one poll loop, every rate capped.
 *
 *   flood [--cp HOST:PORT] [--sr-tcp HOST:PORT] [--sr-udp HOST:PORT]
 *         [--seconds S] [--conns N] [--udp-pps N] [--seed N]
 *
 * TCP targets keep up to --conns connections each, every one in a mode:
 *   RANDOM    random bytes in bursts, then close or reset
 *   MUTATED   a valid start (CP: "PLCP" v1 + key; SR: a framed HELLO/AUTH
 *             with real sizes) with random bytes flipped, then frames with
 *             random or extreme lengths
 *   HALFOPEN  connect, send nothing, hold until the server drops it
 *   SLOW      a valid start, then one byte every 0.3 s
 *   HALFCLOSE a valid start, then shutdown(SHUT_WR), hold
 * UDP: random datagrams and mutated SR side messages / data packets (real
 * type bytes and sizes, random session ids and relay ids, bit flips).
 * Prints one line of totals. Exits 0 unless it could not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "net.h"
#include "sr_proto.h"
#include "wire.h"

enum { MAXC = 256, KINDS = 5 };
enum cmode { M_RANDOM, M_MUTATED, M_HALFOPEN, M_SLOW, M_HALFCLOSE };
enum tgt { T_CP, T_SR };

struct fconn {
	int fd;
	uint8_t mode, tgt;
	bool connected;
	double born, next, until;
	unsigned sent;
};

struct target {
	struct sockaddr_storage sa;
	socklen_t len;
	bool on;
};

static struct target tg[2];
static struct fconn cs[2][MAXC];
static unsigned nconns = 48;
static unsigned long st_conn, st_connfail, st_bytes, st_udp, st_closed_by_peer, st_rst;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rnd(uint32_t n)
{
	return randombytes_uniform(n);
}

/* A plausible start for target @p t into @p b (returns its length). */
static size_t valid_start(enum tgt t, uint8_t *b)
{
	if (t == T_CP) {
		memcpy(b, "PLCP", 4);
		b[4] = 1;
		randombytes_buf(b + 5, 32);
		return 37;
	}
	/* SR: framed HELLO (64) or AUTH (68) with a random session id */
	size_t n = rnd(2) ? SR_HELLO_LEN : SR_AUTH_LEN;

	memset(b, 0, SR_FRAME_HDR + n);
	put_be32(b, (uint32_t)n);
	b[4] = n == SR_HELLO_LEN ? SR_MSG_HELLO : SR_MSG_AUTH;
	b[5] = SR_VERSION;
	b[6] = (uint8_t)rnd(3);
	b[7] = (uint8_t)rnd(3);
	randombytes_buf(b + 8, n - 4);
	return SR_FRAME_HDR + n;
}

static void mutate(uint8_t *b, size_t n)
{
	unsigned k = 1 + rnd(4);

	for (unsigned i = 0; i < k && n; i++)
		b[rnd((uint32_t)n)] ^= (uint8_t)(1u << rnd(8));
}

/* Bytes for a connection in @p c's mode; returns the length to send (0: none). */
static size_t make_tcp(struct fconn *c, uint8_t *b, size_t cap)
{
	size_t n;

	switch (c->mode) {
	case M_RANDOM:
		n = 1 + rnd(cap < 4096 ? (uint32_t)cap : 4096);
		randombytes_buf(b, n);
		return n;
	case M_MUTATED:
		if (c->sent == 0) {
			n = valid_start(c->tgt, b);
			mutate(b, n);
			return n;
		}
		/* a frame with a random, tiny or huge length and random contents */
		n = 4 + rnd(2000);
		randombytes_buf(b, n);
		switch (rnd(4)) {
		case 0:
			put_be32(b, 0xffffffffu);
			break;
		case 1:
			put_be32(b, 0);
			break;
		case 2:
			put_be32(b, (uint32_t)(n - 4));
			break;
		default:
			put_be32(b, 65536 + 16 + rnd(64));
			break;
		}
		return n;
	case M_SLOW:
		if (c->sent == 0) {
			n = valid_start(c->tgt, b);
			return n - 1 - rnd(8); /* all but the last bytes of the start */
		}
		b[0] = (uint8_t)rnd(256);
		return 1;
	case M_HALFCLOSE:
		if (c->sent == 0)
			return valid_start(c->tgt, b);
		return 0;
	default:
		return 0;
	}
}

static void close_conn(struct fconn *c, bool rst)
{
	if (c->fd < 0)
		return;
	if (rst) {
		struct linger l = {1, 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		st_rst++;
	}
	close(c->fd);
	c->fd = -1;
}

static void open_conn(struct fconn *c, enum tgt t, double now)
{
	int fd = socket(tg[t].sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	c->fd = -1;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&tg[t].sa, tg[t].len) < 0 && errno != EINPROGRESS) {
		close(fd);
		st_connfail++;
		return;
	}
	st_conn++;
	c->fd = fd;
	c->tgt = (uint8_t)t;
	c->mode = (uint8_t)rnd(KINDS);
	c->connected = false;
	c->sent = 0;
	c->born = now;
	c->next = now;
	/* how long this one lives: short for bursts, longer for held ones */
	c->until = now + (c->mode == M_RANDOM || c->mode == M_MUTATED ? 0.05 + rnd(500) / 1000.0
								      : 2.0 + rnd(20000) / 1000.0);
}

static void step_conn(struct fconn *c, short rev, double now)
{
	uint8_t b[4200];
	ssize_t k;
	size_t n;

	if (rev & (POLLERR | POLLHUP)) {
		st_closed_by_peer++;
		close_conn(c, false);
		return;
	}
	if (rev & POLLIN) {
		k = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN)) {
			st_closed_by_peer++;
			close_conn(c, false);
			return;
		}
	}
	if (rev & POLLOUT)
		c->connected = true;
	if (now >= c->until) {
		close_conn(c, rnd(3) == 0);
		return;
	}
	if (!c->connected || now < c->next || c->mode == M_HALFOPEN)
		return;
	if (c->mode == M_HALFCLOSE && c->sent) {
		c->next = c->until;
		return;
	}
	n = make_tcp(c, b, sizeof(b));
	if (!n)
		return;
	k = send(c->fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (k > 0) {
		st_bytes += (unsigned long)k;
		c->sent++;
	} else if (errno != EAGAIN) {
		st_closed_by_peer++;
		close_conn(c, false);
		return;
	}
	if (c->mode == M_HALFCLOSE)
		shutdown(c->fd, SHUT_WR);
	c->next = now + (c->mode == M_SLOW ? 0.3 : 0.01 + rnd(50) / 1000.0);
}

/* One UDP datagram: random, or a mutated SR message of a real type and size. */
static size_t make_udp(uint8_t *b)
{
	static const uint8_t types[] = {SR_MSG_HELLO,     SR_MSG_AUTH,    SR_MSG_ROAM, SR_MSG_DATA,
					SR_MSG_DATA_CTRL, SR_MSG_WELCOME, SR_MSG_ERROR};
	static const size_t lens[] = {SR_HELLO_LEN,   SR_AUTH_LEN, SR_ROAM_LEN, 0, 0,
				      SR_WELCOME_LEN, SR_ERROR_LEN};
	unsigned i;
	size_t n;

	if (rnd(4) == 0) {
		n = rnd(1600); /* may be 0 or over SR_UDP_MAX */
		randombytes_buf(b, n);
		return n;
	}
	i = rnd(sizeof(types));
	n = lens[i] ? lens[i] : SR_DP_OVERHEAD + rnd(1400);
	if (rnd(8) == 0)
		n = n - 1 + rnd(3); /* off by one either way */
	randombytes_buf(b, n);
	b[0] = types[i];
	if (n > 1)
		b[1] = rnd(4) ? SR_VERSION : (uint8_t)rnd(256);
	if (n > 7 && (types[i] == SR_MSG_DATA || types[i] == SR_MSG_DATA_CTRL)) {
		b[1] = (uint8_t)rnd(2);
		b[2] = b[3] = 0;
		put_be32(b + 4, rnd(64)); /* small relay ids: likely in use */
	}
	if (rnd(2))
		mutate(b, n);
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage usa;
	socklen_t ulen = 0;
	double seconds = 20, t0, tend, next_udp;
	unsigned pps = 2000;
	int ufd = -1;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 2;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--cp") || !strcmp(k, "--sr-tcp")) {
			struct target *t = &tg[!strcmp(k, "--cp") ? T_CP : T_SR];

			if (net_parse_hostport(v, &t->sa, &t->len) < 0)
				return 2;
			t->on = true;
		} else if (!strcmp(k, "--sr-udp")) {
			if (net_parse_hostport(v, &usa, &ulen) < 0)
				return 2;
		} else if (!strcmp(k, "--seconds")) {
			seconds = atof(v);
		} else if (!strcmp(k, "--conns")) {
			nconns = (unsigned)atoi(v);
		} else if (!strcmp(k, "--udp-pps")) {
			pps = (unsigned)atoi(v);
		} else {
			fprintf(stderr, "flood: unknown option %s\n", k);
			return 2;
		}
	}
	if (nconns > MAXC)
		nconns = MAXC;
	if (ulen) {
		ufd = socket(usa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (ufd < 0)
			return 1;
	}
	for (int t = 0; t < 2; t++)
		for (unsigned i = 0; i < MAXC; i++)
			cs[t][i].fd = -1;
	t0 = now_s();
	tend = t0 + seconds;
	next_udp = t0;
	for (double now = t0; now < tend; now = now_s()) {
		struct pollfd pf[2 * MAXC];
		struct fconn *map[2 * MAXC];
		int np = 0;

		for (int t = 0; t < 2; t++) {
			if (!tg[t].on)
				continue;
			for (unsigned i = 0; i < nconns; i++) {
				struct fconn *c = &cs[t][i];

				if (c->fd < 0)
					open_conn(c, (enum tgt)t, now);
				if (c->fd < 0)
					continue;
				pf[np] = (struct pollfd){
				    c->fd, (short)(POLLIN | (c->connected ? 0 : POLLOUT)), 0};
				map[np++] = c;
			}
		}
		poll(pf, (nfds_t)np, 5);
		now = now_s();
		for (int i = 0; i < np; i++)
			step_conn(map[i], pf[i].revents, now);
		/* UDP at a capped rate */
		for (unsigned burst = 0; ufd >= 0 && next_udp <= now && burst < 256; burst++) {
			uint8_t b[1600];
			size_t n = make_udp(b);

			if (sendto(ufd, b, n, MSG_DONTWAIT, (struct sockaddr *)&usa, ulen) >= 0)
				st_udp++;
			next_udp += 1.0 / (pps ? pps : 1);
		}
		if (ufd >= 0 && next_udp < now - 1)
			next_udp = now; /* do not catch up after a stall */
		if (ufd >= 0) {         /* drain answers (CHALLENGEs, ERRORs) */
			uint8_t b[2048];

			while (recv(ufd, b, sizeof(b), MSG_DONTWAIT) > 0)
				;
		}
	}
	for (int t = 0; t < 2; t++)
		for (unsigned i = 0; i < MAXC; i++)
			close_conn(&cs[t][i], false);
	printf("flood: %.0f s, tcp connections %lu (failed %lu, dropped by the server %lu, reset "
	       "by us %lu), "
	       "tcp bytes %lu, udp datagrams %lu\n",
	       now_s() - t0, st_conn, st_connfail, st_closed_by_peer, st_rst, st_bytes, st_udp);
	return 0;
}
