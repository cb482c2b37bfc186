/* SPDX-License-Identifier: MIT */
/*
 * sr_tamper: a man in the middle between one side and the SR that flips one
 * bit in the ciphertext of every K-th sealed packet going to the SR.
 *
 *   sr_tamper --udp LISTEN_ADDR:PORT TARGET_ADDR:PORT
 *             --tcp LISTEN_ADDR:PORT TARGET_ADDR:PORT  [--every K] [--seconds S]
 *
 * UDP: the first sender is "the side"; everything else comes from the SR.
 * TCP: one connection, frames parsed in the side -> SR direction. Prints
 * "tampered=N" on exit. Bounded by --seconds (default 60).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "sr_proto.h"
#include "wire.h"

static unsigned long every = 1000, seen_data, tampered;

static void flip(uint8_t *p, size_t n)
{
	if (n > SR_DP_OVERHEAD && sr_msg_is_data(p[0]) && ++seen_data % every == 0) {
		p[SR_DP_HDR + (n - SR_DP_OVERHEAD) / 2] ^= 0x04; /* middle of the ciphertext */
		tampered++;
	}
}

static int udp_bind(const char *hp)
{
	struct sockaddr_storage ss;
	socklen_t l;

	return net_parse_hostport(hp, &ss, &l) < 0 ? -1 : net_bind_udp((struct sockaddr *)&ss, l);
}

/* TCP: side -> SR stream with frame parsing. */
struct tstream {
	uint8_t buf[SR_FRAME_HDR + SR_FRAME_MAX];
	size_t have;
};

static int tcp_fwd_frames(int from, int to, struct tstream *st)
{
	ssize_t n = read(from, st->buf + st->have, sizeof(st->buf) - st->have);
	size_t off = 0;

	if (n <= 0)
		return -1;
	st->have += (size_t)n;
	while (st->have - off >= SR_FRAME_HDR) {
		size_t len = get_be32(st->buf + off);

		if (len > SR_FRAME_MAX)
			return -1;
		if (st->have - off - SR_FRAME_HDR < len)
			break;
		flip(st->buf + off + SR_FRAME_HDR, len);
		off += SR_FRAME_HDR + len;
	}
	for (size_t w = 0; w < off;) {
		ssize_t k = write(to, st->buf + w, off - w);

		if (k <= 0)
			return -1;
		w += (size_t)k;
	}
	memmove(st->buf, st->buf + off, st->have - off);
	st->have -= off;
	return 0;
}

static int tcp_copy(int from, int to)
{
	uint8_t b[65536];
	ssize_t n = read(from, b, sizeof(b));

	if (n <= 0)
		return -1;
	for (ssize_t w = 0; w < n;) {
		ssize_t k = write(to, b + w, (size_t)(n - w));

		if (k <= 0)
			return -1;
		w += k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct tstream st;
	struct sockaddr_storage udp_target, tcp_target, side;
	socklen_t ut_len = 0, tt_len = 0, side_len = 0;
	int ufd = -1, lfd = -1, cfd = -1, sfd = -1;
	double seconds = 60, end;
	uint8_t buf[65536];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--udp") && i + 2 < argc) {
			ufd = udp_bind(argv[i + 1]);
			if (net_parse_hostport(argv[i + 2], &udp_target, &ut_len) < 0)
				return 2;
			i += 2;
		} else if (!strcmp(argv[i], "--tcp") && i + 2 < argc) {
			struct sockaddr_storage ss;
			socklen_t l;

			if (net_parse_hostport(argv[i + 1], &ss, &l) < 0 ||
			    net_parse_hostport(argv[i + 2], &tcp_target, &tt_len) < 0)
				return 2;
			lfd = net_listen_tcp((struct sockaddr *)&ss, l, 4);
			i += 2;
		} else if (!strcmp(argv[i], "--every") && i + 1 < argc) {
			every = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
		} else {
			fprintf(stderr, "sr_tamper: bad arguments\n");
			return 2;
		}
	}
	if ((ufd < 0 && lfd < 0) || every == 0)
		return 2;
	printf("ready\n");
	fflush(stdout);
	end = net_now() + seconds;
	while (net_now() < end) {
		struct pollfd pf[4] = {
		    {ufd, POLLIN, 0}, {lfd, POLLIN, 0}, {cfd, POLLIN, 0}, {sfd, POLLIN, 0}};

		if (poll(pf, 4, 200) <= 0)
			continue;
		if (pf[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n =
			    recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

			if (n > 0 && fl == ut_len && !memcmp(&from, &udp_target, fl)) {
				if (side_len)
					sendto(ufd, buf, (size_t)n, 0, (struct sockaddr *)&side,
					       side_len);
			} else if (n > 0) {
				side = from;
				side_len = fl;
				flip(buf, (size_t)n);
				sendto(ufd, buf, (size_t)n, 0, (struct sockaddr *)&udp_target,
				       ut_len);
			}
		}
		if ((pf[1].revents & POLLIN) && cfd < 0) {
			bool inprog;

			cfd = accept(lfd, NULL, NULL);
			sfd = net_connect_tcp((struct sockaddr *)&tcp_target, tt_len, &inprog);
			if (sfd >= 0) {
				struct pollfd w = {sfd, POLLOUT, 0};

				poll(&w, 1, 2000);
				fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK);
			}
		}
		if (((pf[2].revents & (POLLIN | POLLHUP)) && tcp_fwd_frames(cfd, sfd, &st) < 0) ||
		    ((pf[3].revents & (POLLIN | POLLHUP)) && tcp_copy(sfd, cfd) < 0)) {
			close(cfd); /* that connection is over: take the next one */
			close(sfd);
			cfd = sfd = -1;
			st.have = 0;
		}
	}
	printf("tampered=%lu\n", tampered);
	return 0;
}
