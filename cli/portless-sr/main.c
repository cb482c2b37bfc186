/* SPDX-License-Identifier: MIT */
/*
 * portless-sr: the socket rendezvous. An identity like any device: it keeps
 * one outbound monitor connection to its home, answers MSG_SR_REQUEST
 * notifications with a MSG_SR_TICKET sealed to the requester, and relays
 * sealed session packets between the two sides (sr/relay.c). It opens no
 * port to the control plane.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "cliutil.h"
#include "conn.h"
#include "cp_client.h"
#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "privdrop.h"
#include "relay.h"
#include "ticket.h"

enum { MAX_ALLOW = 64 };

struct srd {
	struct ev_loop *loop;
	struct relay *relay;
	struct cp_client *cp;
	struct cp_client_cfg cfg;
	char allow[MAX_ALLOW][HANDLE_BUF];
	int nallow; /* 0: open to everyone */
	unsigned ticket_ttl;
	const char *user; /* --user (NULL: default) */
	bool no_seccomp;
	ev_signal sigint, sigterm, sigusr1;
};

#define USAGE_TEXT                                                                                 \
	"usage: portless-sr --keys DIR --tcp ADDR:PORT --udp ADDR:PORT --advertise HOST\n"         \
	"       [--advertise-tcp-port N] [--advertise-udp-port N] [--allow @a,@b]\n"               \
	"       [--ticket-ttl S] [--unpaired-timeout S] [--idle-timeout S]\n"                      \
	"       [--max-sessions N] [--max-per-identity N] [--log-level LEVEL]\n"                   \
	"       [--user NAME] [--no-seccomp]\n"                                                    \
	"       portless-sr --help | --version\n"

static const char usage_text[] = USAGE_TEXT;

static const char help_text[] = USAGE_TEXT
    "\n"
    "The socket rendezvous: answers ticket requests from its home and relays\n"
    "sealed session packets. Enroll it first (portless enroll --keys DIR).\n"
    "  --keys DIR               key directory with identity.key and cp.conf\n"
    "  --tcp/--udp ADDR:PORT    bind addresses (numeric): the advertised address (a UDP\n"
    "                           reply leaves from the bound one), port 7444 by custom\n"
    "  --advertise ADDR         the address put into tickets (numeric)\n"
    "  --advertise-tcp-port N, --advertise-udp-port N  ports put into tickets\n"
    "  --allow @a,@b            requesters that may get tickets (default: all)\n"
    "  --ticket-ttl S (30), --unpaired-timeout S (30), --idle-timeout S (300)\n"
    "  --max-sessions N (10000), --max-per-identity N (64)\n"
    "  --log-level LEVEL        error, warn, info (default) or debug\n"
    "  --user NAME              started as root: run as NAME (default portless, else nobody)\n"
    "  --no-seccomp             no system-call filter (debugging)\n"
    "More: man portless-sr(8).\n";

static bool allowed(const struct srd *d, const char *who)
{
	if (d->nallow == 0)
		return true;
	for (int i = 0; i < d->nallow; i++)
		if (!strcmp(d->allow[i], who))
			return true;
	return false;
}

static void sent_cb(void *arg, int err, const char *msg)
{
	if (err)
		log_msg(PL_LOG_WARN, "ticket answer not delivered: %s", msg);
}

static void answer(struct srd *d, const char *to, struct sr_ticket *t)
{
	uint8_t buf[SR_TICKET_MAX];
	size_t n = 0;

	if (sr_ticket_encode(t, buf, sizeof(buf), &n) < 0 ||
	    cp_client_notify(d->cp, to, MSG_SR_TICKET, buf, n, d->ticket_ttl + 5, sent_cb, NULL) <
		0)
		log_msg(PL_LOG_WARN, "cannot answer %s", to);
	sodium_memzero(buf, sizeof(buf));
	sr_ticket_wipe(t);
}

static void refuse(struct srd *d, const struct envelope *env, uint8_t status, const char *why)
{
	struct sr_ticket t = {.status = status};

	memcpy(t.request_id, env->id, sizeof(t.request_id));
	snprintf(t.reason, sizeof(t.reason), "%s", why);
	log_msg(PL_LOG_INFO, "ticket for %s refused: %s", env->from, why);
	answer(d, env->from, &t);
}

static void on_request(struct srd *d, const struct envelope *env)
{
	struct sr_request rq;
	struct sr_ticket t;
	int r;

	if (!sr_request_decode(env->payload, env->payload_len, &rq))
		return refuse(d, env, SR_TK_BAD, "malformed request");
	if (!allowed(d, env->from))
		return refuse(d, env, SR_TK_DENIED, "not allowed on this relay");
	r = relay_issue(d->relay, env->from, rq.peer, &t);
	if (r == -EUSERS || r == -EDQUOT)
		return refuse(d, env, SR_TK_FULL,
			      r == -EUSERS ? "relay full" : "too many sessions for this identity");
	if (r < 0)
		return refuse(d, env, SR_TK_INTERNAL, "internal error");
	memcpy(t.request_id, env->id, sizeof(t.request_id));
	log_msg(PL_LOG_DEBUG, "ticket issued to %s (peer %s)", env->from,
		rq.peer[0] ? rq.peer : "?");
	answer(d, env->from, &t);
}

static void on_notification(void *arg, const struct envelope *env)
{
	struct srd *d = arg;

	if (env->type == MSG_SR_REQUEST)
		on_request(d, env);
	else
		log_msg(PL_LOG_DEBUG, "ignoring notification type %u from %s", env->type,
			env->from);
}

static void on_state(void *arg, bool up, int err, const char *msg)
{
	if (up)
		log_msg(PL_LOG_INFO, "connected to the home server");
	else
		log_msg(PL_LOG_DEBUG, "home server connection down: %s", msg ? msg : "?");
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_msg(PL_LOG_INFO, "signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void stats_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct srd *d = container_of(w, struct srd, sigusr1);
	struct relay_stats st;

	relay_get_stats(d->relay, &st);
	log_msg(PL_LOG_INFO,
		"stats: issued=%llu paired=%llu active=%llu ended=%llu bytes=%llu packets=%llu "
		"drop_unknown=%llu drop_congested=%llu auth_fail=%llu spliced=%llu",
		(unsigned long long)st.issued, (unsigned long long)st.paired,
		(unsigned long long)st.active, (unsigned long long)st.ended,
		(unsigned long long)st.bytes, (unsigned long long)st.packets,
		(unsigned long long)st.drop_unknown, (unsigned long long)st.drop_congested,
		(unsigned long long)st.auth_fail, (unsigned long long)st.spliced);
}

static int parse_allow(struct srd *d, const char *s)
{
	char buf[MAX_ALLOW * HANDLE_BUF], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!handle_valid(tok) || d->nallow >= MAX_ALLOW) {
			fprintf(stderr, "error: --allow: bad or too many handles ('%s')\n", tok);
			return -1;
		}
		strcpy(d->allow[d->nallow++], tok);
	}
	return d->nallow ? 0 : -1;
}

static int parse_uint(const char *s, const char *name, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi) {
		fprintf(stderr, "error: %s must be %u..%u\n", name, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

enum {
	O_KEYS,
	O_TCP,
	O_UDP,
	O_ADV,
	O_ADV_TCP,
	O_ADV_UDP,
	O_ALLOW,
	O_TTL,
	O_UNPAIRED,
	O_IDLE,
	O_MAX,
	O_PER_ID,
	O_LOG,
	O_USER,
	O_N
};

static int parse_limits(const char **v, struct relay_cfg *rc)
{
	unsigned x;

	if (v[O_TTL] && parse_uint(v[O_TTL], "--ticket-ttl", 1, 3600, &rc->ticket_ttl) < 0)
		return -1;
	if (v[O_UNPAIRED] &&
	    parse_uint(v[O_UNPAIRED], "--unpaired-timeout", 1, 3600, &rc->unpaired_timeout) < 0)
		return -1;
	if (v[O_IDLE] && parse_uint(v[O_IDLE], "--idle-timeout", 1, 86400, &rc->idle_timeout) < 0)
		return -1;
	if (v[O_MAX] && parse_uint(v[O_MAX], "--max-sessions", 1, 1000000, &rc->max_sessions) < 0)
		return -1;
	if (v[O_PER_ID] &&
	    parse_uint(v[O_PER_ID], "--max-per-identity", 1, 1000000, &rc->max_per_identity) < 0)
		return -1;
	if (v[O_ADV_TCP]) {
		if (parse_uint(v[O_ADV_TCP], "--advertise-tcp-port", 1, 65535, &x) < 0)
			return -1;
		rc->adv_tcp_port = (uint16_t)x;
	}
	if (v[O_ADV_UDP]) {
		if (parse_uint(v[O_ADV_UDP], "--advertise-udp-port", 1, 65535, &x) < 0)
			return -1;
		rc->adv_udp_port = (uint16_t)x;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct srd *d, struct relay_cfg *rc, const char **keys)
{
	static const char *const names[] = {"--keys",
					    "--tcp",
					    "--udp",
					    "--advertise",
					    "--advertise-tcp-port",
					    "--advertise-udp-port",
					    "--allow",
					    "--ticket-ttl",
					    "--unpaired-timeout",
					    "--idle-timeout",
					    "--max-sessions",
					    "--max-per-identity",
					    "--log-level",
					    "--user",
					    NULL};
	static const char *const flags[] = {"--help", "--no-seccomp", NULL};
	const char *v[O_N] = {0};
	bool fl[2] = {false, false}; /* --help, --no-seccomp */

	if (cli_take_opts(argc - 1, argv + 1, names, v, flags, fl) != 0 || fl[0] || !v[O_TCP] ||
	    !v[O_UDP] || !v[O_ADV]) {
		fputs(usage_text, fl[0] ? stdout : stderr);
		return fl[0] ? 1 : -1;
	}
	relay_cfg_default(rc);
	*keys = v[O_KEYS];
	if (net_parse_hostport(v[O_TCP], &rc->tcp_addr, &rc->tcp_len) < 0 ||
	    net_parse_hostport(v[O_UDP], &rc->udp_addr, &rc->udp_len) < 0) {
		fprintf(stderr, "error: --tcp/--udp need a numeric ADDR:PORT\n");
		return -1;
	}
	if (strlen(v[O_ADV]) > SR_HOST_MAX || !*v[O_ADV] || !sr_host_numeric(v[O_ADV])) {
		fprintf(stderr,
			"error: --advertise %s: a numeric IPv4 or IPv6 address (endpoints "
			"refuse host names in tickets)\n",
			v[O_ADV]);
		return -1;
	}
	strcpy(rc->host, v[O_ADV]);
	if ((v[O_ALLOW] && parse_allow(d, v[O_ALLOW]) < 0) || parse_limits(v, rc) < 0)
		return -1;
	if (v[O_LOG]) {
		int lvl = log_level_parse(v[O_LOG]);

		if (lvl < 0) {
			fprintf(stderr, "error: unknown --log-level\n");
			return -1;
		}
		log_set_level(lvl);
	}
	d->ticket_ttl = rc->ticket_ttl;
	d->user = v[O_USER];
	d->no_seccomp = fl[1];
	return 0;
}

static int start_cp(struct srd *d, const char *keys)
{
	char dir[4096], err[256];

	if (cli_keys_dir(keys, dir, sizeof(dir)) < 0)
		return -1;
	if (cp_client_cfg_load(dir, &d->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s (enroll this relay with 'portless enroll' first)\n",
			err);
		return -1;
	}
	d->cfg.on_notification = on_notification;
	d->cfg.on_state = on_state;
	d->cfg.arg = d;
	d->cp = cp_client_new(d->loop, &d->cfg);
	if (!d->cp || cp_client_monitor(d->cp) < 0) {
		fprintf(stderr, "error: cannot start the control-plane client\n");
		return -1;
	}
	return 0;
}

static void signals(struct srd *d)
{
	ev_signal_init(&d->sigint, stop_cb, SIGINT);
	ev_signal_init(&d->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&d->sigusr1, stats_cb, SIGUSR1);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigusr1);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	static struct srd d;
	struct relay_cfg rc;
	const char *keys = NULL;
	int r, e = 0;

	if (sodium_init() < 0 || log_init("portless-sr") < 0)
		return CLI_FAIL;
	if (cli_std_opts(argc, argv, "portless-sr", help_text))
		return CLI_OK;
	r = parse_args(argc, argv, &d, &rc, &keys);
	if (r)
		return r > 0 ? CLI_OK : CLI_USAGE;
	d.loop = ev_default_loop(0);
	d.relay = relay_new(d.loop, &rc, &e);
	if (!d.relay) {
		log_msg_errno(PL_LOG_ERR, -e, "cannot start the relay");
		return CLI_FAIL;
	}
	if (start_cp(&d, keys) < 0) {
		relay_free(d.relay);
		return CLI_FAIL;
	}
	signals(&d);
	if (privdrop_user(d.user, (const char *const[]){d.cfg.keydir, NULL}) < 0 ||
	    (!d.no_seccomp && privdrop_seccomp(PRIVDROP_SR) < 0)) {
		relay_free(d.relay);
		cp_client_free(d.cp);
		cp_client_cfg_release(&d.cfg);
		return CLI_FAIL;
	}
	log_msg(PL_LOG_INFO, "relay %s up: tcp port %u, udp port %u, advertised as %s; %s",
		d.cfg.id->pub.handle, relay_tcp_port(d.relay), relay_udp_port(d.relay), rc.host,
		d.nallow ? "restricted by --allow" : "open to every identity");
	cli_notify_ready("relaying");
	ev_run(d.loop, 0);
	relay_free(d.relay);
	cp_client_free(d.cp);
	cp_client_cfg_release(&d.cfg);
	return CLI_OK;
}
