/* SPDX-License-Identifier: MIT */
/* portless-cp's record of whose keys a connection fetched: set, repeats, the bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cp_srv_fetched.h"

static void test_empty_has_nothing(void **state)
{
	struct cp_srv_fetched f = {0};

	(void)state;
	assert_false(cp_srv_fetched_has(&f, 0));
	assert_false(cp_srv_fetched_has(&f, 42));
	cp_srv_fetched_free(&f); /* freeing an empty set is fine */
	cp_srv_fetched_free(&f);
}

static void test_add_has_repeats(void **state)
{
	struct cp_srv_fetched f = {0};

	(void)state;
	for (uint64_t h = 1; h <= 100; h++) {
		cp_srv_fetched_add(&f, h * 0x9e3779b97f4a7c15ull);
		cp_srv_fetched_add(&f, h * 0x9e3779b97f4a7c15ull); /* a repeat is kept once */
	}
	assert_int_equal(f.n, 100);
	assert_false(f.all);
	for (uint64_t h = 1; h <= 100; h++)
		assert_true(cp_srv_fetched_has(&f, h * 0x9e3779b97f4a7c15ull));
	assert_false(cp_srv_fetched_has(&f, 0));
	assert_false(cp_srv_fetched_has(&f, 101 * 0x9e3779b97f4a7c15ull));
	cp_srv_fetched_free(&f);
	assert_int_equal(f.n, 0);
	assert_false(cp_srv_fetched_has(&f, 0x9e3779b97f4a7c15ull));
}

/* Past the bound the set gives up tracking and answers yes to everything. */
static void test_bound_turns_into_all(void **state)
{
	struct cp_srv_fetched f = {0};

	(void)state;
	for (uint64_t h = 0; h < CP_SRV_FETCHED_MAX; h++)
		cp_srv_fetched_add(&f, h);
	assert_int_equal(f.n, CP_SRV_FETCHED_MAX);
	assert_false(f.all);
	assert_false(cp_srv_fetched_has(&f, CP_SRV_FETCHED_MAX));
	cp_srv_fetched_add(&f, 7); /* a repeat at the bound: still tracked */
	assert_false(f.all);
	cp_srv_fetched_add(&f, CP_SRV_FETCHED_MAX);
	assert_true(f.all);
	assert_int_equal(f.n, 0); /* the array is given back */
	assert_true(cp_srv_fetched_has(&f, 123456789));
	cp_srv_fetched_add(&f, 5);
	assert_true(f.all);
	cp_srv_fetched_free(&f);
	assert_false(f.all);
	assert_false(cp_srv_fetched_has(&f, 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_has_nothing),
	    cmocka_unit_test(test_add_has_repeats),
	    cmocka_unit_test(test_bound_turns_into_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
