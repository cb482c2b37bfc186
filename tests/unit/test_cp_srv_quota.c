/* SPDX-License-Identifier: MIT */
/* portless-cp's queue accounting: limits, counting, never below zero. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cp_proto.h"
#include "cp_srv_quota.h"

static void test_empty_accepts(void **state)
{
	struct cp_srv_quota r = {0}, s = {0};

	(void)state;
	assert_int_equal(cp_srv_quota_check(&r, &s, 0), CP_OK);
	assert_int_equal(cp_srv_quota_check(&r, &s, CP_QUEUE_BYTES_MAX), CP_OK);
	assert_int_equal(cp_srv_quota_check(&r, &s, CP_QUEUE_BYTES_MAX + 1), CP_E_QUEUE_FULL);
}

static void test_queue_full_by_count(void **state)
{
	enum { SENDERS = CP_QUEUE_MAX / CP_SENDER_QUOTA };
	struct cp_srv_quota r = {0}, s[SENDERS] = {0};

	(void)state;
	for (int i = 0; i < CP_QUEUE_MAX; i++) {
		assert_int_equal(cp_srv_quota_check(&r, &s[i % SENDERS], 10), CP_OK);
		cp_srv_quota_add(&r, &s[i % SENDERS], 10);
	}
	assert_int_equal(r.qcount, CP_QUEUE_MAX);
	assert_int_equal(r.qbytes, 10 * CP_QUEUE_MAX);
	assert_int_equal(s[0].sent, CP_SENDER_QUOTA);
	/* a new sender is turned away too: the recipient's queue is full */
	assert_int_equal(cp_srv_quota_check(&r, &(struct cp_srv_quota){0}, 1), CP_E_QUEUE_FULL);
	cp_srv_quota_del(&r, &s[0], 10); /* one acknowledged: room for one */
	assert_int_equal(cp_srv_quota_check(&r, &s[0], 1), CP_OK);
}

static void test_queue_full_by_bytes(void **state)
{
	struct cp_srv_quota r = {0}, s = {0};

	(void)state;
	cp_srv_quota_add(&r, &s, CP_QUEUE_BYTES_MAX - 100);
	assert_int_equal(cp_srv_quota_check(&r, &s, 100), CP_OK);
	assert_int_equal(cp_srv_quota_check(&r, &s, 101), CP_E_QUEUE_FULL);
	cp_srv_quota_del(&r, &s, 1000);
	assert_int_equal(r.qbytes, CP_QUEUE_BYTES_MAX - 1100);
	assert_int_equal(cp_srv_quota_check(&r, &s, 1100), CP_OK);
}

static void test_sender_quota(void **state)
{
	struct cp_srv_quota r1 = {0}, r2 = {0}, s = {0};

	(void)state;
	/* the quota spans all recipients */
	for (int i = 0; i < CP_SENDER_QUOTA; i++)
		cp_srv_quota_add(i % 2 ? &r1 : &r2, &s, 1);
	assert_int_equal(cp_srv_quota_check(&r1, &s, 1), CP_E_QUOTA);
	assert_int_equal(cp_srv_quota_check(&r2, &s, 1), CP_E_QUOTA);
	/* a full recipient queue is reported first */
	r1.qcount = CP_QUEUE_MAX;
	assert_int_equal(cp_srv_quota_check(&r1, &s, 1), CP_E_QUEUE_FULL);
	cp_srv_quota_del(&r2, &s, 1);
	assert_int_equal(cp_srv_quota_check(&r2, &s, 1), CP_OK);
}

static void test_never_below_zero(void **state)
{
	struct cp_srv_quota r = {0}, s = {0};

	(void)state;
	cp_srv_quota_del(&r, &s, 5);
	assert_int_equal(r.qcount, 0);
	assert_int_equal(r.qbytes, 0);
	assert_int_equal(s.sent, 0);
	cp_srv_quota_add(&r, &s, 5);
	cp_srv_quota_del(&r, &s, 50); /* more bytes than counted: clamp */
	assert_int_equal(r.qbytes, 0);
	assert_int_equal(r.qcount, 0);
	/* no count left: bytes are not touched */
	r.qbytes = 7;
	cp_srv_quota_del(&r, NULL, 7);
	assert_int_equal(r.qbytes, 7);
}

static void test_not_hosted(void **state)
{
	struct cp_srv_quota r = {0}, s = {0};

	(void)state;
	cp_srv_quota_add(NULL, &s, 9); /* recipient elsewhere */
	cp_srv_quota_add(&r, NULL, 9); /* sender elsewhere (or gone) */
	assert_int_equal(s.sent, 1);
	assert_int_equal(r.qcount, 1);
	assert_int_equal(r.qbytes, 9);
	cp_srv_quota_del(NULL, &s, 9);
	cp_srv_quota_del(&r, NULL, 9);
	cp_srv_quota_del(NULL, NULL, 9);
	assert_int_equal(s.sent, 0);
	assert_int_equal(r.qcount, 0);
	assert_int_equal(r.qbytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_accepts),       cmocka_unit_test(test_queue_full_by_count),
	    cmocka_unit_test(test_queue_full_by_bytes), cmocka_unit_test(test_sender_quota),
	    cmocka_unit_test(test_never_below_zero),    cmocka_unit_test(test_not_hosted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
