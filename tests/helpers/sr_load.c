/* SPDX-License-Identifier: MIT */
/*
 * sr_load: N concurrent paired sessions through one SR, with traffic, for
 * the load e2e test. Reads DIR/ticket.0 .. ticket.N-1 (sr_relay_local),
 * joins side A and side B of every session (all N held open at once), then
 * both sides of every session send --records records of 256 bytes at the
 * same time. Each record carries the session's own random 16-byte marker,
 * the session index, the sender's side and a sequence number; a receiver
 * checks every record it gets against its own session and the other side.
 *
 *   sr_load --dir DIR --count N (--tcp A:P | --udp A:P) [--records K] [--seconds S]
 *
 * Prints: "sessions N paired P complete C records_ok R foreign F corrupt X
 * lost L seconds T". Exit 0 when every session paired, nothing foreign or
 * corrupt arrived, and (TCP) every record arrived / (UDP) every session got
 * at least 90 % of its records both ways.
 * UDP data packets carry the real data header (type, phase, relay id,
 * counter) so the SR routes them; the payload is plain (the SR never reads it).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net.h"
#include "sr_util.h"
#include "ticket.h"
#include "wire.h"

enum { REC = 256, MARK = 16, HDRU = SR_DP_HDR };

struct side {
	int fd;
	uint32_t relay_id;
	unsigned sent, got; /* sent: records (UDP) or bytes (TCP); got: records */
	size_t inlen;       /* TCP: bytes of a partial record */
	uint8_t in[REC];
};

struct lsess {
	uint8_t mark[MARK];
	struct side s[2];
};

static bool tcp_mode;
static struct lsess *ss;
static unsigned n_sess, n_rec = 64;
static unsigned long foreign, corrupt, recs_ok;

static int xfer(int fd, const uint8_t *m, size_t n, uint8_t *in, size_t cap, size_t *got)
{
	uint8_t f[SR_FRAME_HDR + SR_SIDE_MSG_MAX];
	ssize_t k;

	if (m) {
		if (!tcp_mode) {
			if (send(fd, m, n, 0) != (ssize_t)n)
				return -1;
		} else {
			put_be32(f, (uint32_t)n);
			memcpy(f + SR_FRAME_HDR, m, n);
			if (send(fd, f, SR_FRAME_HDR + n, 0) != (ssize_t)(SR_FRAME_HDR + n))
				return -1;
		}
	}
	if (!tcp_mode) {
		k = recv(fd, in, cap, 0);
		*got = k > 0 ? (size_t)k : 0;
		return k > 0 ? 0 : -1;
	}
	if (recv(fd, f, SR_FRAME_HDR, MSG_WAITALL) != SR_FRAME_HDR)
		return -1;
	*got = get_be32(f);
	return *got <= cap && recv(fd, in, *got, MSG_WAITALL) == (ssize_t)*got ? 0 : -1;
}

/* HELLO, CHALLENGE, AUTH, WELCOME; returns the fd, relay id in *rid. */
static int join(const struct sockaddr_storage *sa, socklen_t len, const struct sr_ticket *t,
		uint8_t side, uint32_t *rid)
{
	uint8_t m[SR_SIDE_MSG_MAX] = {0}, in[256];
	struct timeval tv = {10, 0};
	size_t got;
	int fd = socket(sa->ss_family, tcp_mode ? SOCK_STREAM : SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, len) < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	m[0] = SR_MSG_HELLO;
	m[1] = SR_VERSION;
	m[2] = side;
	m[3] = tcp_mode ? SR_TR_TCP : SR_TR_UDP;
	memcpy(m + 4, t->session_id, SR_SID_LEN);
	if (xfer(fd, m, SR_HELLO_LEN, in, sizeof(in), &got) < 0 || got != SR_CHALLENGE_LEN ||
	    in[0] != SR_MSG_CHALLENGE)
		goto fail;
	m[0] = SR_MSG_AUTH;
	m[3] = 0;
	memcpy(m + SR_SIDE_HDR, in + SR_SIDE_HDR, SR_NONCE_LEN);
	sr_auth_mac(t->secret[side], in + SR_SIDE_HDR, t->session_id, side,
		    m + SR_SIDE_HDR + SR_NONCE_LEN);
	if (xfer(fd, m, SR_AUTH_LEN, in, sizeof(in), &got) < 0 || got < SR_WELCOME_LEN ||
	    in[0] != SR_MSG_WELCOME)
		goto fail;
	*rid = get_be32(in + SR_SIDE_HDR);
	return fd;
fail:
	close(fd);
	return -1;
}

/* Side A got WELCOME(waiting); read the WELCOME(paired) that follows B's join. */
static int await_paired(int fd)
{
	uint8_t in[256];
	size_t got;

	for (int i = 0; i < 4; i++) {
		if (xfer(fd, NULL, 0, in, sizeof(in), &got) < 0)
			return -1;
		if (got >= SR_WELCOME_LEN && in[0] == SR_MSG_WELCOME && in[3] == SR_WS_PAIRED)
			return 0;
	}
	return -1;
}

static void make_rec(uint8_t *r, unsigned i, uint8_t side, unsigned seq)
{
	memcpy(r, ss[i].mark, MARK);
	put_be32(r + MARK, i);
	r[MARK + 4] = side;
	put_be32(r + MARK + 5, seq);
	for (unsigned k = MARK + 9; k < REC; k++)
		r[k] = (uint8_t)(ss[i].mark[k % MARK] ^ k ^ seq);
}

/* A record arrived at side @p side of session @p i. */
static void check_rec(unsigned i, uint8_t side, const uint8_t *r)
{
	uint8_t want[REC];
	unsigned seq;

	if (sodium_memcmp(r, ss[i].mark, MARK) != 0 || get_be32(r + MARK) != i ||
	    r[MARK + 4] != (side ^ 1)) {
		foreign++;
		return;
	}
	seq = get_be32(r + MARK + 5);
	make_rec(want, i, side ^ 1, seq);
	if (seq >= n_rec || memcmp(want, r, REC) != 0) {
		corrupt++;
		return;
	}
	recs_ok++;
	ss[i].s[side].got++;
}

static void pump_tcp(unsigned i, uint8_t side, short rev)
{
	struct side *sd = &ss[i].s[side];
	uint8_t buf[16 * REC];
	ssize_t k;

	if (rev & POLLIN) {
		k = recv(sd->fd, buf, sizeof(buf), MSG_DONTWAIT);
		for (ssize_t o = 0; o < k;) {
			size_t take = REC - sd->inlen;

			if (take > (size_t)(k - o))
				take = (size_t)(k - o);
			memcpy(sd->in + sd->inlen, buf + o, take);
			sd->inlen += take;
			o += (ssize_t)take;
			if (sd->inlen == REC) {
				check_rec(i, side, sd->in);
				sd->inlen = 0;
			}
		}
	}
	/* TCP: sd->sent counts bytes; records are made again from their offset. */
	for (int j = 0; (rev & POLLOUT) && j < 16 && sd->sent < n_rec * REC; j++) {
		unsigned off = sd->sent % REC;

		make_rec(buf, i, side, sd->sent / REC);
		k = send(sd->fd, buf + off, REC - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k <= 0)
			break;
		sd->sent += (unsigned)k;
	}
}

static void pump_udp(unsigned i, uint8_t side, short rev)
{
	struct side *sd = &ss[i].s[side];
	uint8_t buf[HDRU + REC + SR_DP_TAG];

	if (rev & POLLIN) {
		ssize_t k;

		while ((k = recv(sd->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			if (k == (ssize_t)sizeof(buf) && buf[0] == SR_MSG_DATA)
				check_rec(i, side, buf + HDRU);
			else if (buf[0] == SR_MSG_DATA)
				corrupt++;
		}
	}
}

static void send_udp(unsigned i, uint8_t side)
{
	struct side *sd = &ss[i].s[side];
	uint8_t buf[HDRU + REC + SR_DP_TAG] = {0};

	if (sd->sent >= n_rec)
		return;
	buf[0] = SR_MSG_DATA;
	put_be32(buf + 4, sd->relay_id);
	put_be64(buf + 8, sd->sent);
	make_rec(buf + HDRU, i, side, sd->sent);
	if (send(sd->fd, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)sizeof(buf))
		sd->sent++;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	const char *dir = ".";
	unsigned seconds = 60, paired = 0, complete = 0, win = 0;
	unsigned long lost = 0;
	struct rlimit rl;
	struct pollfd *pf;
	double t0, t1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			n_sess = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--records"))
			n_rec = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--tcp") || !strcmp(argv[i], "--udp")) {
			tcp_mode = !strcmp(argv[i], "--tcp");
			if (net_parse_hostport(argv[i + 1], &sa, &len) < 0)
				return 2;
		} else
			return 2;
	}
	if (!len || !n_sess || sodium_init() < 0)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * n_sess + 64) {
		rl.rlim_cur = rl.rlim_max < 2 * n_sess + 64 ? rl.rlim_max : 2 * n_sess + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ss = calloc(n_sess, sizeof(*ss));
	pf = calloc(2 * n_sess, sizeof(*pf));
	if (!ss || !pf)
		return 1;
	t0 = net_now();
	for (unsigned i = 0; i < n_sess; i++) {
		char path[4096], hex[2 * SR_TICKET_MAX + 8];
		uint8_t buf[SR_TICKET_MAX];
		struct sr_ticket t;
		size_t bl;

		ss[i].s[0].fd = ss[i].s[1].fd = -1;
		randombytes_buf(ss[i].mark, MARK);
		snprintf(path, sizeof(path), "%s/ticket.%u", dir, i);
		if (sr_read_file(path, hex, sizeof(hex), 5) < 0 ||
		    sr_hex_in(buf, sizeof(buf), hex, &bl) < 0 || !sr_ticket_decode(buf, bl, &t)) {
			fprintf(stderr, "sr_load: ticket %u unreadable\n", i);
			break;
		}
		ss[i].s[0].fd = join(&sa, len, &t, SR_SIDE_A, &ss[i].s[0].relay_id);
		if (ss[i].s[0].fd >= 0)
			ss[i].s[1].fd = join(&sa, len, &t, SR_SIDE_B, &ss[i].s[1].relay_id);
		sr_ticket_wipe(&t);
		if (ss[i].s[1].fd < 0 || await_paired(ss[i].s[0].fd) < 0) {
			fprintf(stderr, "sr_load: session %u did not pair (%s)\n", i,
				strerror(errno));
			continue;
		}
		paired++;
	}
	t1 = net_now();
	fprintf(stderr, "sr_load: %u of %u sessions paired in %.2f s, all held open\n", paired,
		n_sess, t1 - t0);
	for (unsigned i = 0; i < n_sess; i++)
		for (int s = 0; s < 2; s++)
			if (ss[i].s[s].fd >= 0)
				fcntl(ss[i].s[s].fd, F_SETFL,
				      fcntl(ss[i].s[s].fd, F_GETFL) | O_NONBLOCK);
	/* Traffic on every session at once. */
	for (double end = net_now() + seconds; net_now() < end;) {
		unsigned left = 0;

		if (!tcp_mode) { /* a window of 100 sessions per round: paced by the loop */
			for (unsigned k = 0; k < 100 && k < n_sess; k++, win = (win + 1) % n_sess)
				for (uint8_t s = 0; s < 2; s++)
					if (ss[win].s[s].fd >= 0)
						send_udp(win, s);
		}
		for (unsigned i = 0; i < n_sess; i++)
			for (int s = 0; s < 2; s++) {
				struct side *sd = &ss[i].s[s];

				pf[2 * i + (unsigned)s] = (struct pollfd){sd->fd, POLLIN, 0};
				if (tcp_mode && sd->fd >= 0 && sd->sent < n_rec * REC)
					pf[2 * i + (unsigned)s].events |= POLLOUT;
				if (sd->fd >= 0 && ss[i].s[s ^ 1].fd >= 0 && sd->got < n_rec)
					left++;
			}
		if (!left)
			break;
		if (!tcp_mode) {
			bool all_sent = true;

			for (unsigned i = 0; i < n_sess && all_sent; i++)
				all_sent = ss[i].s[0].fd < 0 ||
					   (ss[i].s[0].sent >= n_rec && ss[i].s[1].sent >= n_rec);
			if (all_sent && net_now() > end - seconds + 1 &&
			    poll(pf, 2 * n_sess, 500) == 0)
				break; /* everything sent and nothing more arriving */
		}
		if (poll(pf, 2 * n_sess, tcp_mode ? 200 : 2) < 0)
			break;
		for (unsigned i = 0; i < n_sess; i++)
			for (uint8_t s = 0; s < 2; s++)
				if (pf[2 * i + s].revents && ss[i].s[s].fd >= 0)
					(tcp_mode ? pump_tcp : pump_udp)(i, s,
									 pf[2 * i + s].revents);
	}
	for (unsigned i = 0; i < n_sess; i++) {
		unsigned need = tcp_mode ? n_rec : n_rec * 9 / 10;

		if (ss[i].s[0].fd >= 0 && ss[i].s[1].fd >= 0 && ss[i].s[0].got >= need &&
		    ss[i].s[1].got >= need)
			complete++;
		lost += (unsigned long)(2 * n_rec) - ss[i].s[0].got - ss[i].s[1].got;
	}
	printf("sessions %u paired %u complete %u records_ok %lu foreign %lu corrupt %lu lost %lu "
	       "seconds %.2f\n",
	       n_sess, paired, complete, recs_ok, foreign, corrupt, lost, net_now() - t1);
	fflush(stdout);
	for (unsigned i = 0; i < n_sess; i++)
		for (int s = 0; s < 2; s++)
			if (ss[i].s[s].fd >= 0)
				close(ss[i].s[s].fd);
	free(pf);
	free(ss);
	return paired == n_sess && complete == n_sess && !foreign && !corrupt ? 0 : 1;
}
