/* SPDX-License-Identifier: MIT */
/*
 * portless doctor [--config PATH] [--keys DIR] [--socket PATH] [--json]:
 * check this host's set-up hop by hop, one line per check, the failing hop
 * named with what to do: the key file and its mode, portlessd.conf and
 * cp.conf, the control plane (reachable, the pinned key), each relay of
 * [client] sr (known to the directory, connected to its home, round trip),
 * portlessd's control socket, /dev/net/tun, and on a device sshd on the
 * virtual address. Exit 0 when every check passed, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "cliutil.h"
#include "cmds.h"
#include "cp_client.h"
#include "ctl.h"
#include "identity.h"
#include "pdconf.h"

enum { DR_MAX = 24, DR_TIMEOUT_S = 5, DR_PROBE_TYPE = 0xfff0 };

struct check {
	char what[64];
	bool ok;
	char detail[320];
};

struct doctor {
	struct check c[DR_MAX];
	int n;
	bool json;
	struct ev_loop *loop;
	/* the control-plane probe */
	int err;
	bool done, offline, up;
	char msg[256];
	double t0, ms;
};

static void __attribute__((format(printf, 4, 5)))
add(struct doctor *d, const char *what, bool ok, const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	if (d->n == DR_MAX)
		return;
	c = &d->c[d->n++];
	snprintf(c->what, sizeof(c->what), "%s", what);
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the key file ---- */

static void check_keys(struct doctor *d, const char *dir)
{
	char path[4200], fpr[ID_FPR_BUF], err[256];
	struct identity *id = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/identity.key", dir);
	if (stat(path, &st) < 0) {
		add(d, "identity", false,
		    "%s: %s — make one with 'portless keygen' or 'portless enroll'", path,
		    strerror(errno));
		return;
	}
	if (st.st_mode & 077) {
		add(d, "identity", false,
		    "%s is mode %04o — chmod 600 %s (others must not read it)", path,
		    (unsigned)(st.st_mode & 07777), path);
		return;
	}
	if (identity_load(path, &id, err, sizeof(err)) < 0) {
		add(d, "identity", false, "%s — restore the key file or enroll again", err);
		return;
	}
	identity_fingerprint(&id->pub, fpr);
	add(d, "identity", true, "%s %s (%s, mode 0600)", id->pub.handle, fpr, path);
	identity_free(id);
}

/* ---- portlessd.conf and cp.conf ---- */

static struct pdconf *check_conf(struct doctor *d, const char *path)
{
	struct pdconf *c = calloc(1, sizeof(*c));
	char err[PDCONF_ERR_BUF];

	if (!c)
		return NULL;
	pdconf_defaults(c);
	if (access(path, R_OK) != 0) {
		add(d, "portlessd.conf", true, "%s absent: defaults (no daemon configured)", path);
		return c;
	}
	if (pdconf_load(c, path, err, sizeof(err)) < 0) {
		add(d, "portlessd.conf", false, "%s — fix that line", err);
		free(c);
		return NULL;
	}
	add(d, "portlessd.conf", true, "%s parses (device %s, client %s)", path,
	    c->device_enabled ? "on" : "off", c->client_enabled ? "on" : "off");
	return c;
}

static void check_override(struct doctor *d, const struct pdconf *c,
			   const struct cp_client_cfg *cfg)
{
	if (!c->have_cp_address)
		return;
	if (strcmp(c->cp_address, cfg->server) != 0 ||
	    memcmp(c->cp_server_key, cfg->server_pk, sizeof(cfg->server_pk)) != 0)
		add(d, "controlplane override", false,
		    "[controlplane] in portlessd.conf (%s) overrides cp.conf (%s) from 'portless "
		    "enroll' — remove the section unless that is meant",
		    c->cp_address, cfg->server);
}

/* ---- the control plane and the relays ---- */

static void on_state(void *arg, bool up, int err, const char *msg)
{
	struct doctor *d = arg;

	d->up = up;
	if (!up && err) {
		d->err = err;
		snprintf(d->msg, sizeof(d->msg), "%s", msg ? msg : cp_strerror(err));
		d->done = true;
		ev_break(d->loop, EVBREAK_ALL);
	}
}

static void on_record(void *arg, int err, const uint8_t *data, size_t len)
{
	struct doctor *d = arg;

	d->err = err == CP_E_NOT_FOUND ? 0 : err; /* the home answered: that is what counts */
	d->done = true;
	d->ms = now_ms() - d->t0;
	ev_break(d->loop, EVBREAK_ALL);
}

static void on_keys(void *arg, int err, const struct pubkeys *pk)
{
	struct doctor *d = arg;

	d->err = err;
	d->done = true;
	d->ms = now_ms() - d->t0;
	ev_break(d->loop, EVBREAK_ALL);
}

static void on_sent(void *arg, int err, const char *msg)
{
	struct doctor *d = arg;

	d->err = err;
	d->offline = !err && msg == cp_msg_offline;
	snprintf(d->msg, sizeof(d->msg), "%s", msg ? msg : "");
	d->done = true;
	d->ms = now_ms() - d->t0;
	ev_break(d->loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until a callback says done, at most DR_TIMEOUT_S. */
static void wait_done(struct doctor *d)
{
	ev_timer t;

	ev_timer_init(&t, on_timeout, DR_TIMEOUT_S, 0);
	ev_timer_start(d->loop, &t);
	if (!d->done)
		ev_run(d->loop, 0);
	ev_timer_stop(d->loop, &t);
	if (!d->done) {
		d->err = CP_E_TIMEOUT;
		snprintf(d->msg, sizeof(d->msg), "no answer within %d s", DR_TIMEOUT_S);
	}
}

/* The relay: known to the directory (its keys), connected to its home (presence). */
static void check_relay(struct doctor *d, struct cp_client *c, const char *relay)
{
	char what[64];

	snprintf(what, sizeof(what), "relay %s", relay);
	d->done = false;
	d->t0 = now_ms();
	if (cp_client_get_keys(c, relay, on_keys, d) == 0)
		wait_done(d);
	if (d->err) {
		add(d, what, false, "%s — check [client] sr and 'portless-cp list' on its server",
		    d->msg[0] ? d->msg : cp_strerror(d->err));
		return;
	}
	d->done = false;
	d->msg[0] = '\0';
	d->t0 = now_ms();
	if (cp_client_notify(c, relay, DR_PROBE_TYPE, (const uint8_t *)"doctor", 6, 10, on_sent,
			     d) == 0)
		wait_done(d);
	if (d->err || d->offline)
		add(d, what, false, "%s — start portless-sr for %s, or check its log",
		    d->offline ? "not connected to its home" : d->msg, relay);
	else
		add(d, what, true, "known and connected to its home (round trip %.0f ms)", d->ms);
}

static void check_cp(struct doctor *d, const char *keydir, const struct pdconf *conf)
{
	struct cp_client_cfg cfg;
	struct cp_client *c;
	char err[512];

	if (cp_client_cfg_load(keydir, &cfg, err, sizeof(err)) < 0) {
		add(d, "cp.conf", false, "%s — run 'portless enroll'", err);
		return;
	}
	add(d, "cp.conf", true, "control plane %s, server key pinned", cfg.server);
	if (conf)
		check_override(d, conf, &cfg);
	if (conf && conf->have_cp_address) {
		cfg.server = conf->cp_address;
		memcpy(cfg.server_pk, conf->cp_server_key, sizeof(cfg.server_pk));
	}
	cfg.on_state = on_state;
	cfg.arg = d;
	c = cp_client_new(d->loop, &cfg);
	d->done = false;
	d->t0 = now_ms();
	if (c && cp_client_get_record(c, cfg.id->pub.handle, "device", on_record, d) == 0)
		wait_done(d);
	if (!c || d->err || !d->up)
		add(d, "control plane", false,
		    "%s: %s — check the address, that portless-cp runs, "
		    "and the server key ('portless-cp init' printed it)",
		    cfg.server, d->msg[0] ? d->msg : "not connected");
	else
		add(d, "control plane", true, "%s answers with the pinned key (%.0f ms)",
		    cfg.server, d->ms);
	for (size_t i = 0; c && d->up && conf && i < conf->n_sr; i++)
		check_relay(d, c, conf->sr[i]);
	cp_client_free(c);
	cp_client_cfg_release(&cfg);
}

/* ---- this host ---- */

static void check_socket(struct doctor *d, const char *path, bool wanted)
{
	struct ctl_msg m = {.type = CTL_STATUS};
	struct ctl_client cc;

	if (ctl_client_open(&cc, path) < 0) {
		add(d, "control socket", !wanted, "%s: not reachable%s", path,
		    wanted ? " — start portlessd (systemctl start portlessd)"
			   : " (no client role here)");
		return;
	}
	bool ok = ctl_client_send(&cc, &m) == 0 && ctl_client_recv(&cc, &m, 3000) == 0;

	add(d, "control socket", ok, "%s %s", path, ok ? "answers" : "does not answer");
	ctl_client_close(&cc);
}

static void check_tun(struct doctor *d)
{
	struct stat st;

	if (stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode))
		add(d, "/dev/net/tun", true, "present");
	else
		add(d, "/dev/net/tun", false, "missing — modprobe tun");
}

/* sshd on the device's virtual address: a TCP connect there and an SSH banner. */
static void check_sshd(struct doctor *d, const struct pdconf *c, const char *keydir)
{
	char path[4200], err[256], a4[IPADDR_STRLEN], banner[8] = "";
	struct identity *id = NULL;
	struct addrplan_cfg pc;
	struct ipaddr v4, v6;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
	struct timeval tv = {.tv_sec = 3};
	int fd, ok = 0;

	snprintf(path, sizeof(path), "%s/identity.key", keydir);
	if (identity_load(path, &id, err, sizeof(err)) < 0 ||
	    pdconf_device_addrs(c, id->pub.handle, &pc, &v4, &v6) < 0) {
		identity_free(id);
		return;
	}
	identity_free(id);
	ipaddr_str(&v4, false, a4, sizeof(a4));
	memcpy(&sa.sin_addr, v4.a, 4);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		     read(fd, banner, 4) == 4 && !memcmp(banner, "SSH-", 4);
		close(fd);
	}
	if (ok)
		add(d, "sshd", true, "listens on the virtual address %s:22", a4);
	else
		add(d, "sshd", false,
		    "no SSH server on %s:22 — add 'ListenAddress %s' (install.sh --sshd "
		    "--virtual-ip "
		    "%s) and restart ssh; portlessd must be running",
		    a4, a4, a4);
}

/* ---- report ---- */

static int report(const struct doctor *d)
{
	int bad = 0;

	if (d->json)
		printf("[");
	for (int i = 0; i < d->n; i++) {
		const struct check *c = &d->c[i];

		bad += !c->ok;
		if (d->json)
			printf("%s{\"check\":\"%s\",\"ok\":%s}", i ? "," : "", c->what,
			       c->ok ? "true" : "false");
		else
			printf("%-4s %-22s %s\n", c->ok ? "ok" : "FAIL", c->what, c->detail);
	}
	if (d->json)
		printf("]\n");
	return bad ? CLI_FAIL : CLI_OK;
}

int cmd_doctor(int argc, char **argv)
{
	static const char *const names[] = {"--config", "--keys", "--socket", NULL};
	static const char *const flags[] = {"--json", NULL};
	const char *vals[3] = {NULL, NULL, NULL};
	bool json[1] = {false};
	static struct doctor d;
	char dir[4096];
	struct pdconf *conf;
	const char *env = getenv("PORTLESS_SOCKET");

	argc = cli_take_opts(argc, argv, names, vals, flags, json);
	if (argc != 1) {
		fprintf(stderr,
			"usage: portless doctor [--config PATH] [--keys DIR] [--socket PATH] "
			"[--json]\n");
		return CLI_USAGE;
	}
	memset(&d, 0, sizeof(d));
	d.json = json[0];
	d.loop = EV_DEFAULT;
	conf = check_conf(&d, vals[0] ? vals[0] : PDCONF_DEFAULT_PATH);
	if (vals[1])
		snprintf(dir, sizeof(dir), "%s", vals[1]);
	else if (conf && conf->keys_dir[0] &&
		 access(vals[0] ? vals[0] : PDCONF_DEFAULT_PATH, R_OK) == 0)
		snprintf(dir, sizeof(dir), "%s", conf->keys_dir);
	else if (cli_keys_dir(NULL, dir, sizeof(dir)) < 0)
		return CLI_FAIL;
	check_keys(&d, dir);
	check_cp(&d, dir, conf);
	if (conf && conf->client_enabled)
		check_socket(&d, vals[2] ? vals[2] : (env && *env) ? env : conf->socket_path, true);
	if (conf && conf->device_enabled) {
		check_tun(&d);
		check_sshd(&d, conf, dir);
	}
	free(conf);
	return report(&d);
}
