/* SPDX-License-Identifier: MIT */
/*
 * sr_idle: open N idle paired sessions through the SR, for the memory
 * benchmark. Reads DIR/ticket.0 .. ticket.N-1 (from sr_relay_local),
 * authenticates both sides of each (plain blocking sockets, no data plane),
 * prints "paired N", then sleeps until killed (at most --seconds).
 *
 *   sr_idle --dir DIR --count N --tcp 127.0.0.1:P | --udp 127.0.0.1:P [--seconds S]
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net.h"
#include "sr_util.h"
#include "ticket.h"
#include "wire.h"

static bool tcp_mode;

static int xfer(int fd, const uint8_t *m, size_t n, uint8_t *in, size_t cap, size_t *got)
{
	uint8_t f[SR_FRAME_HDR + SR_SIDE_MSG_MAX];
	ssize_t k;

	if (!tcp_mode) {
		if (send(fd, m, n, 0) != (ssize_t)n)
			return -1;
		k = recv(fd, in, cap, 0);
		*got = k > 0 ? (size_t)k : 0;
		return k > 0 ? 0 : -1;
	}
	put_be32(f, (uint32_t)n);
	memcpy(f + SR_FRAME_HDR, m, n);
	if (send(fd, f, SR_FRAME_HDR + n, 0) != (ssize_t)(SR_FRAME_HDR + n) ||
	    recv(fd, f, SR_FRAME_HDR, MSG_WAITALL) != SR_FRAME_HDR)
		return -1;
	*got = get_be32(f);
	return *got <= cap && recv(fd, in, *got, MSG_WAITALL) == (ssize_t)*got ? 0 : -1;
}

/* HELLO, CHALLENGE, AUTH, WELCOME for one side; returns the fd (kept open). */
static int join(const struct sockaddr_storage *sa, socklen_t len, const struct sr_ticket *t,
		uint8_t side)
{
	uint8_t m[SR_SIDE_MSG_MAX] = {0}, in[256];
	struct timeval tv = {5, 0};
	size_t got;
	int fd = socket(sa->ss_family, tcp_mode ? SOCK_STREAM : SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, len) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	m[0] = SR_MSG_HELLO;
	m[1] = SR_VERSION;
	m[2] = side;
	memcpy(m + 4, t->session_id, SR_SID_LEN);
	if (xfer(fd, m, SR_HELLO_LEN, in, sizeof(in), &got) < 0 || got != SR_CHALLENGE_LEN ||
	    in[0] != SR_MSG_CHALLENGE)
		return -1;
	m[0] = SR_MSG_AUTH;
	memcpy(m + SR_SIDE_HDR, in + SR_SIDE_HDR, SR_NONCE_LEN);
	sr_auth_mac(t->secret[side], in + SR_SIDE_HDR, t->session_id, side,
		    m + SR_SIDE_HDR + SR_NONCE_LEN);
	if (xfer(fd, m, SR_AUTH_LEN, in, sizeof(in), &got) < 0 || in[0] != SR_MSG_WELCOME)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	const char *dir = ".";
	unsigned n = 1, seconds = 120, paired = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			n = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--tcp") || !strcmp(argv[i], "--udp")) {
			tcp_mode = !strcmp(argv[i], "--tcp");
			if (net_parse_hostport(argv[i + 1], &sa, &len) < 0)
				return 2;
		} else
			return 2;
	}
	if (!len || sodium_init() < 0)
		return 2;
	for (unsigned i = 0; i < n; i++) {
		char path[4096], hex[2 * SR_TICKET_MAX + 8];
		uint8_t buf[SR_TICKET_MAX];
		struct sr_ticket t;
		size_t bl;

		snprintf(path, sizeof(path), "%s/ticket.%u", dir, i);
		if (sr_read_file(path, hex, sizeof(hex), 5) < 0 ||
		    sr_hex_in(buf, sizeof(buf), hex, &bl) < 0 || !sr_ticket_decode(buf, bl, &t))
			break;
		if (join(&sa, len, &t, SR_SIDE_A) >= 0 && join(&sa, len, &t, SR_SIDE_B) >= 0)
			paired++;
	}
	printf("paired %u\n", paired);
	fflush(stdout);
	sleep(seconds);
	return paired == n ? 0 : 1;
}
