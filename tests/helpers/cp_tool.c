/* SPDX-License-Identifier: MIT */
/*
 * cp_tool: control-plane test and benchmark client.
 *   cp_tool forge KEYDIR @claimed @to       send an envelope claiming another sender
 *   cp_tool oversize KEYDIR                 send a frame over the size cap (raw)
 *   cp_tool garbage KEYDIR                  send a frame that fails authentication (raw)
 *   cp_tool records KEYDIR                  put/get/del a record
 *   cp_tool rtt KEYDIR_A KEYDIR_B N         notify round trips A -> home -> B pushed
 *   cp_tool rate KEYDIR_A KEYDIR_B N WINDOW notifications/s with WINDOW in flight
 *   cp_tool idle SERVER KEYB64 CODEFILE     enroll + hold one monitor per "@h code" line
 *   cp_tool flood KEYDIR @to N              N notifications (64 in flight); prints
 *                                           "ok K" and "error CODE NAME: message xM" per code
 *   cp_tool farexpiry KEYDIR @to            an envelope expiring in 2 days (expect CP_E_EXPIRY)
 * Prints "error <code> <name>: <message>" for refused operations and exits 0
 * when the outcome is the one the mode expects (see each mode).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "cp_client.h"
#include "cp_conf.h"
#include "cp_frame.h"
#include "cp_hs.h"
#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "text.h"
#include "wire.h"

static struct ev_loop *loop;
static int last_err = -1;
static char last_msg[300];

static void done_cb(void *arg, int err, const char *msg)
{
	last_err = err;
	snprintf(last_msg, sizeof(last_msg), "%s", msg ? msg : "");
	if (err)
		printf("error %d %s: %s\n", err, cp_strerror(err), msg);
	else
		printf("ok\n");
	ev_break(loop, EVBREAK_ALL);
}

static struct cp_client *client(const char *keydir, struct cp_client_cfg *cfg)
{
	char err[512];
	struct cp_client *c;

	if (cp_client_cfg_load(keydir, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cp_tool: %s\n", err);
		exit(2);
	}
	c = cp_client_new(loop, cfg);
	if (!c)
		exit(2);
	return c;
}

/*
 * ---- a raw envelope the home must refuse: sealed by @p from (NULL: us) to
 * a throw-away key of @p to, expiring in @p ttl seconds; 0 when the home
 * answered @p want (CP_E_FORGED_SENDER, CP_E_EXPIRY) ----
 */
static int do_raw(const char *keydir, const char *from, const char *to, uint64_t ttl, int want)
{
	struct cp_client_cfg cfg;
	struct cp_client *c = client(keydir, &cfg);
	struct identity *fake = from ? identity_generate(from) : NULL;
	struct pubkeys dst = {0};
	uint8_t id[ENVELOPE_ID_LEN], env[1024];
	size_t len;
	uint64_t exp = net_unix_now() + ttl;

	snprintf(dst.handle, sizeof(dst.handle), "%s", to);
	randombytes_buf(dst.box_pk, sizeof(dst.box_pk));
	randombytes_buf(id, sizeof(id));
	if ((from && !fake) ||
	    envelope_seal(fake ? fake : cfg.id, &dst, MSG_TEXT, id, exp, (const uint8_t *)"raw", 3,
			  env, sizeof(env), &len) != ENV_OK ||
	    cp_client_send_envelope(c, env, len, exp, done_cb, NULL) < 0)
		return 2;
	ev_run(loop, 0);
	cp_client_free(c);
	identity_free(fake);
	cp_client_cfg_release(&cfg);
	return last_err == want ? 0 : 1;
}

/* ---- records: put, get, del, get (not found) ---- */
static void rec_get_cb(void *arg, int err, const uint8_t *d, size_t n)
{
	last_err = err;
	if (!err)
		printf("record %.*s\n", (int)n, (const char *)d);
	else
		printf("error %d %s\n", err, cp_strerror(err));
	ev_break(loop, EVBREAK_ALL);
}

static int do_records(const char *keydir)
{
	struct cp_client_cfg cfg;
	struct cp_client *c = client(keydir, &cfg);
	int ok = 1;

	if (cp_client_put_record(c, "info", (const uint8_t *)"v1", 2, done_cb, NULL) < 0)
		return 2;
	ev_run(loop, 0);
	ok &= last_err == 0;
	if (cp_client_get_record(c, cfg.id->pub.handle, "info", rec_get_cb, NULL) < 0)
		return 2;
	ev_run(loop, 0);
	ok &= last_err == 0;
	if (cp_client_del_record(c, "info", done_cb, NULL) < 0)
		return 2;
	ev_run(loop, 0);
	ok &= last_err == 0;
	if (cp_client_get_record(c, cfg.id->pub.handle, "info", rec_get_cb, NULL) < 0)
		return 2;
	ev_run(loop, 0);
	ok &= last_err == CP_E_NOT_FOUND;
	cp_client_free(c);
	cp_client_cfg_release(&cfg);
	return ok ? 0 : 1;
}

/* ---- raw protocol abuse (blocking socket) ---- */
static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int raw_frame(int fd, struct cp_sess *s, struct cp_msg *m, uint8_t *buf)
{
	size_t flen;
	int n;

	if (read_full(fd, buf, CP_FRAME_HDR) < 0)
		return -1;
	if (cp_frame_check(buf, CP_FRAME_HDR, &flen) != -EAGAIN ||
	    read_full(fd, buf + CP_FRAME_HDR, flen - CP_FRAME_HDR) < 0)
		return -1;
	n = cp_sess_open(s, buf, flen, buf + CP_FRAME_MAX, CP_MSG_MAX);
	if (n < 0)
		return -1;
	return cp_msg_decode(buf + CP_FRAME_MAX, (size_t)n, m);
}

static int raw_connect(const char *keydir, struct cp_sess *s, uint8_t *buf)
{
	char server[CP_HOSTPORT_BUF], err[512];
	uint8_t pk[CP_KEY_LEN], hello[CP_CLIENT_HELLO_LEN], sh[CP_SERVER_HELLO_LEN];
	struct sockaddr_storage ss;
	socklen_t sl;
	struct cp_hs hs;
	struct cp_msg m;
	int fd;

	if (cp_conf_load(keydir, server, pk, err, sizeof(err)) < 0 ||
	    net_parse_hostport(server, &ss, &sl) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	cp_hs_client_start(&hs, pk, hello);
	if (write(fd, hello, sizeof(hello)) != sizeof(hello) || read_full(fd, sh, sizeof(sh)) < 0 ||
	    cp_hs_client_finish(&hs, sh, s) < 0 || raw_frame(fd, s, &m, buf) < 0 ||
	    m.type != CP_T_CHALLENGE)
		return -1;
	return fd;
}

/* Expect an error frame with @p want, then EOF. */
static int expect_err(int fd, struct cp_sess *s, uint8_t *buf, int want)
{
	struct cp_msg m;
	int r = raw_frame(fd, s, &m, buf);

	if (r < 0 || m.type != CP_T_R_ERR) {
		printf("no error frame\n");
		return 1;
	}
	printf("error %d %s: %s\n", m.err, cp_strerror(m.err), m.errmsg);
	if (read(fd, buf, 1) > 0) {
		printf("connection not closed\n");
		return 1;
	}
	return m.err == want ? 0 : 1;
}

static int do_oversize(const char *keydir, bool garbage)
{
	uint8_t *buf = malloc(2 * CP_FRAME_MAX), hdr[64];
	struct cp_sess s;
	int fd = raw_connect(keydir, &s, buf), ret;

	if (fd < 0) {
		printf("cannot connect\n");
		return 2;
	}
	memset(hdr, 0x41, sizeof(hdr));
	put_be32(hdr, garbage ? 40 : CP_CT_MAX + 1);
	if (write(fd, hdr, garbage ? 44 : sizeof(hdr)) < 0)
		return 2;
	ret = expect_err(fd, &s, buf, garbage ? CP_E_PROTO : CP_E_TOO_BIG);
	close(fd);
	free(buf);
	return ret;
}

/* ---- benchmarks ---- */
struct bench {
	struct cp_client *a, *b;
	const char *to;
	unsigned long n, sent, acked, recv, window;
	double *lat, t0;
	double send_t;
	bool rtt_mode;
};

static struct bench B;

static void bench_send(void);

static void sent_cb(void *arg, int err, const char *msg)
{
	if (err) {
		fprintf(stderr, "notify failed: %s\n", msg);
		exit(1);
	}
	B.acked++;
	if (!B.rtt_mode)
		bench_send();
}

static void bench_send(void)
{
	uint8_t payload[64];

	while (B.sent < B.n && B.sent - B.recv < B.window) {
		double t = net_now();

		memcpy(payload, &t, sizeof(t));
		memset(payload + sizeof(t), 'x', sizeof(payload) - sizeof(t));
		if (cp_client_notify(B.a, B.to, MSG_TEXT, payload, sizeof(payload), 60, sent_cb,
				     NULL) < 0)
			return;
		B.sent++;
	}
}

static void bench_note(void *arg, const struct envelope *env)
{
	double t;

	memcpy(&t, env->payload, sizeof(t));
	if (B.recv < B.n)
		B.lat[B.recv] = net_now() - t;
	B.recv++;
	if (B.recv >= B.n) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	bench_send();
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void bench_state(void *arg, bool up, int err, const char *msg)
{
	if (up && arg == &B.b && B.sent == 0) {
		B.t0 = net_now();
		bench_send();
	}
}

static int do_bench(const char *ka, const char *kb, unsigned long n, unsigned long window)
{
	struct cp_client_cfg ca, cb;

	B.n = n;
	B.window = window;
	B.rtt_mode = window == 1;
	B.lat = calloc(n, sizeof(double));
	B.a = client(ka, &ca);
	cb.on_notification = NULL;
	if (cp_client_cfg_load(kb, &cb, last_msg, sizeof(last_msg)) < 0)
		return 2;
	cb.on_notification = bench_note;
	cb.on_state = bench_state;
	cb.arg = &B.b;
	B.b = cp_client_new(loop, &cb);
	B.to = cb.id->pub.handle;
	if (!B.b || cp_client_monitor(B.b) < 0)
		return 2;
	ev_run(loop, 0);
	double el = net_now() - B.t0;

	qsort(B.lat, n, sizeof(double), cmp_d);
	printf("notifications %lu window %lu elapsed %.3f s rate %.0f/s p50 %.3f ms p99 %.3f ms\n",
	       n, window, el, (double)n / el, B.lat[n / 2] * 1e3, B.lat[n * 99 / 100] * 1e3);
	cp_client_free(B.a);
	cp_client_free(B.b);
	cp_client_cfg_release(&ca);
	cp_client_cfg_release(&cb);
	free(B.lat);
	return 0;
}

/* ---- flood: count the outcomes of N notifications ---- */
static struct {
	struct cp_client *c;
	const char *to;
	unsigned long n, sent, done, ok;
	unsigned long by_code[CP_E_WIRE_MAX + 16];
	char first_msg[CP_E_WIRE_MAX + 16][128];
} F;

static void flood_send(void);

static void flood_cb(void *arg, int err, const char *msg)
{
	F.done++;
	if (!err) {
		F.ok++;
	} else if (err > 0 && (size_t)err < sizeof(F.by_code) / sizeof(F.by_code[0])) {
		if (!F.by_code[err]++)
			snprintf(F.first_msg[err], sizeof(F.first_msg[err]), "%s", msg ? msg : "");
	}
	if (F.done == F.n)
		ev_break(loop, EVBREAK_ALL);
	else
		flood_send();
}

static void flood_send(void)
{
	while (F.sent < F.n && F.sent - F.done < 64) {
		if (cp_client_notify(F.c, F.to, MSG_TEXT, (const uint8_t *)"flood", 5, 600,
				     flood_cb, NULL) < 0)
			return;
		F.sent++;
	}
}

static int do_flood(const char *keydir, const char *to, unsigned long n)
{
	struct cp_client_cfg cfg;

	F.c = client(keydir, &cfg);
	F.to = to;
	F.n = n;
	flood_send();
	if (F.n)
		ev_run(loop, 0);
	printf("ok %lu\n", F.ok);
	for (size_t i = 0; i < sizeof(F.by_code) / sizeof(F.by_code[0]); i++)
		if (F.by_code[i])
			printf("error %zu %s: %s x%lu\n", i, cp_strerror((int)i), F.first_msg[i],
			       F.by_code[i]);
	cp_client_free(F.c);
	cp_client_cfg_release(&cfg);
	return 0;
}

/* ---- idle monitors ---- */
struct idle {
	struct cp_client *c;
	struct identity *id;
	char code[CP_CODE_BUF];
};
static unsigned long idle_up, idle_n;

static void idle_note(void *arg, const struct envelope *env)
{
}

static void idle_state(void *arg, bool up, int err, const char *msg)
{
	if (up && ++idle_up == idle_n)
		ev_break(loop, EVBREAK_ALL);
	if (!up)
		fprintf(stderr, "idle client down: %s\n", msg);
}

static void idle_enrolled(void *arg, int err, const char *msg)
{
	struct idle *x = arg;

	if (err) {
		fprintf(stderr, "enroll %s: %s\n", x->id->pub.handle, msg);
		exit(1);
	}
	if (cp_client_monitor(x->c) < 0)
		exit(1);
}

static void stop_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

static int do_idle(const char *server, const char *keyb64, const char *codefile)
{
	struct cp_client_cfg cfg = {
	    .server = server, .on_notification = idle_note, .on_state = idle_state};
	struct rlimit rl = {65536, 65536};
	FILE *f = fopen(codefile, "r");
	char h[HANDLE_BUF + 8], code[CP_CODE_BUF + 8];
	struct idle *v = calloc(100000, sizeof(*v));
	ev_signal sterm;

	setrlimit(RLIMIT_NOFILE, &rl);
	if (!f || text_from_b64_exact(cfg.server_pk, CP_KEY_LEN, keyb64) < 0)
		return 2;
	while (idle_n < 100000 && fscanf(f, "%64s %64s", h, code) == 2) {
		struct idle *x = &v[idle_n];

		x->id = identity_generate(h);
		cfg.id = x->id;
		cfg.arg = x;
		x->c = x->id ? cp_client_new(loop, &cfg) : NULL;
		if (!x->c || cp_client_enroll(x->c, code, idle_enrolled, x) < 0)
			return 2;
		idle_n++;
		if (idle_n % 500 == 0) /* pace the enrollments */
			ev_run(loop, EVRUN_NOWAIT);
	}
	fclose(f);
	ev_run(loop, 0);
	printf("idle monitors up %lu\n", idle_up);
	fflush(stdout);
	ev_signal_init(&sterm, stop_cb, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_run(loop, 0); /* hold until SIGTERM */
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || log_init("cp_tool") < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	loop = EV_DEFAULT;
	if (argc == 5 && !strcmp(argv[1], "forge"))
		return do_raw(argv[2], argv[3], argv[4], 600, CP_E_FORGED_SENDER);
	if (argc == 3 && !strcmp(argv[1], "oversize"))
		return do_oversize(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "garbage"))
		return do_oversize(argv[2], true);
	if (argc == 3 && !strcmp(argv[1], "records"))
		return do_records(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "rtt"))
		return do_bench(argv[2], argv[3], strtoul(argv[4], NULL, 10), 1);
	if (argc == 6 && !strcmp(argv[1], "rate"))
		return do_bench(argv[2], argv[3], strtoul(argv[4], NULL, 10),
				strtoul(argv[5], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "idle"))
		return do_idle(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "flood"))
		return do_flood(argv[2], argv[3], strtoul(argv[4], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "farexpiry"))
		return do_raw(argv[2], NULL, argv[3], 2 * 86400, CP_E_EXPIRY);
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/cp_tool.c\n");
	return 2;
}
