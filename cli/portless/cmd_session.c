/* SPDX-License-Identifier: MIT */
/*
 * portless ssh / up / down / status: ask the local portlessd (client role)
 * over its control socket, then run the system's ssh over the tunnel.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cliutil.h"
#include "cmds.h"
#include "ctl.h"
#include "daemon.h"
#include "handle.h"
#include "log.h"
#include "pdconf.h"

#define DEFAULT_SOCKET "/run/portless/portlessd.sock"

enum { SETUP_TIMEOUT_MS = 60000 };

static const char *socket_path(const char *opt)
{
	const char *env = getenv("PORTLESS_SOCKET");

	return opt ? opt : (env && *env) ? env : DEFAULT_SOCKET;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "user@@device" or "@device" -> user ("" = mine) and device handle. */
static int parse_target(const char *s, char *user, size_t ucap, char *dev, size_t dcap)
{
	const char *at = strstr(s, "@@");
	size_t ul = at ? (size_t)(at - s) : 0;
	const char *d = at ? at + 1 : s;

	if (ul >= ucap || strlen(d) >= dcap || !handle_valid(d))
		return -1;
	memcpy(user, s, ul);
	user[ul] = '\0';
	strcpy(dev, d);
	return 0;
}

/*
 * Root with no portlessd running: start a private one-shot client-role
 * daemon (the same code as portlessd) on a private socket. It ends with the
 * session. Config: /etc/portless/portlessd.conf when present (its identity
 * and relays), else the default key directory and @p sr ("@relay").
 */
/* Its configuration: the site's portlessd.conf when present, as a client only. */
static struct pdconf *private_conf(const char *sr)
{
	struct pdconf *c = calloc(1, sizeof(*c));
	char err[PDCONF_ERR_BUF];

	if (!c)
		return NULL;
	pdconf_defaults(c);
	if (access(PDCONF_DEFAULT_PATH, R_OK) == 0) {
		if (pdconf_load(c, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "portless: %s\n", err);
			free(c);
			return NULL;
		}
	} else if (identity_default_dir(c->keys_dir, sizeof(c->keys_dir)) < 0) {
		free(c);
		return NULL;
	}
	if (sr || c->n_sr == 0) {
		snprintf(c->sr[0], sizeof(c->sr[0]), "%s", sr ? sr : "@relay");
		c->n_sr = 1;
	}
	c->device_enabled = false;
	c->client_enabled = true;
	return c;
}

/* The private daemon's process: detached, logging to a file beside its socket. */
static void __attribute__((noreturn)) private_child(const struct pdconf *c, const char *dir)
{
	char logp[PDCONF_PATH_MAX + 8];
	int fd, rc;

	setsid();
	snprintf(logp, sizeof(logp), "%s/log", dir);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	rc = daemon_run_conf(c, true);
	unlink(logp);
	snprintf(logp, sizeof(logp), "%s/u0", dir);
	rmdir(logp);
	rmdir(dir);
	_exit(rc);
}

/* Wait (bounded) for the private daemon's socket. */
static int private_wait(pid_t pid, const char *sock)
{
	for (int i = 0; i < 500; i++) {
		struct stat st;
		int status;

		if (stat(sock, &st) == 0)
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "portless: the private client daemon failed (see above)\n");
			return -EIO;
		}
		usleep(10000);
	}
	fprintf(stderr, "portless: the private client daemon did not start\n");
	return -ETIMEDOUT;
}

static int private_daemon(const char *sr, char *sock, size_t cap)
{
	struct pdconf *c = private_conf(sr);
	char dir[64];
	pid_t pid;
	int r;

	if (!c)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "/run/portless/private-%d", (int)getpid());
	mkdir("/run/portless", 0755);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "portless: %s: %s\n", dir, strerror(errno));
		free(c);
		return -errno;
	}
	snprintf(c->socket_path, sizeof(c->socket_path), "%s/portlessd.sock", dir);
	snprintf(sock, cap, "%s", c->socket_path);
	pid = fork();
	if (pid == 0)
		private_child(c, dir);
	r = pid < 0 ? -errno : 0;
	free(c);
	return r < 0 ? r : private_wait(pid, sock);
}

/*
 * Connect to portlessd; as root with no portlessd, start a private one.
 * @p path may be replaced by the private socket's path (buffer of PDCONF_PATH_MAX).
 */
static int connect_daemon_or_private(struct ctl_client *cc, char *path, const char *sr)
{
	int r = ctl_client_open(cc, path);

	if (r < 0 && geteuid() == 0 && (r == -ENOENT || r == -ECONNREFUSED) &&
	    !getenv("PORTLESS_SOCKET")) {
		fprintf(stderr, "portless: no portlessd at %s; running the client role myself\n",
			path);
		r = private_daemon(sr, path, PDCONF_PATH_MAX);
		if (r == 0)
			r = ctl_client_open(cc, path);
	}
	if (r < 0)
		fprintf(stderr,
			"portless: cannot reach portlessd at %s: %s (is the service running?)\n",
			path, strerror(-r));
	return r;
}

static int connect_daemon(struct ctl_client *cc, const char *path)
{
	int r = ctl_client_open(cc, path);

	if (r < 0)
		fprintf(stderr,
			"portless: cannot reach portlessd at %s: %s (is the service running?)\n",
			path, strerror(-r));
	return r;
}

/*
 * Send UP and wait for READY, printing progress (which hop we wait on) to
 * stderr. Returns 0 with @p ready filled, or -1 after printing the error.
 */
static int bring_up(struct ctl_client *cc, const char *dev, const char *user, const char *relay,
		    uint32_t flags, struct ctl_ready *ready)
{
	struct ctl_msg m = {.type = CTL_UP};
	double t0 = now_ms();
	int r;

	snprintf(m.up.device, sizeof(m.up.device), "%s", dev);
	snprintf(m.up.user, sizeof(m.up.user), "%s", user);
	if (relay && (strlen(relay) >= sizeof(m.up.relay) || !handle_valid(relay))) {
		fprintf(stderr, "portless: --sr %s is not a handle\n", relay);
		return -1;
	}
	snprintf(m.up.relay, sizeof(m.up.relay), "%s", relay ? relay : "");
	m.up.flags = flags;
	if (ctl_client_send(cc, &m) < 0) {
		fprintf(stderr, "portless: cannot talk to portlessd\n");
		return -1;
	}
	for (;;) {
		int left = SETUP_TIMEOUT_MS - (int)(now_ms() - t0);

		r = left > 0 ? ctl_client_recv(cc, &m, left) : -ETIMEDOUT;
		if (r < 0) {
			fprintf(stderr, "portless: %s: %s\n", ctl_hop_name(CTL_HOP_TUNNEL),
				r == -ETIMEDOUT ? "timed out waiting for the tunnel"
						: "portlessd closed the connection");
			return -1;
		}
		if (m.type == CTL_PROGRESS) {
			fprintf(stderr, "portless: [%s] %s\n", ctl_hop_name(m.progress.hop),
				m.progress.text);
		} else if (m.type == CTL_ERROR) {
			fprintf(stderr, "portless: %s: %s\n", ctl_hop_name(m.error.hop),
				m.error.text);
			return -1;
		} else if (m.type == CTL_READY) {
			*ready = m.ready;
			fprintf(stderr, "portless: tunnel to %s ready in %.0f ms (%s -> %s)\n",
				ready->device, now_ms() - t0, ready->client_ip, ready->device_ip);
			return 0;
		}
	}
}

/*
 * The tunnel for a command that becomes ssh/scp: portlessd (or, as root
 * without one, a private client role) holds the session as long as this
 * process lives (CTL_UP_FOLLOW_PID), across the exec.
 */
static int tunnel_for_exec(const char *sock_opt, const char *sr, const char *dev, const char *user,
			   struct ctl_client *cc, struct ctl_ready *ready)
{
	char path[PDCONF_PATH_MAX];

	snprintf(path, sizeof(path), "%s", socket_path(sock_opt));
	if (connect_daemon_or_private(cc, path, sr) < 0)
		return -1;
	return bring_up(cc, dev, user, sr, CTL_UP_DETACH | CTL_UP_FOLLOW_PID, ready);
}

struct ssh_opts {
	char kh[CTL_PATH_BUF + 32], alias[HANDLE_BUF + 16], bind[CTL_IP_BUF + 16];
};

/*
 * Fill @p argv with the @p prog (ssh, scp) command for a ready session; returns argc.
 * The connection leaves from the session's own address (BindAddress): the
 * device's key line admits it from there only, and the client's interface
 * sends what leaves from it through this session (several sessions to one
 * device share the route).
 */
static int ssh_argv(const char *prog, const struct ctl_ready *r, char **argv, size_t cap,
		    struct ssh_opts *o)
{
	int n = 0;

	snprintf(o->kh, sizeof(o->kh), "UserKnownHostsFile=%s", r->known_hosts_path);
	snprintf(o->alias, sizeof(o->alias), "HostKeyAlias=%s", r->host_alias);
	snprintf(o->bind, sizeof(o->bind), "BindAddress=%s", r->client_ip);
	const char *fixed[] = {prog,
			       "-i",
			       r->key_path,
			       "-o",
			       "IdentitiesOnly=yes",
			       "-o",
			       o->alias,
			       "-o",
			       o->bind,
			       "-o",
			       "StrictHostKeyChecking=yes",
			       "-o",
			       o->kh,
			       "-o",
			       "GlobalKnownHostsFile=/dev/null",
			       "-o",
			       "BatchMode=yes"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && (size_t)n < cap - 1; i++)
		argv[n++] = (char *)fixed[i];
	return n;
}

int cmd_ssh(int argc, char **argv)
{
	static const char *const names[] = {"--socket", "--sr", NULL};
	const char *vals[2] = {NULL, NULL};
	char user[CTL_USER_BUF], dev[HANDLE_BUF];
	char dest[CTL_USER_BUF + CTL_IP_BUF + 2];
	struct ssh_opts so;
	struct ctl_client cc;
	struct ctl_ready ready;
	char **av;
	int n, extra_at = 0;

	/* Options only before the target; everything after "--" goes to ssh. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			extra_at = i;
			break;
		}
	n = cli_take_opts(extra_at ? extra_at : argc, argv, names, vals, NULL, NULL);
	if (n != 2 || parse_target(argv[1], user, sizeof(user), dev, sizeof(dev)) < 0) {
		fprintf(stderr, "usage: portless ssh [user@]@device [--socket PATH] [--sr @relay] "
				"[-- ssh args...]\n");
		return CLI_USAGE;
	}
	if (tunnel_for_exec(vals[0], vals[1], dev, user, &cc, &ready) < 0)
		return CLI_FAIL;
	/* The session lives as long as this process, which becomes ssh. */
	int extra = extra_at ? argc - extra_at - 1 : 0;
	av = calloc((size_t)extra + 32, sizeof(*av));
	if (!av)
		return CLI_FAIL;
	n = ssh_argv("ssh", &ready, av, 28, &so);
	snprintf(dest, sizeof(dest), "%s@%s", ready.user, ready.device_ip);
	av[n++] = dest;
	for (int i = 0; i < extra; i++)
		av[n++] = argv[extra_at + 1 + i];
	av[n] = NULL;
	ctl_client_close(&cc);
	fflush(NULL);
	execvp("ssh", av);
	fprintf(stderr, "portless: cannot run ssh: %s\n", strerror(errno));
	return CLI_FAIL;
}

/*
 * scp's remote operand "[user@]@device:path": the target before the first
 * ':' when it parses as one (a local file named like that: write ./@x:y).
 */
static bool remote_operand(const char *a, char *user, size_t ucap, char *dev, size_t dcap)
{
	const char *colon = strchr(a, ':');
	char t[CTL_USER_BUF + HANDLE_BUF + 2];

	if (!colon || a[0] == '-' || (size_t)(colon - a) >= sizeof(t))
		return false;
	memcpy(t, a, (size_t)(colon - a));
	t[colon - a] = '\0';
	return strchr(t, '@') && parse_target(t, user, ucap, dev, dcap) == 0;
}

/*
 * portless scp [--socket PATH] [--sr @relay] [scp options] SRC... DST: like
 * scp, with remote operands written [user@]@device:path (one device). The
 * tunnel comes up as for `portless ssh`, then the system's scp runs with the
 * session's key and pinned host key, the operands rewritten to
 * user@<device virtual IP>:path.
 */
int cmd_scp(int argc, char **argv)
{
	const char *vals[2] = {NULL, NULL};
	struct ssh_opts so;
	char user[CTL_USER_BUF] = "", dev[HANDLE_BUF] = "", u[CTL_USER_BUF], d[HANDLE_BUF];
	struct ctl_client cc;
	struct ctl_ready ready;
	char **av, **rewritten;
	int first = 1, n, nremote = 0;

	/* our own options only at the front; the rest is scp's */
	while (first + 1 < argc &&
	       (!strcmp(argv[first], "--socket") || !strcmp(argv[first], "--sr"))) {
		vals[!strcmp(argv[first], "--sr")] = argv[first + 1];
		first += 2;
	}
	for (int i = first; i < argc; i++) {
		if (!remote_operand(argv[i], u, sizeof(u), d, sizeof(d)))
			continue;
		if (nremote++ && (strcmp(u, user) || strcmp(d, dev))) {
			fprintf(stderr, "portless scp: one device per copy (%s and %s@%s)\n",
				argv[i], user, dev);
			return CLI_USAGE;
		}
		strcpy(user, u);
		strcpy(dev, d);
	}
	if (!nremote || argc - first < 2) {
		fprintf(stderr, "usage: portless scp [--socket PATH] [--sr @relay] [scp options] "
				"SRC... DST  (remote: [user@]@device:path)\n");
		return CLI_USAGE;
	}
	if (tunnel_for_exec(vals[0], vals[1], dev, user, &cc, &ready) < 0)
		return CLI_FAIL;
	av = calloc((size_t)argc + 32, sizeof(*av));
	rewritten = calloc((size_t)argc, sizeof(*rewritten));
	if (!av || !rewritten)
		return CLI_FAIL;
	n = ssh_argv("scp", &ready, av, 28, &so);
	for (int i = first; i < argc; i++) {
		if (remote_operand(argv[i], u, sizeof(u), d, sizeof(d))) {
			const char *rest = strchr(argv[i], ':');
			size_t len =
			    strlen(ready.user) + strlen(ready.device_ip) + strlen(rest) + 2;

			if (!(rewritten[i] = malloc(len)))
				return CLI_FAIL;
			snprintf(rewritten[i], len, "%s@%s%s", ready.user, ready.device_ip, rest);
			av[n++] = rewritten[i];
		} else {
			av[n++] = argv[i];
		}
	}
	av[n] = NULL;
	ctl_client_close(&cc);
	fflush(NULL);
	execvp("scp", av); /* the session lives as long as this process, which becomes scp */
	fprintf(stderr, "portless: cannot run scp: %s\n", strerror(errno));
	return CLI_FAIL;
}

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

int cmd_up(int argc, char **argv)
{
	static const char *const names[] = {"--socket", NULL};
	static const char *const flags[] = {"--detach", NULL};
	const char *vals[1] = {NULL};
	bool detach[1] = {false};
	char user[CTL_USER_BUF], dev[HANDLE_BUF];
	struct ctl_client cc;
	struct ctl_ready r;
	struct ctl_msg m;

	argc = cli_take_opts(argc, argv, names, vals, flags, detach);
	if (argc != 2 || parse_target(argv[1], user, sizeof(user), dev, sizeof(dev)) < 0) {
		fprintf(stderr, "usage: portless up [user@]@device [--detach] [--socket PATH]\n");
		return CLI_USAGE;
	}
	if (connect_daemon(&cc, socket_path(vals[0])) < 0)
		return CLI_FAIL;
	if (bring_up(&cc, dev, user, NULL, detach[0] ? CTL_UP_DETACH : 0, &r) < 0)
		return CLI_FAIL;
	printf("ssh -i %s -o IdentitiesOnly=yes -o HostKeyAlias=%s -o StrictHostKeyChecking=yes "
	       "-o UserKnownHostsFile=%s -b %s %s@%s\n",
	       r.key_path, r.host_alias, r.known_hosts_path, r.client_ip, r.user, r.device_ip);
	if (r.device_ip6[0]) /* stdout stays one command a script can run */
		fprintf(
		    stderr,
		    "portless: over IPv6: ssh -i %s -o IdentitiesOnly=yes -o HostKeyAlias=%s -o "
		    "StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -b %s %s@%s\n",
		    r.key_path, r.host_alias, r.known_hosts_path, r.client_ip6, r.user,
		    r.device_ip6);
	fflush(stdout);
	if (detach[0]) {
		ctl_client_close(&cc);
		return CLI_OK;
	}
	fprintf(stderr, "portless: holding the tunnel; Ctrl-C or 'portless down %s' ends it\n",
		r.device);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	while (!stop) {
		int rc = ctl_client_recv(&cc, &m, 500);

		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0 || m.type == CTL_ENDED) {
			fprintf(stderr, "portless: session ended: %s\n",
				rc < 0 ? "portlessd went away" : m.ended.text);
			ctl_client_close(&cc);
			return CLI_OK;
		}
	}
	ctl_client_close(&cc); /* the daemon ends the session with the connection */
	fprintf(stderr, "portless: tunnel closed\n");
	return CLI_OK;
}

int cmd_down(int argc, char **argv)
{
	static const char *const names[] = {"--socket", NULL};
	const char *vals[1] = {NULL};
	struct ctl_client cc;
	struct ctl_msg m = {.type = CTL_DOWN};

	argc = cli_take_opts(argc, argv, names, vals, NULL, NULL);
	if (argc != 2 || strlen(argv[1]) >= sizeof(m.down.target)) {
		fprintf(stderr, "usage: portless down @device|SESSION-ID [--socket PATH]\n");
		return CLI_USAGE;
	}
	snprintf(m.down.target, sizeof(m.down.target), "%s", argv[1]);
	if (connect_daemon(&cc, socket_path(vals[0])) < 0)
		return CLI_FAIL;
	if (ctl_client_send(&cc, &m) < 0 || ctl_client_recv(&cc, &m, 10000) < 0 ||
	    m.type != CTL_DOWN_OK) {
		fprintf(stderr, "portless: no answer from portlessd\n");
		return CLI_FAIL;
	}
	printf("closed %u session(s)\n", m.count);
	ctl_client_close(&cc);
	return m.count ? CLI_OK : CLI_FAIL;
}

static const char *human(uint64_t b, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static const char *via(const struct ctl_row *r)
{
	static const char *const tr[] = {"-", "UDP", "TCP"};

	return r->state == CTL_STATE_UP && r->transport <= 2 ? tr[r->transport] : "setup";
}

static void row_text(const struct ctl_row *r)
{
	char in[32], out[32];

	printf("%02x%02x%02x%02x %-6s %-20s %-10s %-15s %-15s %-5s %10s %10s %5us %7llu %s\n",
	       r->sid[0], r->sid[1], r->sid[2], r->sid[3],
	       r->role == CTL_ROLE_DEVICE ? "device" : "client", r->peer, r->user, r->device_ip,
	       r->client_ip, via(r), human(r->bytes_in, in, sizeof(in)),
	       human(r->bytes_out, out, sizeof(out)), r->age, (unsigned long long)r->dropped,
	       r->relay[0] ? r->relay : "-");
}

/* One JSON object (every string field is of a restricted alphabet: handles, users, IPs). */
static void row_json(const struct ctl_row *r, bool first)
{
	char sid[33];

	for (int i = 0; i < CTL_SID_LEN; i++)
		snprintf(sid + 2 * i, 3, "%02x", r->sid[i]);
	printf("%s{\"session\":\"%s\",\"role\":\"%s\",\"peer\":\"%s\",\"user\":\"%s\","
	       "\"device_ip\":\"%s\",\"client_ip\":\"%s\",\"via\":\"%s\",\"bytes_in\":%llu,"
	       "\"bytes_out\":%llu,\"age_s\":%u,\"dropped\":%llu,\"relay\":\"%s\"}",
	       first ? "" : ",", sid, r->role == CTL_ROLE_DEVICE ? "device" : "client", r->peer,
	       r->user, r->device_ip, r->client_ip, via(r), (unsigned long long)r->bytes_in,
	       (unsigned long long)r->bytes_out, r->age, (unsigned long long)r->dropped, r->relay);
}

int cmd_status(int argc, char **argv)
{
	static const char *const names[] = {"--socket", NULL};
	static const char *const flags[] = {"--json", NULL};
	const char *vals[1] = {NULL};
	bool json[1] = {false};
	struct ctl_client cc;
	struct ctl_msg m = {.type = CTL_STATUS};
	int rows = 0;

	argc = cli_take_opts(argc, argv, names, vals, flags, json);
	if (argc != 1) {
		fprintf(stderr, "usage: portless status [--json] [--socket PATH]\n");
		return CLI_USAGE;
	}
	if (connect_daemon(&cc, socket_path(vals[0])) < 0)
		return CLI_FAIL;
	if (ctl_client_send(&cc, &m) < 0) {
		fprintf(stderr, "portless: cannot talk to portlessd\n");
		return CLI_FAIL;
	}
	if (json[0])
		printf("[");
	else
		printf("%-8s %-6s %-20s %-10s %-15s %-15s %-5s %10s %10s %6s %7s %s\n", "SESSION",
		       "ROLE", "PEER", "USER", "DEVICE-IP", "CLIENT-IP", "VIA", "IN", "OUT", "AGE",
		       "DROPPED", "RELAY");
	while (ctl_client_recv(&cc, &m, 10000) == 0 && m.type == CTL_STATUS_ROW) {
		if (json[0])
			row_json(&m.row, rows == 0);
		else
			row_text(&m.row);
		rows++;
	}
	if (json[0])
		printf("]\n");
	ctl_client_close(&cc);
	if (m.type != CTL_STATUS_END) {
		fprintf(stderr, "portless: incomplete answer from portlessd\n");
		return CLI_FAIL;
	}
	return CLI_OK;
}
