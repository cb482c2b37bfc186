/* SPDX-License-Identifier: MIT */
/*
 * The control-plane client against a real portless-cp server in the same
 * loop (loopback): key fetches through the cache and the pins, negative
 * answers, a notification whose sender's keys the recipient fetches, and
 * live revocation (CP_T_REVOKED to the clients that fetched the keys; the
 * key cache dropped with a lost connection).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_client.h"
#include "cp_hs.h"
#include "cp_pin.h"
#include "cp_replay.h"
#include "net.h"
#include "cp_server.h"
#include "cp_store.h"

/* The test world: a server hosting @a, @b and @c, and a client per identity. */
struct world {
	struct ev_loop *loop;
	char dir[64], data[96], keys[3][96], listen[32];
	uint8_t server_pk[CP_KEY_LEN];
	struct identity *id[3];
	struct cp_server *srv;
	struct cp_client *cl[3];
	/* results */
	int err, calls;
	struct pubkeys got;
	char note[64];
	char msg[CP_ERRMSG_MAX + 1];
	/* the hooks' answers and calls */
	int policy_ret, policy_calls, filter_calls, notes;
	char expect_fpr[ID_FPR_BUF];
	uint16_t allowed_type;
};

static const char *const handles[] = {"@a", "@b", "@c"};

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Enroll the world's identities straight into the store. */
static int enroll_all(struct world *w)
{
	uint8_t hash[CP_HASH_LEN] = {0}, sig[CP_SIG_LEN];
	struct cp_store *st;
	char err[256];
	int r = 0;

	if (cp_data_init(w->data, w->server_pk, err, sizeof(err)) < 0 ||
	    cp_store_open(w->data, false, &st, err, sizeof(err)) < 0)
		return -1;
	for (int i = 0; i < 3 && r == 0; i++) {
		cp_keys_sign(w->id[i], sig);
		r = cp_store_add_slot(st, handles[i], hash, 4000000000u, 1);
		if (r == 0)
			r = cp_store_enroll(st, &w->id[i]->pub, sig);
	}
	cp_store_close(st);
	return r;
}

/* A client for identity @p i with @p cfg's callbacks and hooks (NULL: none). */
static struct cp_client *client_with(struct world *w, int i, struct cp_client_cfg *cfg)
{
	struct cp_client_cfg none = {0};

	if (!cfg)
		cfg = &none;
	cfg->server = w->listen;
	cfg->id = w->id[i];
	cfg->keydir = w->keys[i];
	memcpy(cfg->server_pk, w->server_pk, CP_KEY_LEN);
	return cp_client_new(w->loop, cfg);
}

static struct cp_client *client(struct world *w, int i)
{
	return client_with(w, i, NULL);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cp_server_cfg scfg = {0};
	char err[256];

	if (!w || sodium_init() < 0)
		return -1;
	w->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test_cp_client.XXXXXX");
	if (!w->loop || !mkdtemp(w->dir))
		return -1;
	snprintf(w->data, sizeof(w->data), "%s/data", w->dir);
	snprintf(w->listen, sizeof(w->listen), "127.0.0.1:%d", free_port());
	for (int i = 0; i < 3; i++) {
		snprintf(w->keys[i], sizeof(w->keys[i]), "%s/k%d", w->dir, i);
		w->id[i] = identity_generate(handles[i]);
		if (!w->id[i] || mkdir(w->keys[i], 0700) < 0)
			return -1;
	}
	if (enroll_all(w) < 0)
		return -1;
	scfg.datadir = w->data;
	scfg.listen = w->listen;
	w->srv = cp_server_new(w->loop, &scfg, err, sizeof(err));
	for (int i = 0; i < 3 && w->srv; i++)
		w->cl[i] = client(w, i);
	*state = w;
	return w->srv && w->cl[0] && w->cl[1] && w->cl[2] ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;
	char cmd[128];

	for (int i = 0; i < 3; i++) {
		cp_client_free(w->cl[i]);
		identity_free(w->id[i]);
	}
	cp_server_free(w->srv);
	ev_loop_destroy(w->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
	if (system(cmd) != 0)
		return -1;
	free(w);
	return 0;
}

/* Run the loop until @p want callbacks came (or 10 s passed). */
static void run_until(struct world *w, int want)
{
	double end = ev_now(w->loop) + 10;

	while (w->calls < want && ev_now(w->loop) < end)
		ev_run(w->loop, EVRUN_ONCE);
	assert_int_equal(w->calls, want);
}

static void on_keys(void *arg, int err, const struct pubkeys *pk)
{
	struct world *w = arg;

	w->calls++;
	w->err = err;
	if (pk)
		w->got = *pk;
}

static void test_get_keys_pins(void **state)
{
	struct world *w = *state;
	char path[160];

	assert_int_equal(cp_client_get_keys(w->cl[0], "@b", on_keys, w), 0);
	assert_int_equal(w->calls, 0); /* never inside the API call */
	run_until(w, 1);
	assert_int_equal(w->err, CP_OK);
	assert_true(pubkeys_equal(&w->got, &w->id[1]->pub));
	snprintf(path, sizeof(path), "%s/known_identities", w->keys[0]);
	assert_int_equal(access(path, R_OK), 0); /* pinned on first use */
	/* cached: not fetched (and so not pinned) again */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cp_client_get_keys(w->cl[0], "@b", on_keys, w), 0);
	run_until(w, 2);
	assert_int_equal(w->err, CP_OK);
	assert_true(pubkeys_equal(&w->got, &w->id[1]->pub));
	assert_int_equal(access(path, F_OK), -1);
	/* our own keys are never fetched */
	assert_int_equal(cp_client_get_keys(w->cl[0], "@a", on_keys, w), 0);
	run_until(w, 3);
	assert_int_equal(w->err, CP_OK);
	assert_true(pubkeys_equal(&w->got, &w->id[0]->pub));
	assert_int_equal(access(path, F_OK), -1);
}

static void test_key_changed(void **state)
{
	struct world *w = *state;
	struct identity *evil = identity_generate("@c");

	/* @a once pinned other keys for @c: the home's keys are refused */
	assert_non_null(evil);
	assert_int_equal(cp_pin_check(w->keys[0], &evil->pub), CP_OK);
	identity_free(evil);
	assert_int_equal(cp_client_get_keys(w->cl[0], "@c", on_keys, w), 0);
	run_until(w, 1);
	assert_int_equal(w->err, CP_E_KEY_CHANGED);
	/* remembered for a while: the second ask fails the same way */
	assert_int_equal(cp_client_get_keys(w->cl[0], "@c", on_keys, w), 0);
	run_until(w, 2);
	assert_int_equal(w->err, CP_E_KEY_CHANGED);
	/* another client without that pin gets them */
	assert_int_equal(cp_client_get_keys(w->cl[1], "@c", on_keys, w), 0);
	run_until(w, 3);
	assert_int_equal(w->err, CP_OK);
}

static void test_unknown(void **state)
{
	struct world *w = *state;

	assert_int_equal(cp_client_get_keys(w->cl[0], "@nobody", on_keys, w), 0);
	run_until(w, 1);
	assert_int_equal(w->err, CP_E_UNKNOWN_IDENTITY);
}

static void on_note(void *arg, const struct envelope *env)
{
	struct world *w = arg;

	w->calls++;
	snprintf(w->note, sizeof(w->note), "%s %.*s", env->from, (int)env->payload_len,
		 (const char *)env->payload);
}

static void on_done(void *arg, int err, const char *msg)
{
	struct world *w = arg;

	w->calls++;
	w->err = err;
	snprintf(w->msg, sizeof(w->msg), "%s", msg ? msg : "");
}

static void test_notify_fetches_sender(void **state)
{
	struct world *w = *state;
	struct cp_client_cfg cfg = {.server = w->listen, .id = w->id[1], .keydir = w->keys[1]};
	struct cp_client *b;

	/* @b monitors; @a notifies; @b fetches @a's keys to open it */
	memcpy(cfg.server_pk, w->server_pk, CP_KEY_LEN);
	cfg.on_notification = on_note;
	cfg.arg = w;
	b = cp_client_new(w->loop, &cfg);
	assert_non_null(b);
	assert_int_equal(cp_client_monitor(b), 0);
	assert_int_equal(
	    cp_client_notify(w->cl[0], "@b", 1, (const uint8_t *)"hi", 2, 60, on_done, w), 0);
	run_until(w, 2);
	assert_int_equal(w->err, CP_OK);
	assert_string_equal(w->note, "@a hi");
	cp_client_free(b);
}

/* One client's view of revocations: which handles it was told of. */
struct revs {
	struct world *w;
	int calls;
	char handle[HANDLE_BUF];
};

static void on_revoked(void *arg, const char *handle)
{
	struct revs *rv = arg;

	rv->calls++;
	rv->w->calls++;
	snprintf(rv->handle, sizeof(rv->handle), "%s", handle);
}

/* A client of identity @p i whose on_revoked reports into @p rv. */
static struct cp_client *client_revs(struct world *w, int i, struct revs *rv)
{
	struct cp_client_cfg cfg = {.server = w->listen, .id = w->id[i], .keydir = w->keys[i]};

	memcpy(cfg.server_pk, w->server_pk, CP_KEY_LEN);
	cfg.on_revoked = on_revoked;
	cfg.arg = rv;
	rv->w = w;
	return cp_client_new(w->loop, &cfg);
}

/* Ask @p c for @p handle's keys and wait for the answer; returns its error. */
static int keys_of(struct world *w, struct cp_client *c, const char *handle)
{
	int want = w->calls + 1;

	assert_int_equal(cp_client_get_keys(c, handle, on_keys, w), 0);
	run_until(w, want);
	return w->err;
}

/*
 * @b fetched @a's keys, @c fetched only @b's: revoking @a through the
 * server tells @b at once (on_revoked "@a", then CP_E_REVOKED for @a's keys
 * from its cache) and not @c (the server tracks who fetched what).
 */
static void test_revoked_pushed(void **state)
{
	struct world *w = *state;
	struct revs rb = {0}, rc = {0};
	struct cp_client *b = client_revs(w, 1, &rb), *c = client_revs(w, 2, &rc);

	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(keys_of(w, b, "@a"), CP_OK);
	assert_int_equal(keys_of(w, c, "@b"), CP_OK);
	assert_int_equal(cp_server_revoke(w->srv, "@a"), 0);
	assert_int_equal(rb.calls, 0); /* pushed, not called inside the server's API */
	run_until(w, w->calls + 1);
	assert_int_equal(rb.calls, 1);
	assert_string_equal(rb.handle, "@a");
	assert_int_equal(keys_of(w, b, "@a"), CP_E_REVOKED);
	/* @c asks the home itself: any CP_T_REVOKED for it would have come first */
	assert_int_equal(keys_of(w, c, "@a"), CP_E_REVOKED);
	assert_int_equal(rc.calls, 0);
	assert_int_equal(rb.calls, 1); /* once */
	assert_true(cp_client_is_up(b) && cp_client_is_up(c));
	assert_int_equal(cp_server_revoke(w->srv, "@a"), -ENOENT);
	assert_int_equal(cp_server_revoke(w->srv, "@nobody"), -ENOENT);
	cp_client_free(b);
	cp_client_free(c);
}

/* Restart the server on the same store and port. */
static void restart_server(struct world *w)
{
	struct cp_server_cfg scfg = {.datadir = w->data, .listen = w->listen};
	char err[256];

	cp_server_free(w->srv);
	w->srv = cp_server_new(w->loop, &scfg, err, sizeof(err));
	assert_non_null(w->srv);
}

/*
 * @b was away when @a was revoked (here: by the operator, in the store,
 * while the server was down): the keys it had cached did not outlive its
 * connection, so its next lookup asks the home, which says CP_E_REVOKED.
 */
static void test_revoked_while_away(void **state)
{
	struct world *w = *state;
	struct cp_store *st;
	char err[256];
	int want;

	assert_int_equal(keys_of(w, w->cl[1], "@a"), CP_OK);
	cp_server_free(w->srv);
	w->srv = NULL;
	/* the client sees its connection close */
	for (int i = 0; i < 100 && cp_client_is_up(w->cl[1]); i++)
		ev_run(w->loop, EVRUN_ONCE);
	assert_false(cp_client_is_up(w->cl[1]));
	assert_int_equal(cp_store_open(w->data, false, &st, err, sizeof(err)), 0);
	assert_int_equal(cp_store_begin(st), 0);
	assert_int_equal(cp_store_revoke(st, "@a"), 0);
	assert_int_equal(cp_store_commit(st), 0);
	cp_store_close(st);
	restart_server(w);
	want = w->calls + 1;
	assert_int_equal(cp_client_get_keys(w->cl[1], "@a", on_keys, w), 0);
	run_until(w, want);
	assert_int_equal(w->err, CP_E_REVOKED);
}

/* ---- the hooks, the replay cache and forgetting keys ---- */

/* Run the loop until *@p n reaches @p want (or 10 s passed). */
static void wait_count(struct world *w, const int *n, int want)
{
	double end = ev_now(w->loop) + 10;

	while (*n < want && ev_now(w->loop) < end)
		ev_run(w->loop, EVRUN_ONCE);
	assert_int_equal(*n, want);
}

/* on_notification counting into w->notes (not w->calls). */
static void on_counted_note(void *arg, const struct envelope *env)
{
	struct world *w = arg;

	w->notes++;
	snprintf(w->note, sizeof(w->note), "%s %.*s", env->from, (int)env->payload_len,
		 (const char *)env->payload);
}

/* The sender filter: only w->allowed_type passes. */
static bool filter(void *arg, const char *from, uint16_t type)
{
	struct world *w = arg;

	w->filter_calls++;
	return type == w->allowed_type;
}

/* The key policy: w->policy_ret, and w->expect_fpr when set. */
static int policy(void *arg, const char *handle, char expect_fpr[ID_FPR_BUF], bool *have_fpr)
{
	struct world *w = arg;

	w->policy_calls++;
	if (w->expect_fpr[0]) {
		memcpy(expect_fpr, w->expect_fpr, ID_FPR_BUF);
		*have_fpr = true;
	}
	return w->policy_ret;
}

/* @b monitoring with on_counted_note and @p cfg's hooks. */
static struct cp_client *monitor_b(struct world *w, struct cp_client_cfg *cfg)
{
	struct cp_client *b;

	cfg->on_notification = on_counted_note;
	cfg->arg = w;
	b = client_with(w, 1, cfg);
	assert_non_null(b);
	assert_int_equal(cp_client_monitor(b), 0);
	return b;
}

/* @a notifies @b (@p type, @p text) and waits for its home's answer. */
static void notify_b(struct world *w, uint16_t type, const char *text)
{
	int want = w->calls + 1;

	assert_int_equal(cp_client_notify(w->cl[0], "@b", type, (const uint8_t *)text, strlen(text),
					  60, on_done, w),
			 0);
	run_until(w, want);
	assert_int_equal(w->err, CP_OK);
}

/* Entries @p from has in @p i's replay cache file. */
static long replay_entries(struct world *w, int i, const char *from)
{
	struct cp_replay *rp;
	long n;

	assert_int_equal(cp_replay_open(w->keys[i], 0, 0, &rp), 0);
	n = cp_replay_count(rp, from, net_unix_now());
	cp_replay_close(rp);
	return n;
}

static bool pinned_any(struct world *w, int i)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/known_identities", w->keys[i]);
	return access(path, F_OK) == 0;
}

/*
 * A sender the filter refuses: dropped before @b fetches (and pins) its
 * keys, and before the replay cache sees it. An allowed type goes through.
 */
static void test_sender_filter(void **state)
{
	struct world *w = *state;
	struct cp_client_cfg cfg = {.sender_allowed = filter};
	struct cp_client *b;

	w->allowed_type = 2;
	b = monitor_b(w, &cfg);
	notify_b(w, 1, "refused");
	wait_count(w, &w->filter_calls, 1);
	assert_int_equal(w->notes, 0);
	assert_false(pinned_any(w, 1)); /* @a's keys were never fetched */
	assert_int_equal(replay_entries(w, 1, "@a"), 0);
	notify_b(w, 2, "allowed");
	wait_count(w, &w->notes, 1);
	assert_string_equal(w->note, "@a allowed");
	assert_int_equal(w->filter_calls, 2);
	assert_true(pinned_any(w, 1));
	assert_int_equal(replay_entries(w, 1, "@a"), 1);
	cp_client_free(b);
}

/* @a sends @p env as is; waits for its home's answer. */
static void send_raw(struct world *w, const uint8_t *env, size_t len)
{
	int want = w->calls + 1;

	assert_int_equal(
	    cp_client_send_envelope(w->cl[0], env, len, net_unix_now() + 60, on_done, w), 0);
	run_until(w, want);
	assert_int_equal(w->err, CP_OK);
}

/* An envelope from @a to @b expiring at @p expiry. */
static size_t seal_a_to_b(struct world *w, uint64_t expiry, const char *text, uint8_t *out)
{
	uint8_t id[ENVELOPE_ID_LEN];
	size_t len;

	randombytes_buf(id, sizeof(id));
	assert_int_equal(envelope_seal(w->id[0], &w->id[1]->pub, 1, id, expiry,
				       (const uint8_t *)text, strlen(text), out, ENVELOPE_MAX,
				       &len),
			 ENV_OK);
	return len;
}

/*
 * The attack: the home (or anyone holding a copy) pushes an envelope again
 * after @b restarted. The replay cache is in @b's key directory: refused.
 * The fresh notification after it shows the replay was processed first.
 */
static void test_replay_after_restart(void **state)
{
	struct world *w = *state;
	struct cp_client_cfg cfg = {0};
	static uint8_t env[ENVELOPE_MAX];
	size_t len = seal_a_to_b(w, net_unix_now() + 60, "once", env);
	struct cp_client *b = monitor_b(w, &cfg);

	send_raw(w, env, len);
	wait_count(w, &w->notes, 1);
	assert_string_equal(w->note, "@a once");
	cp_client_free(b);
	b = monitor_b(w, &cfg); /* the restarted recipient */
	send_raw(w, env, len);
	notify_b(w, 1, "fresh");
	wait_count(w, &w->notes, 2);
	assert_string_equal(w->note, "@a fresh");
	cp_client_free(b);
}

/*
 * The attack: a signed inner expiry far ahead (the home checks only the
 * outer one) would outlive the replay cache's entry. @b drops it.
 */
static void test_far_expiry_dropped(void **state)
{
	struct world *w = *state;
	struct cp_client_cfg cfg = {0};
	static uint8_t env[ENVELOPE_MAX];
	size_t len = seal_a_to_b(w, net_unix_now() + 30 * 86400, "far", env);
	struct cp_client *b = monitor_b(w, &cfg);

	send_raw(w, env, len);
	notify_b(w, 1, "near");
	wait_count(w, &w->notes, 1);
	assert_string_equal(w->note, "@a near");
	assert_int_equal(replay_entries(w, 1, "@a"), 1);
	cp_client_free(b);
}

/* @a's client asking the key policy. */
static struct cp_client *policy_client(struct world *w)
{
	struct cp_client_cfg cfg = {.key_policy = policy, .arg = w};
	struct cp_client *c = client_with(w, 0, &cfg);

	assert_non_null(c);
	return c;
}

/*
 * The attack: the home serves other keys for @b than the ones the policy
 * names. Refused, with both fingerprints in the error, and not pinned.
 */
static void test_key_policy_fingerprint(void **state)
{
	struct world *w = *state;
	struct identity *known = identity_generate("@b");
	struct cp_client *c = policy_client(w);
	char fk[ID_FPR_BUF], fb[ID_FPR_BUF];

	assert_non_null(known);
	identity_fingerprint(&known->pub, fk);
	identity_fingerprint(&w->id[1]->pub, fb);
	identity_free(known);
	memcpy(w->expect_fpr, fk, sizeof(fk));
	assert_int_equal(keys_of(w, c, "@b"), CP_E_KEY_CHANGED);
	assert_false(pinned_any(w, 0));
	assert_int_equal(cp_client_notify(c, "@b", 1, (const uint8_t *)"x", 1, 60, on_done, w), 0);
	run_until(w, w->calls + 1);
	assert_int_equal(w->err, CP_E_KEY_CHANGED);
	assert_non_null(strstr(w->msg, fk));
	assert_non_null(strstr(w->msg, fb));
	/* the policy names @b's real keys (upper case too): accepted and pinned */
	for (char *p = fb; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
	memcpy(w->expect_fpr, fb, sizeof(fb));
	cp_client_forget(c, "@b");
	assert_int_equal(keys_of(w, c, "@b"), CP_OK);
	assert_true(pinned_any(w, 0));
	assert_int_equal(w->policy_calls, 2);
	cp_client_free(c);
}

/* Nobody asked for @b (-EPERM): nothing pinned; an identity pinned before is judged as usual. */
static void test_key_policy_eperm(void **state)
{
	struct world *w = *state;
	struct cp_client *c = policy_client(w);

	w->policy_ret = -EPERM;
	assert_int_equal(keys_of(w, c, "@b"), CP_E_UNKNOWN_IDENTITY);
	assert_false(pinned_any(w, 0));
	assert_int_equal(w->policy_calls, 1);
	assert_int_equal(cp_pin_check(w->keys[0], &w->id[2]->pub), CP_OK);
	assert_int_equal(keys_of(w, c, "@c"), CP_OK);
	assert_int_equal(keys_of(w, c, "@a"), CP_OK); /* our own: no policy asked */
	assert_int_equal(w->policy_calls, 2);
	cp_client_free(c);
}

/* A local revocation takes effect once the cached keys are forgotten. */
static void test_forget_sees_revocation(void **state)
{
	struct world *w = *state;

	assert_int_equal(keys_of(w, w->cl[0], "@b"), CP_OK);
	assert_int_equal(cp_pin_revoke(w->keys[0], "@b"), 0);
	assert_int_equal(keys_of(w, w->cl[0], "@b"), CP_OK); /* cached */
	cp_client_forget(w->cl[0], "@b");
	assert_int_equal(keys_of(w, w->cl[0], "@b"), CP_E_REVOKED);
	cp_client_forget(w->cl[0], "@nobody"); /* nothing cached: no-op */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_keys_pins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_fetches_sender, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_pushed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_while_away, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sender_filter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_after_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_expiry_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_policy_fingerprint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_policy_eperm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget_sees_revocation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
