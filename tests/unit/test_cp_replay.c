/* SPDX-License-Identifier: MIT */
/*
 * The recipient's replay cache: duplicates, expiry, the flood attack (one
 * sender filling the cache must not evict another's entry), the global
 * bound, far expiries, and surviving a restart (a new cache on the same file).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_replay.h"

static const uint64_t NOW = 1800000000;

struct fx {
	char dir[64];
	struct cp_replay *rp;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_cp_replay.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	cp_replay_close(f->rp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Envelope id number @p n. */
static const uint8_t *id(unsigned n)
{
	static uint8_t b[ENVELOPE_ID_LEN];

	memset(b, 0, sizeof(b));
	memcpy(b, &n, sizeof(n));
	return b;
}

static void test_duplicates_and_expiry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cp_replay_open(NULL, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(1), NOW + 10, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(1), NOW + 10, NOW + 10), ENV_E_REPLAY);
	/* the same id from another sender is another envelope */
	assert_int_equal(cp_replay_add(f->rp, "@bob", id(1), NOW + 10, NOW), ENV_OK);
	assert_int_equal(cp_replay_count(f->rp, NULL, NOW), 2);
	/* once expired the entry goes: its envelope is refused as expired anyway */
	assert_int_equal(cp_replay_count(f->rp, "@alice", NOW + 11), 0);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(1), NOW + 20, NOW + 11), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(2), NOW + 1, NOW + 11), ENV_E_EXPIRED);
	assert_int_equal(cp_replay_add(f->rp, "not a handle", id(2), NOW + 20, NOW), ENV_E_ARG);
}

static void test_far_expiry_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cp_replay_open(NULL, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@m", id(1), UINT64_MAX, NOW), ENV_E_EXPIRY_FAR);
	assert_int_equal(cp_replay_add(f->rp, "@m", id(2), NOW + ENVELOPE_EXPIRY_AHEAD + 1, NOW),
			 ENV_E_EXPIRY_FAR);
	assert_int_equal(cp_replay_add(f->rp, "@m", id(3), NOW + ENVELOPE_EXPIRY_AHEAD, NOW),
			 ENV_OK);
	assert_int_equal(cp_replay_count(f->rp, "@m", NOW), 1);
}

/*
 * The attack: @alice's envelope is seen, then 4,096 envelopes from
 * @mallory with the farthest expiry allowed. In the old cache (4,096
 * entries, evicting the one nearest expiry) @alice's entry gave way and her
 * envelope was accepted again. Here @mallory gets its quota, nothing more.
 */
static void test_flood_readmits_nothing(void **state)
{
	struct fx *f = *state;
	unsigned ok = 0, full = 0;

	assert_int_equal(cp_replay_open(NULL, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(7), NOW + 60, NOW), ENV_OK);
	for (unsigned i = 0; i < 4096; i++) {
		int r = cp_replay_add(f->rp, "@mallory", id(i), NOW + ENVELOPE_EXPIRY_AHEAD, NOW);

		ok += r == ENV_OK;
		full += r == ENV_E_REPLAY_FULL;
	}
	assert_int_equal(ok, CP_REPLAY_PER_SENDER);
	assert_int_equal(full, 4096 - CP_REPLAY_PER_SENDER);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(7), NOW + 60, NOW + 1), ENV_E_REPLAY);
	/* mallory's own are not evicted either: their replays are still refused */
	assert_int_equal(cp_replay_add(f->rp, "@mallory", id(0), NOW + ENVELOPE_EXPIRY_AHEAD, NOW),
			 ENV_E_REPLAY);
	/* and others still get in */
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(8), NOW + 60, NOW + 1), ENV_OK);
}

/* When the whole cache is full, new entries are refused, never old ones evicted. */
static void test_global_bound(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cp_replay_open(NULL, 4, 2, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@a", id(1), NOW + 10, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@a", id(2), NOW + 99, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@a", id(3), NOW + 99, NOW), ENV_E_REPLAY_FULL);
	assert_int_equal(cp_replay_add(f->rp, "@b", id(1), NOW + 99, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@b", id(2), NOW + 99, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@c", id(1), NOW + 99, NOW), ENV_E_REPLAY_FULL);
	assert_int_equal(cp_replay_add(f->rp, "@a", id(1), NOW + 10, NOW), ENV_E_REPLAY);
	/* @a's first expires: room again, for anyone */
	assert_int_equal(cp_replay_add(f->rp, "@c", id(1), NOW + 99, NOW + 11), ENV_OK);
	assert_int_equal(cp_replay_count(f->rp, NULL, NOW + 11), 4);
}

/* The attack: replay an envelope to a recipient that restarted. Refused. */
static void test_restart(void **state)
{
	struct fx *f = *state;
	char path[128];
	struct stat st;

	assert_int_equal(cp_replay_open(f->dir, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(1), NOW + 60, NOW), ENV_OK);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(2), NOW + 5, NOW), ENV_OK);
	cp_replay_close(f->rp);
	snprintf(path, sizeof(path), "%s/%s", f->dir, CP_REPLAY_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a new cache object on the same file: what was seen is still known */
	assert_int_equal(cp_replay_open(f->dir, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(1), NOW + 60, NOW + 1), ENV_E_REPLAY);
	assert_int_equal(cp_replay_add(f->rp, "@alice", id(3), NOW + 60, NOW + 1), ENV_OK);
	/* entries expire with their envelopes, also across restarts */
	assert_int_equal(cp_replay_count(f->rp, "@alice", NOW + 6), 2);
	assert_int_equal(cp_replay_add(f->rp, "@bob", id(1), NOW + 60, NOW + 6), ENV_OK);
	cp_replay_close(f->rp);
	f->rp = NULL;
	assert_int_equal(cp_replay_open(f->dir, 0, 0, &f->rp), 0);
	assert_int_equal(cp_replay_count(f->rp, NULL, NOW + 6), 3);
}

/* A damaged file is an error (with its path logged), not an empty cache. */
static void test_damaged_file(void **state)
{
	struct fx *f = *state;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, CP_REPLAY_FILE);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 64; i++)
		fputs("this is not an SQLite database. ", fp);
	fclose(fp);
	assert_int_equal(cp_replay_open(f->dir, 0, 0, &f->rp), -EIO);
	assert_null(f->rp);
	assert_int_equal(cp_replay_open("/nonexistent/dir", 0, 0, &f->rp), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_duplicates_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_expiry_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flood_readmits_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_global_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
