/* SPDX-License-Identifier: MIT */
/* portless-cp's enrollment-code guessing limits: the global window and the per-handle back-off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cp_srv_enroll.h"

static void test_window(void **state)
{
	struct cp_srv_enroll_limit l = {0};
	double t = 1000;

	(void)state;
	assert_false(cp_srv_enroll_limited(&l, t));
	for (int i = 0; i < CP_SRV_ENROLL_FAIL_MAX - 1; i++)
		cp_srv_enroll_failed(&l);
	assert_false(cp_srv_enroll_limited(&l, t + 1));
	cp_srv_enroll_failed(&l);
	assert_true(cp_srv_enroll_limited(&l, t + 1));
	/* still the same window at its very end */
	assert_true(cp_srv_enroll_limited(&l, t + CP_SRV_ENROLL_FAIL_WINDOW));
	/* past it: a fresh window, counted from then */
	assert_false(cp_srv_enroll_limited(&l, t + CP_SRV_ENROLL_FAIL_WINDOW + 0.5));
	for (int i = 0; i < CP_SRV_ENROLL_FAIL_MAX; i++)
		cp_srv_enroll_failed(&l);
	assert_true(cp_srv_enroll_limited(&l, t + 2 * CP_SRV_ENROLL_FAIL_WINDOW));
	assert_false(cp_srv_enroll_limited(&l, t + 2 * CP_SRV_ENROLL_FAIL_WINDOW + 1));
}

static void test_backoff(void **state)
{
	static const uint64_t want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};

	(void)state;
	for (uint32_t f = 0; f < sizeof(want) / sizeof(want[0]); f++)
		assert_int_equal(cp_srv_enroll_backoff(f), want[f]);
	assert_int_equal(cp_srv_enroll_backoff(31), CP_SRV_ENROLL_BACKOFF_MAX);
	assert_int_equal(cp_srv_enroll_backoff(UINT32_MAX), CP_SRV_ENROLL_BACKOFF_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
