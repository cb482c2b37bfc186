/* SPDX-License-Identifier: MIT */
#include "ep.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netcfg.h"

const char *ep_handle(const struct ep *ep)
{
	return ep->cpcfg.id->pub.handle;
}

void ep_sid_hex(const uint8_t sid[16], char out[33])
{
	sodium_bin2hex(out, 33, sid, 16);
}

static void recheck_peer(void *arg, const char *handle);

static void on_state(void *arg, bool up, int err, const char *msg)
{
	struct ep *ep = arg;

	if (up != ep->cp_up) {
		if (up)
			log_msg(PL_LOG_INFO, "control plane: connected to %s as %s",
				ep->cpcfg.server, ep_handle(ep));
		else
			log_msg(PL_LOG_WARN, "control plane: disconnected (%s); reconnecting",
				msg ? msg : "?");
	}
	if (up && !ep->cp_up) /* a revocation while we were away is not pushed: look again */
		for (int i = 0; i < EP_ROLES; i++)
			if (ep->role[i].ops)
				ep->role[i].ops->peers(ep->role[i].obj, recheck_peer, ep);
	ep->cp_up = up;
	if (ep->on_cp_state)
		ep->on_cp_state(ep, up);
}

/* Every role sees every verified notification and takes the types that are its own. */
static void on_notification(void *arg, const struct envelope *env)
{
	struct ep *ep = arg;
	bool taken = false;

	for (int i = 0; i < EP_ROLES; i++)
		if (ep->role[i].ops && ep->role[i].ops->on_notification(ep->role[i].obj, env))
			taken = true;
	if (!taken)
		log_msg(PL_LOG_INFO, "notification type %u from %s ignored (no role takes it)",
			env->type, env->from);
}

/* Before anything of a pushed notification is fetched or cached: does a role take it? */
static bool sender_allowed(void *arg, const char *from, uint16_t type)
{
	struct ep *ep = arg;

	for (int i = 0; i < EP_ROLES; i++)
		if (ep->role[i].ops && ep->role[i].ops->accepts(ep->role[i].obj, from, type))
			return true;
	log_msg(PL_LOG_DEBUG, "notification type %u from %s: no role takes it", type, from);
	return false;
}

/* Pins only for identities a role's policy names or its user asked for. */
static int key_policy(void *arg, const char *handle, char fpr[ID_FPR_BUF], bool *have_fpr)
{
	struct ep *ep = arg;
	int r = -EPERM;

	*have_fpr = false;
	for (int i = 0; i < EP_ROLES && !*have_fpr; i++)
		if (ep->role[i].ops &&
		    ep->role[i].ops->wants_keys(ep->role[i].obj, handle, fpr, have_fpr) == 0)
			r = 0;
	return r;
}

static void on_revoked(void *arg, const char *handle)
{
	struct ep *ep = arg;

	log_msg(PL_LOG_WARN, "%s was revoked by its home: ending its sessions", handle);
	for (int i = 0; i < EP_ROLES; i++)
		if (ep->role[i].ops)
			ep->role[i].ops->on_revoked(ep->role[i].obj, handle);
}

struct recheck {
	struct ep *ep;
	char handle[HANDLE_BUF];
};

static void recheck_cb(void *arg, int err, const struct pubkeys *pk)
{
	struct recheck *rc = arg;

	if (err == CP_E_REVOKED || err == CP_E_KEY_CHANGED) {
		log_msg(PL_LOG_WARN, "%s: %s in known_identities: ending its sessions", rc->handle,
			cp_strerror(err));
		for (int i = 0; i < EP_ROLES; i++)
			if (rc->ep->role[i].ops)
				rc->ep->role[i].ops->on_revoked(rc->ep->role[i].obj, rc->handle);
	}
	free(rc);
}

static void recheck_peer(void *arg, const char *handle)
{
	struct ep *ep = arg;
	struct recheck *rc = calloc(1, sizeof(*rc));

	cp_client_forget(ep->cp, handle);
	if (!rc)
		return;
	rc->ep = ep;
	snprintf(rc->handle, sizeof(rc->handle), "%s", handle);
	if (cp_client_get_keys(ep->cp, handle, recheck_cb, rc) < 0)
		free(rc);
}

/*
 * known_identities changed (`portless revoke @bob`, a pin edited): every
 * cached key is looked at again, so a revoked identity is refused from now
 * on, and the sessions of one with running sessions end.
 */
static void on_pins(struct ev_loop *loop, ev_stat *w, int revents)
{
	struct ep *ep = container_of(w, struct ep, pins_w);
	const struct pdconf *conf = ep->conf;

	log_msg(PL_LOG_INFO, "known_identities changed: checking the peers again");
	for (size_t i = 0; i < conf->n_allow; i++)
		cp_client_forget(ep->cp, conf->allow[i].handle);
	for (int i = 0; i < EP_ROLES; i++)
		if (ep->role[i].ops)
			ep->role[i].ops->peers(ep->role[i].obj, recheck_peer, ep);
}

/* The netlink monitor: our interfaces vanishing, the underlay changing. */
static void on_netlink(struct nlmon *m, const struct nlmon_event *ev, void *arg)
{
	struct ep *ep = arg;

	if (ev->kind == NLMON_VANISHED)
		log_msg(PL_LOG_WARN, "interface %s (index %d) was deleted from outside", ev->ifname,
			ev->ifindex);
	else
		log_msg(PL_LOG_DEBUG, "underlay changed (%s%s%s): re-checking relay paths",
			ev->what & NLMON_WHAT_ADDR ? "address " : "",
			ev->what & NLMON_WHAT_ROUTE ? "route " : "",
			ev->what & NLMON_WHAT_RESYNC ? "resync" : "");
	for (int i = 0; i < EP_ROLES; i++) {
		if (!ep->role[i].ops)
			continue;
		if (ev->kind == NLMON_VANISHED)
			ep->role[i].ops->on_vanished(ep->role[i].obj, ev->ifindex);
		else
			ep->role[i].ops->on_underlay(ep->role[i].obj);
	}
}

void ep_set_role(struct ep *ep, int which, const struct ep_role_ops *ops, void *obj)
{
	ep->role[which].ops = ops;
	ep->role[which].obj = ops ? obj : NULL;
}

double ep_now(const struct ep *ep)
{
	return ep->sys->now(ep->loop);
}

int ep_notify(struct ep *ep, const char *to, uint16_t type, const uint8_t *payload, size_t len,
	      uint32_t ttl_s, cp_done_cb cb, void *arg)
{
	return ep->sys->notify(ep->cp, to, type, payload, len, ttl_s, cb, arg);
}

void ep_watch(struct ep *ep, const char *ifname)
{
	int r = ep->mon ? nlmon_watch(ep->mon, ifname) : 0;

	if (r < 0)
		log_msg_errno(PL_LOG_DEBUG, -r, "netlink monitor: not watching %s", ifname);
}

void ep_unwatch(struct ep *ep, const char *ifname)
{
	if (ep->mon)
		(void)nlmon_unwatch(ep->mon, ifname);
}

void ep_ifscript(struct ep *ep, const struct ifscript_env *env)
{
	const char *path = !strcmp(env->phase, "up") ? ep->conf->ifup : ep->conf->ifdown;
	char err[IFSCRIPT_ERR_MAX];
	int r;

	if (!path[0])
		return;
	r = ifscript_run(path, env, ep->conf->script_timeout * 1000u, err, sizeof(err));
	if (r < 0)
		log_msg(PL_LOG_ERR, "interface %s (%s, %s): %s", env->ifname, env->role, env->phase,
			err);
	else
		log_msg(PL_LOG_DEBUG, "interface %s: %s ran", env->ifname, path);
}

void ep_dp_limits(const struct ep *ep, struct dp_limits *l)
{
	dp_limits_default(l);
	l->rekey_after_seconds = ep->conf->rekey_after;
	l->rekey_after_packets = ep->conf->rekey_packets;
}

/* An A/B knob of the benchmarks: the variable set to "0". */
static bool env_off(const char *name)
{
	const char *v = getenv(name);

	return v && !strcmp(v, "0");
}

int ep_init_with(struct ep *ep, struct ev_loop *loop, const struct pdconf *conf,
		 const struct ep_sys *sys, const struct identity *id)
{
	bool merge = !env_off("PORTLESS_TUN_OFFLOAD") && !env_off("PORTLESS_TUN_MERGE");

	memset(ep, 0, sizeof(*ep));
	ep->loop = loop;
	ep->conf = conf;
	ep->sys = sys;
	ep->cpcfg.id = id;
	return dpath_init(&ep->dp, sys, loop, merge);
}

static void watch_pins(struct ep *ep)
{
	static char path[4096 + 32];

	if (!ep->cpcfg.keydir)
		return;
	snprintf(path, sizeof(path), "%s/known_identities", ep->cpcfg.keydir);
	ev_stat_init(&ep->pins_w, on_pins, path, 1.0);
	ev_stat_start(ep->loop, &ep->pins_w);
}

int ep_init(struct ep *ep, struct ev_loop *loop, const struct pdconf *conf, char *err,
	    size_t errlen)
{
	int r;

	r = ep_init_with(ep, loop, conf, &ep_sys_default, NULL);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	/* identity.key and cp.conf, both written by `portless enroll`. */
	r = cp_client_cfg_load(conf->keys_dir[0] ? conf->keys_dir : NULL, &ep->cpcfg, err, errlen);
	if (r < 0) {
		dpath_fini(&ep->dp);
		return r;
	}
	if (conf->have_cp_address)
		ep->cpcfg.server = conf->cp_address;
	if (conf->have_cp_key)
		memcpy(ep->cpcfg.server_pk, conf->cp_server_key, sizeof(ep->cpcfg.server_pk));
	ep->cpcfg.on_state = on_state;
	ep->cpcfg.on_notification = on_notification;
	ep->cpcfg.on_revoked = on_revoked;
	ep->cpcfg.sender_allowed = sender_allowed;
	ep->cpcfg.key_policy = key_policy;
	ep->cpcfg.arg = ep;
	r = netcfg_open(&ep->nc);
	if (r < 0) {
		snprintf(err, errlen, "netlink: %s", strerror(-r));
		goto fail;
	}
	r = nlmon_new(loop, NULL, on_netlink, ep, &ep->mon);
	if (r < 0) {
		log_msg_errno(PL_LOG_WARN, -r,
			      "netlink monitor unavailable; interface loss is "
			      "noticed on TUN read errors only");
		ep->mon = NULL;
	}
	ep->cp = cp_client_new(loop, &ep->cpcfg);
	if (!ep->cp) {
		snprintf(err, errlen, "cannot create the control-plane client");
		r = -ENOMEM;
		goto fail;
	}
	r = cp_client_monitor(ep->cp);
	if (r < 0) {
		snprintf(err, errlen, "control-plane monitor: %s", strerror(-r));
		goto fail;
	}
	watch_pins(ep);
	return 0;
fail:
	ep_fini(ep);
	return r;
}

void ep_fini(struct ep *ep)
{
	if (ev_is_active(&ep->pins_w))
		ev_stat_stop(ep->loop, &ep->pins_w);
	cp_client_free(ep->cp);
	ep->cp = NULL;
	netcfg_close(ep->nc);
	ep->nc = NULL;
	nlmon_free(ep->mon);
	ep->mon = NULL;
	cp_client_cfg_release(&ep->cpcfg);
	dpath_fini(&ep->dp);
}
