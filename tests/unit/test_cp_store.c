/* SPDX-License-Identifier: MIT */
/* The portless-cp SQLite store: slots, enrollment, records, queue, damage. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "cp_hs.h"
#include "cp_store.h"

struct fx {
	char dir[64];
	struct cp_store *st;
};

static int setup(void **state)
{
	static struct fx f;
	uint8_t pk[32];
	char err[256];

	strcpy(f.dir, "/tmp/cp-store-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	strcat(f.dir, "/d");
	assert_int_equal(cp_data_init(f.dir, pk, err, sizeof(err)), 0);
	assert_int_equal(cp_store_open(f.dir, false, &f.st, err, sizeof(err)), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	cp_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(f->dir) - 2), f->dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_slot_enroll(void **state)
{
	struct fx *f = *state;
	uint8_t h[32];
	struct cp_ident id;
	struct identity *me = identity_generate("@x");
	uint8_t ks[64] = {9};

	cp_code_hash("code", h);
	assert_int_equal(cp_store_begin(f->st), 0);
	assert_int_equal(cp_store_add_slot(f->st, "@x", h, 100, 1), 0);
	assert_int_equal(cp_store_get_ident(f->st, "@x", &id), 0);
	assert_int_equal(id.state, CP_ID_PENDING);
	assert_memory_equal(id.code_hash, h, 32);
	assert_int_equal(cp_store_enroll(f->st, &me->pub, ks), 0);
	assert_int_equal(cp_store_add_slot(f->st, "@x", h, 100, 1), -EEXIST);
	assert_int_equal(cp_store_commit(f->st), 0);
	assert_int_equal(cp_store_get_ident(f->st, "@x", &id), 0);
	assert_int_equal(id.state, CP_ID_ENROLLED);
	assert_true(pubkeys_equal(&id.pk, &me->pub));
	assert_int_equal(cp_store_get_ident(f->st, "@nope", &id), -ENOENT);
	identity_free(me);
}

static int count_cb(void *arg, const struct cp_qitem *it)
{
	(*(int *)arg)++;
	return 0;
}

static void test_queue(void **state)
{
	struct fx *f = *state;
	char sender[HANDLE_BUF];
	size_t len;
	int n = 0;

	assert_int_equal(cp_store_begin(f->st), 0);
	assert_int_equal(cp_store_queue_add(f->st, 1, "@r", "@s", 1000, (const uint8_t *)"aaa", 3),
			 0);
	assert_int_equal(cp_store_queue_add(f->st, 2, "@r", "@s", 10, (const uint8_t *)"bb", 2), 0);
	assert_int_equal(cp_store_queue_add(f->st, 3, "@q", "@s", 1000, (const uint8_t *)"c", 1),
			 0);
	assert_int_equal(cp_store_commit(f->st), 0);
	assert_int_equal(cp_store_max_seq(f->st), 3);
	assert_int_equal(cp_store_queue_scan(f->st, "@r", 0, 50, 10, count_cb, &n), 0);
	assert_int_equal(n, 1); /* seq 2 expired at 50 */
	/* only the recipient's own rows can be acknowledged */
	assert_int_equal(cp_store_queue_del(f->st, "@q", 1, sender, &len), -ENOENT);
	assert_int_equal(cp_store_queue_del(f->st, "@r", 1, sender, &len), 0);
	assert_string_equal(sender, "@s");
	assert_int_equal(len, 3);
	assert_int_equal(cp_store_queue_del(f->st, "@r", 1, sender, &len), -ENOENT);
}

static void test_records(void **state)
{
	struct fx *f = *state;
	uint8_t out[CP_RECORD_MAX];
	size_t len;
	char name[16];

	for (int i = 0; i < CP_RECORDS_PER_ID; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		assert_int_equal(cp_store_put_record(f->st, "@h", name, (const uint8_t *)"v", 1),
				 0);
	}
	assert_int_equal(cp_store_put_record(f->st, "@h", "onemore", (const uint8_t *)"v", 1),
			 -EDQUOT);
	assert_int_equal(cp_store_put_record(f->st, "@h", "r0", (const uint8_t *)"new", 3), 0);
	assert_int_equal(cp_store_get_record(f->st, "@h", "r0", out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "new", 3);
	assert_int_equal(cp_store_del_record(f->st, "@h", "r0"), 0);
	assert_int_equal(cp_store_del_record(f->st, "@h", "r0"), -ENOENT);
	assert_int_equal(cp_store_get_record(f->st, "@h", "r0", out, sizeof(out), &len), -ENOENT);
}

static void test_damaged(void **state)
{
	char dir[] = "/tmp/cp-bad-XXXXXX", path[64], err[256];
	struct cp_store *st = NULL;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cp.db", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a database, just junk bytes......", 45), 45);
	close(fd);
	assert_int_equal(cp_store_open(dir, false, &st, err, sizeof(err)), -EIO);
	assert_null(st);
	assert_non_null(strstr(err, "damaged or unusable store"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slot_enroll),
	    cmocka_unit_test(test_queue),
	    cmocka_unit_test(test_records),
	    cmocka_unit_test(test_damaged),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
