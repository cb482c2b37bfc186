/* SPDX-License-Identifier: MIT */
#include "daemon.h"

#include <errno.h>
#include <libgen.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "clirole.h"
#include "cliutil.h"
#include "ctl.h"
#include "devrole.h"
#include "ep.h"
#include "knownhosts.h"
#include "log.h"
#include "pdconf.h"
#include "privdrop.h"
#include "sshkey.h"

enum { DAEMON_MAX_ROWS = 256 };

/* One UP request from a local user, and the session it holds. */
struct creq {
	struct daemon *dm;
	struct creq *next;
	struct ctl_peer *peer; /* NULL once the requester hung up (detached sessions) */
	struct csess *s;       /* NULL once the session is gone */
	uid_t uid;
	gid_t gid;
	uint32_t flags;
	int pidfd;
	ev_io pid_w;
	bool ready;
	char device[HANDLE_BUF];
	char sidhex[33];
	char key_name[96], kh_name[96];
};

struct daemon {
	struct ev_loop *loop;
	const struct pdconf *conf;
	bool oneshot; /* exit when the first session is over */
	bool had_session;
	struct ep ep;
	struct clirole *cli; /* client role, or NULL */
	struct devrole *dev; /* device role, or NULL */
	struct ctl_server ctl;
	bool ctl_open;
	struct ctl_server keys; /* [device] authorized-keys = command: sshd's questions */
	bool keys_open;
	uid_t keys_uid;
	char rundir[PDCONF_PATH_MAX];
	struct creq *reqs;
	ev_signal sigterm_w, sigint_w;
	bool notified_ready;
};

static void creq_free(struct creq *q)
{
	struct daemon *dm = q->dm;

	if (q->pidfd >= 0) {
		ev_io_stop(dm->loop, &q->pid_w);
		close(q->pidfd);
	}
	if (q->key_name[0])
		ctl_remove_user_file(q->uid, dm->rundir, q->key_name);
	if (q->kh_name[0])
		ctl_remove_user_file(q->uid, dm->rundir, q->kh_name);
	if (q->peer)
		q->peer->user = NULL;
	for (struct creq **pp = &dm->reqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	free(q);
	if (dm->oneshot && dm->had_session && !dm->reqs)
		ev_break(dm->loop, EVBREAK_ALL);
}

static void send_text(struct ctl_peer *p, int type, int hop, const char *text)
{
	struct ctl_msg m = {.type = (uint8_t)type};

	m.progress.hop = (uint8_t)hop;
	snprintf(m.progress.text, sizeof(m.progress.text), "%s", text);
	if (ctl_peer_send(p, &m) < 0)
		log_msg(PL_LOG_DEBUG, "control socket: reply dropped");
}

static void q_progress(void *arg, int hop, const char *text)
{
	struct creq *q = arg;

	if (q->peer)
		send_text(q->peer, CTL_PROGRESS, hop, text);
}

/* The ephemeral SSH key and a known_hosts file, owned by the requesting user, 0600. */
static int write_user_files(struct creq *q, const struct clirole_ready *r, struct ctl_ready *m)
{
	struct sshkey_pub keys[KNOWNHOSTS_MAX_KEYS];
	size_t n = 0;
	const char *l = r->hostkeys;
	int rc;

	while (*l && n < KNOWNHOSTS_MAX_KEYS) {
		char line[SSHKEY_LINE_BUF];
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len >= sizeof(line))
			return -EINVAL;
		memcpy(line, l, len);
		line[len] = '\0';
		if (sshkey_pub_parse(line, &keys[n]) == 0)
			n++;
		l += len + (nl ? 1 : 0);
	}
	snprintf(q->key_name, sizeof(q->key_name), "%s-%.16s.key", r->device + 1, q->sidhex);
	rc = ctl_write_user_file(q->uid, q->gid, q->dm->rundir, q->key_name, r->sshkey,
				 strlen(r->sshkey), m->key_path, sizeof(m->key_path));
	if (rc < 0) {
		q->key_name[0] = '\0';
		return rc;
	}
	snprintf(q->kh_name, sizeof(q->kh_name), "%s-%.16s.known_hosts", r->device + 1, q->sidhex);
	rc = knownhosts_write_user(q->uid, q->gid, q->dm->rundir, q->kh_name, r->device, keys, n,
				   m->known_hosts_path, sizeof(m->known_hosts_path));
	if (rc < 0)
		q->kh_name[0] = '\0';
	return rc;
}

static void pid_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct creq *q = container_of(w, struct creq, pid_w);

	log_msg(PL_LOG_INFO, "session %.8s: the requesting process exited; ending it", q->sidhex);
	if (q->s)
		clirole_down(q->s);
	q->s = NULL;
	creq_free(q);
}

static int follow_pid(struct creq *q, pid_t pid)
{
	q->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (q->pidfd < 0)
		return -errno;
	ev_io_init(&q->pid_w, pid_cb, q->pidfd, EV_READ);
	ev_io_start(q->dm->loop, &q->pid_w);
	return 0;
}

static void q_ready(void *arg, const struct clirole_ready *r)
{
	struct creq *q = arg;
	struct ctl_msg m = {.type = CTL_READY};
	int rc;

	q->ready = true;
	sodium_bin2hex(q->sidhex, sizeof(q->sidhex), r->sid, 16);
	if (!q->peer)
		return;
	memcpy(m.ready.sid, r->sid, CTL_SID_LEN);
	snprintf(m.ready.device, sizeof(m.ready.device), "%s", r->device);
	snprintf(m.ready.device_ip, sizeof(m.ready.device_ip), "%s", r->device_ip);
	snprintf(m.ready.client_ip, sizeof(m.ready.client_ip), "%s", r->client_ip);
	snprintf(m.ready.device_ip6, sizeof(m.ready.device_ip6), "%s", r->device_ip6);
	snprintf(m.ready.client_ip6, sizeof(m.ready.client_ip6), "%s", r->client_ip6);
	snprintf(m.ready.user, sizeof(m.ready.user), "%s", r->user);
	snprintf(m.ready.host_alias, sizeof(m.ready.host_alias), "%s", r->device);
	rc = write_user_files(q, r, &m.ready);
	if (rc < 0) {
		send_text(q->peer, CTL_ERROR, CTL_HOP_DAEMON,
			  "cannot write the session's key files");
		goto fail;
	}
	if ((q->flags & CTL_UP_FOLLOW_PID) && follow_pid(q, q->peer->pid) < 0) {
		send_text(q->peer, CTL_ERROR, CTL_HOP_DAEMON,
			  "cannot follow the requesting process");
		goto fail;
	}
	if (ctl_peer_send(q->peer, &m) < 0)
		goto fail;
	return;
fail:
	clirole_down(q->s);
	q->s = NULL;
	creq_free(q);
}

static void q_done(void *arg, int hop, const char *text)
{
	struct creq *q = arg;
	struct ctl_msg m = {.type = CTL_ENDED};

	q->s = NULL;
	if (q->peer && !q->ready) {
		send_text(q->peer, CTL_ERROR, hop, text);
	} else if (q->peer) {
		sodium_hex2bin(m.ended.sid, CTL_SID_LEN, q->sidhex, 32, NULL, NULL, NULL);
		m.ended.hop = (uint8_t)hop;
		snprintf(m.ended.text, sizeof(m.ended.text), "%s", text);
		if (ctl_peer_send(q->peer, &m) < 0)
			log_msg(PL_LOG_DEBUG, "control socket: ENDED dropped");
	}
	creq_free(q);
}

enum { DAEMON_MAX_GROUPS = 64 };

/*
 * What local user @p uid may ask for: [local] rules by login name and by
 * group (from the account database, never from the request). Fills
 * @p login; false with a sentence in @p why when refused.
 */
static bool authorised(const struct pdconf *conf, uid_t uid, const char *device, const char *user,
		       char *login, size_t lcap, char *why, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096], gbuf[DAEMON_MAX_GROUPS][PDCONF_USER_BUF];
	const char *groups[DAEMON_MAX_GROUPS];
	gid_t gids[DAEMON_MAX_GROUPS];
	int ng = DAEMON_MAX_GROUPS;
	size_t n = 0;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(why, cap, "uid %u has no account name", (unsigned)uid);
		return false;
	}
	snprintf(login, lcap, "%s", pw.pw_name);
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ng) < 0)
		ng = DAEMON_MAX_GROUPS; /* more than we look at: the first ones count */
	for (int i = 0; i < ng && n < DAEMON_MAX_GROUPS; i++) {
		struct group gr, *gres = NULL;
		char grbuf[4096];

		if (getgrgid_r(gids[i], &gr, grbuf, sizeof(grbuf), &gres) == 0 && gres &&
		    strlen(gr.gr_name) < PDCONF_USER_BUF) {
			snprintf(gbuf[n], sizeof(gbuf[n]), "%s", gr.gr_name);
			groups[n] = gbuf[n];
			n++;
		}
	}
	return pdconf_local_allowed(conf, login, groups, n, device, user[0] ? user : login, why,
				    cap);
}

static int handle_up(struct daemon *dm, struct ctl_peer *p, const struct ctl_up *up)
{
	static const struct clirole_cbs cbs_tmpl = {q_progress, q_ready, q_done, NULL};
	struct clirole_cbs cbs = cbs_tmpl;
	char user[CTL_USER_BUF], login[CTL_USER_BUF], why[CTL_TEXT_BUF];
	struct creq *q;

	if (!dm->cli) {
		send_text(p, CTL_ERROR, CTL_HOP_DAEMON, "the client role is not enabled");
		return 0;
	}
	if (p->user) {
		send_text(p, CTL_ERROR, CTL_HOP_DAEMON, "one session per connection");
		return 0;
	}
	if (!authorised(dm->conf, p->uid, up->device, up->user, login, sizeof(login), why,
			sizeof(why))) {
		log_msg(PL_LOG_WARN, "uid %u refused: %s", (unsigned)p->uid, why);
		send_text(p, CTL_ERROR, CTL_HOP_DAEMON, why);
		return 0;
	}
	snprintf(user, sizeof(user), "%s", up->user[0] ? up->user : login);
	q = calloc(1, sizeof(*q));
	if (!q)
		return 0;
	q->dm = dm;
	q->peer = p;
	q->uid = p->uid;
	q->gid = p->gid;
	q->flags = up->flags;
	q->pidfd = -1;
	snprintf(q->device, sizeof(q->device), "%s", up->device);
	cbs.arg = q;
	q->next = dm->reqs;
	dm->reqs = q;
	p->user = q;
	dm->had_session = true;
	log_msg(PL_LOG_INFO, "uid %u asks for %s as '%s'", (unsigned)p->uid, up->device, user);
	q->s = clirole_up(dm->cli, up->device, user, p->uid, up->relay, &cbs);
	if (!q->s) {
		send_text(p, CTL_ERROR, CTL_HOP_DAEMON,
			  up->relay[0]
			      ? "--sr names a relay this daemon's [client] sr does not list"
			      : "bad request (device handle or user name) or no relay "
				"configured");
		creq_free(q);
	}
	return 0;
}

static int handle_down(struct daemon *dm, struct ctl_peer *p, const struct ctl_down *d)
{
	struct ctl_msg m = {.type = CTL_DOWN_OK};
	struct creq *q, *next;

	for (q = dm->reqs; q; q = next) {
		next = q->next;
		if (strcmp(q->device, d->target) && strcmp(q->sidhex, d->target))
			continue;
		if (p->uid != 0 && p->uid != q->uid)
			continue; /* only root ends other users' sessions */
		if (q->s)
			clirole_down(q->s);
		q->s = NULL;
		if (q->peer && q->peer != p) {
			struct ctl_msg e = {.type = CTL_ENDED};

			e.ended.hop = CTL_HOP_NONE;
			sodium_hex2bin(e.ended.sid, CTL_SID_LEN, q->sidhex, 32, NULL, NULL, NULL);
			snprintf(e.ended.text, sizeof(e.ended.text), "ended by portless down");
			if (ctl_peer_send(q->peer, &e) < 0)
				log_msg(PL_LOG_DEBUG, "control socket: ENDED dropped");
		}
		creq_free(q);
		m.count++;
	}
	if (ctl_peer_send(p, &m) < 0)
		log_msg(PL_LOG_DEBUG, "control socket: DOWN_OK dropped");
	return 0;
}

static int handle_status(struct daemon *dm, struct ctl_peer *p)
{
	struct ctl_row *rows = calloc(DAEMON_MAX_ROWS, sizeof(*rows));
	struct ctl_msg m;
	size_t n = 0;

	if (!rows)
		return 0;
	/* a user sees their own sessions; root sees every one, the device's too */
	if (dm->cli)
		n += clirole_status_of(dm->cli, p->uid ? p->uid : (uid_t)-1, rows, DAEMON_MAX_ROWS);
	if (!p->uid && dm->ep.role[EP_ROLE_DEVICE].ops)
		n += dm->ep.role[EP_ROLE_DEVICE].ops->status(dm->ep.role[EP_ROLE_DEVICE].obj,
							     rows + n, DAEMON_MAX_ROWS - n);
	for (size_t i = 0; i < n; i++) {
		m.type = CTL_STATUS_ROW;
		m.row = rows[i];
		if (ctl_peer_send(p, &m) < 0)
			break;
	}
	m.type = CTL_STATUS_END;
	m.count = (uint16_t)n;
	if (ctl_peer_send(p, &m) < 0)
		log_msg(PL_LOG_DEBUG, "control socket: status dropped");
	free(rows);
	return 0;
}

static int on_request(struct ctl_peer *p, const struct ctl_msg *m)
{
	struct daemon *dm = p->srv->ctx;

	switch (m->type) {
	case CTL_UP:
		return handle_up(dm, p, &m->up);
	case CTL_DOWN:
		return handle_down(dm, p, &m->down);
	case CTL_STATUS:
		return handle_status(dm, p);
	}
	return 0;
}

/* The requester hung up: its session ends with it unless it asked to detach. */
static void on_close(struct ctl_peer *p)
{
	struct creq *q = p->user;

	if (!q)
		return;
	q->peer = NULL;
	p->user = NULL;
	if (q->flags & (CTL_UP_DETACH | CTL_UP_FOLLOW_PID))
		return;
	if (q->s)
		clirole_down(q->s);
	q->s = NULL;
	creq_free(q);
}

static const struct ctl_server_ops ctl_ops = {on_request, on_close};

static void send_line(void *arg, const char *line)
{
	struct ctl_msg m = {.type = CTL_KEY_LINE};

	snprintf(m.line, sizeof(m.line), "%s", line);
	if (ctl_peer_send(arg, &m) < 0)
		log_msg(PL_LOG_DEBUG, "keys socket: line dropped");
}

/* sshd's AuthorizedKeysCommand asks for a user's session lines: root or keys-user only. */
static int on_keys_request(struct ctl_peer *p, const struct ctl_msg *m)
{
	struct daemon *dm = p->srv->ctx;
	struct ctl_msg end = {.type = CTL_KEYS_END};

	if (m->type != CTL_KEYS || (p->uid != 0 && p->uid != dm->keys_uid) || !dm->dev) {
		log_msg(PL_LOG_WARN, "keys socket: uid %u refused", (unsigned)p->uid);
		ctl_peer_close(p);
		return -EPERM;
	}
	end.count = (uint16_t)devrole_key_lines(dm->dev, m->keys_user, send_line, p);
	log_msg(PL_LOG_DEBUG, "keys socket: %u line(s) for %s", end.count, m->keys_user);
	if (ctl_peer_send(p, &end) < 0)
		log_msg(PL_LOG_DEBUG, "keys socket: answer dropped");
	return 0;
}

static void on_keys_close(struct ctl_peer *p)
{
}

static const struct ctl_server_ops keys_ops = {on_keys_request, on_keys_close};

/* The socket sshd's AuthorizedKeysCommand (`portless authorized-keys %u`) reads. */
static int open_keys(struct daemon *dm)
{
	struct passwd pw, *res = NULL;
	char buf[4096], copy[PDCONF_PATH_MAX];
	int r;

	if (getpwnam_r(dm->conf->keys_user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		log_msg(PL_LOG_ERR, "[device] keys-user = %s: no such user", dm->conf->keys_user);
		return -ENOENT;
	}
	dm->keys_uid = pw.pw_uid;
	snprintf(copy, sizeof(copy), "%s", dm->conf->keys_socket);
	if (mkdir(dirname(copy), 0755) < 0 && errno != EEXIST)
		log_msg_errno(PL_LOG_WARN, errno, "%s", copy);
	r = ctl_server_open(&dm->keys, dm->loop, dm->conf->keys_socket, (gid_t)-1, &keys_ops, dm);
	if (r < 0) {
		log_msg(PL_LOG_ERR, "keys socket %s: %s", dm->conf->keys_socket, strerror(-r));
		return r;
	}
	dm->keys_open = true;
	log_msg(PL_LOG_INFO, "session keys for sshd on %s (AuthorizedKeysCommand)",
		dm->conf->keys_socket);
	return 0;
}

/* [client] group: the socket's group (0660), or (gid_t)-1 for none (0666). */
static int socket_gid(const struct pdconf *conf, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	*gid = (gid_t)-1;
	if (!conf->socket_group[0])
		return 0;
	if (getgrnam_r(conf->socket_group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		log_msg(PL_LOG_ERR, "[client] group = %s: no such group", conf->socket_group);
		return -ENOENT;
	}
	*gid = gr.gr_gid;
	return 0;
}

static int open_ctl(struct daemon *dm)
{
	char copy[PDCONF_PATH_MAX];
	gid_t gid;
	int r;

	snprintf(copy, sizeof(copy), "%s", dm->conf->socket_path);
	snprintf(dm->rundir, sizeof(dm->rundir), "%s", dirname(copy));
	if (mkdir(dm->rundir, 0755) < 0 && errno != EEXIST) {
		log_msg_errno(PL_LOG_ERR, errno, "%s", dm->rundir);
		return -errno;
	}
	r = socket_gid(dm->conf, &gid);
	if (r == 0)
		r = ctl_server_open(&dm->ctl, dm->loop, dm->conf->socket_path, gid, &ctl_ops, dm);
	if (r < 0) {
		log_msg(PL_LOG_ERR, "control socket %s: %s", dm->conf->socket_path, strerror(-r));
		return r;
	}
	dm->ctl_open = true;
	return 0;
}

/*
 * A device that writes into no home (sshd asks it for the keys) and holds no
 * client sessions needs root for nothing: it becomes the unprivileged user
 * with CAP_NET_ADMIN alone (TUN, addresses, routes), NO_NEW_PRIVS and a
 * seccomp filter. Its key directory (pins, replay cache) goes to that user;
 * identity.key was read already. Otherwise root keeps the four
 * capabilities it uses. PORTLESS_NO_SECCOMP=1 skips the filter (debugging).
 */
static int least_privilege(struct daemon *dm)
{
	const char *dirs[] = {dm->ep.cpcfg.keydir_buf[0] ? dm->ep.cpcfg.keydir_buf : NULL, NULL};
	const char *nosec = getenv("PORTLESS_NO_SECCOMP");

	if (!dm->dev || dm->cli || !dm->conf->ak_command || geteuid() != 0) {
		privdrop_keep_caps();
		return 0;
	}
	if (privdrop_user_net_admin(dm->conf->run_as[0] ? dm->conf->run_as : NULL, dirs) < 0)
		return -EPERM;
	if (geteuid() == 0) { /* the user can't reach the key directory: stayed root */
		privdrop_keep_caps();
		return 0;
	}
	if (nosec && !strcmp(nosec, "1"))
		return 0;
	return privdrop_seccomp(PRIVDROP_EP);
}

/* Ready = the control plane took us in and the roles are up (systemd Type=notify). */
static void on_cp_state(struct ep *ep, bool up)
{
	struct daemon *dm = container_of(ep, struct daemon, ep);

	if (!up || dm->notified_ready)
		return;
	dm->notified_ready = true;
	log_msg(PL_LOG_INFO, "ready");
	cli_notify_ready("connected to the control plane");
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_msg(PL_LOG_INFO, "signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void shutdown_all(struct daemon *dm)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	if (dm->ctl_open)
		ctl_server_close(&dm->ctl); /* peers' on_close ends their sessions */
	if (dm->keys_open)
		ctl_server_close(&dm->keys);
	while (dm->reqs) {
		if (dm->reqs->s)
			clirole_down(dm->reqs->s);
		dm->reqs->s = NULL;
		creq_free(dm->reqs);
	}
	clirole_free(dm->cli);
	devrole_free(dm->dev);
	dm->cli = NULL; /* the loop runs on below: no event may reach a freed role */
	dm->dev = NULL;
	/* Let the last notifications (session ends) leave before the connection closes. */
	for (int i = 0; i < 20 && dm->ep.cp_up; i++)
		ev_run(dm->loop, EVRUN_NOWAIT | EVRUN_ONCE), usleep(10000);
	ep_fini(&dm->ep);
}

int daemon_run(const char *config_path)
{
	struct pdconf *conf = calloc(1, sizeof(*conf));
	char err[PDCONF_ERR_BUF];
	int rc = 1;

	if (!conf)
		return 1;
	if (pdconf_load(conf, config_path, err, sizeof(err)) < 0)
		log_msg(PL_LOG_ERR, "%s", err);
	else
		rc = daemon_run_conf(conf, false);
	free(conf);
	return rc;
}

int daemon_run_conf(const struct pdconf *conf, bool oneshot)
{
	struct daemon dm;
	char err[PDCONF_ERR_BUF];
	int r, rc = 1;

	memset(&dm, 0, sizeof(dm));
	dm.conf = conf;
	dm.oneshot = oneshot;
	signal(SIGPIPE, SIG_IGN);
	dm.loop = EV_DEFAULT;
	r = ep_init(&dm.ep, dm.loop, dm.conf, err, sizeof(err));
	if (r < 0) {
		log_msg(PL_LOG_ERR, "%s", err);
		return 1;
	}
	dm.ep.on_cp_state = on_cp_state;
	if (dm.conf->device_enabled && devrole_new(&dm.ep, &dm.dev, err, sizeof(err)) < 0) {
		log_msg(PL_LOG_ERR, "device role: %s", err);
		goto out_ep;
	}
	if (dm.dev && dm.conf->ak_command && open_keys(&dm) < 0)
		goto out_ep;
	if (dm.conf->client_enabled && (clirole_new(&dm.ep, &dm.cli) < 0 || open_ctl(&dm) < 0))
		goto out_ep;
	ev_signal_init(&dm.sigterm_w, stop_cb, SIGTERM);
	ev_signal_init(&dm.sigint_w, stop_cb, SIGINT);
	ev_signal_start(dm.loop, &dm.sigterm_w);
	ev_signal_start(dm.loop, &dm.sigint_w);
	log_msg(PL_LOG_INFO, "portlessd %s as %s: device role %s, client role %s", PORTLESS_VERSION,
		ep_handle(&dm.ep), dm.dev ? "on" : "off", dm.cli ? "on" : "off");
	if (least_privilege(&dm) < 0)
		goto out_ep;
	ev_run(dm.loop, 0);
	rc = 0;
out_ep:
	shutdown_all(&dm);
	return rc;
}
