/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: portless-cp's connection state machine through its
 * real code (cp_server on a loopback socket in this process, its store in
 * a scratch directory), not a single parser call. The server hosts @a, @b
 * and @c, and has a pending enrollment slot @e. Per input the harness
 * opens one connection and runs the transport handshake unless the first
 * byte's low bit is set (then the input's bytes go out unshaken); the rest
 * is a list of [op u8][len u8][len bytes]:
 *   op % 8 == 0: the bytes as they are on the socket;
 *   op % 8 == 1: the bytes sealed as one frame (a message to decode);
 *   op % 8 == 2: AUTH as identity (op >> 3) % 3 over the CHALLENGE (op & 128:
 *                a wrong signature);
 *   op % 8 == 3: a message of type 1 + (op >> 3) % 12 with its fields
 *                filled from the bytes (handles among @a..@e and a bad one);
 *   op % 8 == 4: NOTIFY with a real envelope from the authenticated
 *                identity to @a/@b/@c carrying the bytes;
 *   op % 8 == 5: ACK of the seqs seen in answers and pushes;
 *   op % 8 == 6: MONITOR;
 *   op % 8 == 7: ENROLL @e with a wrong (op & 128) or malformed code.
 * After each step the loop runs and the answers are opened (the CHALLENGE,
 * and seqs for ACK). The connection is closed at the end of each input.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_frame.h"
#include "cp_hs.h"
#include "cp_server.h"
#include "cp_store.h"
#include "envelope.h"
#include "identity.h"
#include "log.h"
#include "net.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NID = 3, NSEQ = 16, RXCAP = 1 << 17 };

static const char *const handles[] = {"@a", "@b", "@c", "@e", "@zz", "bad"};

static struct ev_loop *loop;
static struct cp_server *srv;
static struct identity *id[NID];
static uint8_t server_pk[CP_KEY_LEN];
static uint16_t port;
/* this input's connection */
static int fd = -1;
static struct cp_sess sess;
static bool shaken;
static uint8_t challenge[CP_CHALLENGE_LEN];
static int authed = -1; /* identity index once AUTH was sent */
static uint64_t seqs[NSEQ];
static unsigned nseq;
static uint8_t *rx, *plain;
static size_t rlen;

static uint16_t free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, len) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		abort();
	close(s);
	return ntohs(sa.sin_port);
}

/* The identities straight into the store, and a slot for @e. */
static void enroll_all(const char *dir)
{
	uint8_t hash[CP_HASH_LEN], sig[CP_SIG_LEN];
	struct cp_store *st;
	char err[256];

	if (cp_data_init(dir, server_pk, err, sizeof(err)) < 0 ||
	    cp_store_open(dir, false, &st, err, sizeof(err)) < 0)
		abort();
	for (int i = 0; i < NID; i++) {
		id[i] = identity_generate(handles[i]);
		cp_keys_sign(id[i], sig);
		if (!id[i] || cp_store_add_slot(st, handles[i], hash, 4000000000u, 1) < 0 ||
		    cp_store_enroll(st, &id[i]->pub, sig) < 0)
			abort();
	}
	cp_code_hash("fuzz-code", hash);
	if (cp_store_add_slot(st, "@e", hash, 4000000000u, 1) < 0)
		abort();
	cp_store_close(st);
}

static void init(void)
{
	static char dir[] = "/tmp/fuzz_cp_server.XXXXXX", listen[32];
	char data[64], err[256];
	struct cp_server_cfg cfg = {0};

	if (sodium_init() < 0 || !mkdtemp(dir))
		abort();
	log_set_level(PL_LOG_ERR);
	snprintf(data, sizeof(data), "%s/data", dir);
	enroll_all(data);
	port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	cfg.datadir = data;
	cfg.listen = listen;
	loop = ev_loop_new(EVFLAG_AUTO);
	srv = cp_server_new(loop, &cfg, err, sizeof(err));
	rx = malloc(RXCAP);
	plain = malloc(CP_MSG_MAX);
	if (!srv || !rx || !plain)
		abort();
}

/* What one answer tells the harness: the challenge, seqs to acknowledge. */
static void seen(const uint8_t *p, size_t n)
{
	struct cp_msg m;

	if (cp_msg_decode(p, n, &m) != 0)
		return;
	if (m.type == CP_T_CHALLENGE)
		memcpy(challenge, m.challenge, CP_CHALLENGE_LEN);
	else if ((m.type == CP_T_R_NOTIFIED || m.type == CP_T_PUSH) && nseq < NSEQ)
		seqs[nseq++] = m.seq;
}

/* Open the whole frames read so far (after the server hello). */
static void frames(void)
{
	size_t off = 0, flen;

	while (shaken && cp_frame_check(rx + off, rlen - off, &flen) == 0) {
		int n = cp_sess_open(&sess, rx + off, flen, plain, CP_MSG_MAX);

		if (n < 0) {
			off = rlen;
			break;
		}
		seen(plain, (size_t)n);
		off += flen;
	}
	memmove(rx, rx + off, rlen - off);
	rlen -= off;
}

static void pump(void)
{
	for (int k = 0; k < 3; k++) {
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		while (fd >= 0 && rlen < RXCAP && (n = recv(fd, rx + rlen, RXCAP - rlen, 0)) > 0)
			rlen += (size_t)n;
		frames();
		if (rlen == RXCAP)
			rlen = 0; /* a stream we cannot follow: forget it */
	}
}

static void put(const uint8_t *m, size_t n)
{
	if (send(fd, m, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != ECONNRESET &&
	    errno != EPIPE)
		abort();
}

static void put_plain(const uint8_t *m, size_t n)
{
	static uint8_t f[CP_FRAME_MAX];
	int k = cp_sess_seal(&sess, m, n, f, sizeof(f));

	if (k > 0)
		put(f, (size_t)k);
}

static void put_msg(const struct cp_msg *m)
{
	static uint8_t b[CP_MSG_MAX];
	int n = cp_msg_encode(m, b, sizeof(b));

	if (n > 0)
		put_plain(b, (size_t)n);
}

/*
 * Each connection from the next of 65536 loopback source addresses: a
 * thousand connections a second leave their 4-tuples in TIME_WAIT for a
 * minute, more than one address's ephemeral ports (the first long run
 * died in connect() after 257,559 inputs).
 */
static int src_bind(int s)
{
	static uint32_t n;
	struct sockaddr_in a = {.sin_family = AF_INET};

	a.sin_addr.s_addr = htonl(0x7f010000u | (n++ & 0xffffu));
	return bind(s, (struct sockaddr *)&a, sizeof(a));
}

/*
 * Connect @p fd (made non-blocking first) and wait until it is: libFuzzer's
 * timeout timer (SIGALRM) interrupts a blocking connect() on a loaded
 * machine (an earlier run died of EINTR), so wait in poll() and retry that.
 */
static int connect_wait(int s, const struct sockaddr_in *a)
{
	struct pollfd p = {.fd = s, .events = POLLOUT};
	int err = 0;
	socklen_t len = sizeof(err);

	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK) < 0)
		return -1;
	if (connect(s, (const struct sockaddr *)a, sizeof(*a)) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	while (poll(&p, 1, 5000) < 0)
		if (errno != EINTR)
			return -1;
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		errno = err;
		return -1;
	}
	return 0;
}

static void open_conn(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	a.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || src_bind(fd) < 0 || connect_wait(fd, &a) < 0) {
		perror("fuzz_cp_server: connect");
		abort();
	}
	rlen = 0;
	nseq = 0;
	authed = -1;
	shaken = false;
	memset(challenge, 0, sizeof(challenge));
}

/* The client half of the transport handshake, synchronously. */
static void handshake(void)
{
	struct cp_hs hs;
	uint8_t hello[CP_CLIENT_HELLO_LEN];

	cp_hs_client_start(&hs, server_pk, hello);
	put(hello, sizeof(hello));
	for (int i = 0; i < 20 && rlen < CP_SERVER_HELLO_LEN; i++)
		pump();
	if (rlen < CP_SERVER_HELLO_LEN || cp_hs_client_finish(&hs, rx, &sess) != 0)
		abort(); /* the server must answer a good hello */
	memmove(rx, rx + CP_SERVER_HELLO_LEN, rlen - CP_SERVER_HELLO_LEN);
	rlen -= CP_SERVER_HELLO_LEN;
	shaken = true;
	pump();
}

/* Copy up to @p cap - 1 bytes of @p p as text. */
static void text(char *out, size_t cap, const uint8_t *p, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	memcpy(out, p, n);
	out[n] = 0;
}

/* A message of a client type with fields from the bytes. */
static void typed(uint8_t op, const uint8_t *p, size_t len)
{
	struct cp_msg m = {.type = (uint8_t)(1 + (op >> 3) % 12), .req = op};

	snprintf(m.handle, sizeof(m.handle), "%s", handles[len ? p[0] % 6 : 0]);
	if (len > 1)
		text(m.name, sizeof(m.name), p + 1, p[1] % 34 < len - 1 ? p[1] % 34 : len - 1);
	else
		snprintf(m.name, sizeof(m.name), "r");
	m.data = p;
	m.data_len = len;
	m.expiry = net_unix_now() + (len > 2 ? p[2] : 60);
	m.nack = (uint16_t)(len / 8);
	m.acks = p;
	if (len >= CP_SIG_LEN)
		memcpy(m.keysig, p, CP_SIG_LEN);
	put_msg(&m);
}

static void do_auth(uint8_t op)
{
	struct cp_msg m = {.type = CP_T_AUTH, .req = 1};
	int i = (op >> 3) % NID;

	snprintf(m.handle, sizeof(m.handle), "%s", handles[i]);
	cp_auth_sign(id[i], challenge, sess.sid, m.sig);
	if (op & 128)
		m.sig[0] ^= 1;
	else
		authed = i;
	put_msg(&m);
}

static void do_notify(uint8_t op, const uint8_t *p, size_t len)
{
	static uint8_t env[ENVELOPE_MAX];
	struct cp_msg m = {.type = CP_T_NOTIFY, .req = 2};
	uint8_t eid[ENVELOPE_ID_LEN] = {op};
	size_t n;

	m.expiry = net_unix_now() + 60;
	if (envelope_seal(id[authed < 0 ? 0 : authed], &id[(op >> 3) % NID]->pub, 1, eid, m.expiry,
			  p, len, env, sizeof(env), &n) != ENV_OK)
		return;
	m.data = env;
	m.data_len = n;
	put_msg(&m);
}

static void do_ack(void)
{
	uint8_t b[NSEQ * 8];
	struct cp_msg m = {.type = CP_T_ACK, .nack = (uint16_t)nseq, .acks = b};

	for (unsigned i = 0; i < nseq; i++)
		put_be64(b + 8 * i, seqs[i]);
	nseq = 0;
	put_msg(&m);
}

static void do_enroll(uint8_t op, const uint8_t *p, size_t len)
{
	struct cp_msg m = {.type = CP_T_ENROLL, .req = 3};

	snprintf(m.handle, sizeof(m.handle), "@e");
	if (op & 128)
		snprintf(m.code, sizeof(m.code), "wrong-code");
	else
		text(m.code, sizeof(m.code), p, len);
	memcpy(m.sign_pk, id[0]->pub.sign_pk, CP_KEY_LEN);
	put_msg(&m);
}

static void step(uint8_t op, const uint8_t *p, size_t len)
{
	struct cp_msg m = {.type = CP_T_MONITOR, .req = 4};

	switch (op % 8) {
	case 0:
		put(p, len);
		return;
	case 1:
		put_plain(p, len);
		return;
	case 2:
		do_auth(op);
		return;
	case 3:
		typed(op, p, len);
		return;
	case 4:
		do_notify(op, p, len);
		return;
	case 5:
		do_ack();
		return;
	case 6:
		put_msg(&m);
		return;
	default:
		do_enroll(op, p, len);
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 1;

	if (!loop)
		init();
	if (size < 1)
		return 0;
	open_conn();
	if (!(data[0] & 1))
		handshake();
	for (int i = 0; i < 24 && size - off >= 2; i++) {
		uint8_t op = data[off];
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		if (shaken || op % 8 == 0)
			step(op, data + off, len);
		off += len;
		pump();
	}
	close(fd);
	fd = -1;
	cp_sess_wipe(&sess);
	pump(); /* the server sees the end now */
	return 0;
}
