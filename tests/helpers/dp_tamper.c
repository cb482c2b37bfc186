/* SPDX-License-Identifier: MIT */
/*
 * dp_tamper: a hostile UDP middle box between one side and the SR, for the
 * bad-input e2e test. Every K-th sealed data packet going to the SR is
 * treated in turn by one of:
 *   flip     one ciphertext bit flipped in place (bad tag; the original is lost)
 *   foreign  a copy whose ciphertext and tag are random bytes (a packet
 *            sealed under another session's key) is injected just before the
 *            original (fresh counter: only the tag check can stop it, and the
 *            original must still be accepted after it)
 *   replay   the original passes; a copy is sent again 50 packets later
 *            (inside the replay window) and another 3000 later (old)
 *   counter  the original passes; a copy with its counter moved 2^20 ahead
 *            is injected (header is AAD: bad tag; must not move the window)
 *   relayid  the original passes; a copy with another relay id is injected
 *            (the SR has no such session for this address: dropped there)
 *   short    the original passes; a copy cut to fewer bytes than a header
 *            plus tag is injected
 *
 *   dp_tamper --udp LISTEN_ADDR:PORT TARGET_ADDR:PORT [--every K] [--seconds S]
 *
 * Prints "ready", then at exit one line of counts per treatment.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "net.h"
#include "sr_proto.h"
#include "wire.h"

enum { T_FLIP, T_FOREIGN, T_REPLAY, T_COUNTER, T_RELAYID, T_SHORT, T_N };
enum { QMAX = 64, PMAX = 2048 };

static const char *const tname[T_N] = {"flip", "foreign", "replay", "counter", "relayid", "short"};
static unsigned long every = 100, seen, cnt[T_N];

struct held {
	unsigned long at; /* send when seen reaches this */
	size_t n;
	uint8_t b[PMAX];
};
static struct held q[QMAX];

static int ufd;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}
static struct sockaddr_storage tgt;
static socklen_t tlen;

static void out(const uint8_t *b, size_t n)
{
	sendto(ufd, b, n, 0, (struct sockaddr *)&tgt, tlen);
}

static void hold(const uint8_t *b, size_t n, unsigned long at)
{
	for (int i = 0; i < QMAX; i++)
		if (!q[i].n) {
			q[i] = (struct held){.at = at, .n = n};
			memcpy(q[i].b, b, n);
			return;
		}
}

static void release_due(void)
{
	for (int i = 0; i < QMAX; i++)
		if (q[i].n && seen >= q[i].at) {
			out(q[i].b, q[i].n);
			q[i].n = 0;
		}
}

/* A packet from the side towards the SR. */
static void side_pkt(uint8_t *b, size_t n)
{
	uint8_t c[PMAX];
	unsigned t;

	if (n <= SR_DP_OVERHEAD || n > PMAX || b[0] != SR_MSG_DATA) {
		out(b, n);
		return;
	}
	if (++seen % every) {
		out(b, n);
		release_due();
		return;
	}
	t = (unsigned)((seen / every) % T_N);
	cnt[t]++;
	memcpy(c, b, n);
	switch (t) {
	case T_FLIP:
		b[SR_DP_HDR + (n - SR_DP_OVERHEAD) / 2] ^= 0x10;
		out(b, n);
		break;
	case T_FOREIGN: /* first, so its counter is fresh: only the tag can catch it */
		randombytes_buf(c + SR_DP_HDR, n - SR_DP_HDR);
		out(c, n);
		out(b, n);
		break;
	case T_REPLAY:
		out(b, n);
		hold(c, n, seen + 50);
		hold(c, n, seen + 3000);
		break;
	case T_COUNTER:
		out(b, n);
		put_be64(c + 8, get_be64(c + 8) + (1u << 20));
		out(c, n);
		break;
	case T_RELAYID:
		out(b, n);
		put_be32(c + 4, get_be32(c + 4) ^ 0x5a5a5a5au);
		out(c, n);
		break;
	default:
		out(b, n);
		out(c, 1 + randombytes_uniform(SR_DP_OVERHEAD - 1));
		break;
	}
	release_due();
}

int main(int argc, char **argv)
{
	struct sockaddr_storage side, lsa;
	socklen_t side_len = 0, llen = 0;
	double seconds = 60, end;
	uint8_t buf[65536];

	if (sodium_init() < 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--udp") && i + 2 < argc) {
			if (net_parse_hostport(argv[i + 1], &lsa, &llen) < 0 ||
			    net_parse_hostport(argv[i + 2], &tgt, &tlen) < 0)
				return 2;
			i += 2;
		} else if (!strcmp(argv[i], "--every") && i + 1 < argc) {
			every = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
		} else {
			fprintf(stderr, "dp_tamper: bad arguments\n");
			return 2;
		}
	}
	if (!llen || !every || (ufd = net_bind_udp((struct sockaddr *)&lsa, llen)) < 0)
		return 2;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("ready\n");
	fflush(stdout);
	end = net_now() + seconds;
	while (!stop && net_now() < end) {
		struct pollfd pf = {ufd, POLLIN, 0};
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		if (fl == tlen && !memcmp(&from, &tgt, fl)) {
			if (side_len)
				sendto(ufd, buf, (size_t)n, 0, (struct sockaddr *)&side, side_len);
		} else {
			side = from;
			side_len = fl;
			side_pkt(buf, (size_t)n);
		}
	}
	printf("seen=%lu", seen);
	for (int t = 0; t < T_N; t++)
		printf(" %s=%lu", tname[t], cnt[t]);
	printf("\n");
	return 0;
}
