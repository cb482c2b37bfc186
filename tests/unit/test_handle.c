/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handle.h"

static void test_good(void **state)
{
	static const char *const good[] = {
	    "@a",
	    "@0",
	    "@alice",
	    "@alice_device",
	    "@a-b",
	    "@relay",
	    "@x1_2-3",
	    "@9lives",
	    /* 55 characters: the longest allowed */
	    "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(handle_valid(good[i]));
	assert_int_equal(strlen(good[8]), 56);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "@",
	    "alice",
	    "@@alice",
	    "@Alice",
	    "@_alice",
	    "@-alice",
	    "@ali ce",
	    "@alice\n",
	    "@al.ice",
	    "@ali/ce",
	    "@alice@",
	    " @alice",
	    "@ALICE",
	    /* 56 characters: one too many */
	    "@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    /* Unicode look-alikes: Cyrillic a, fullwidth a, dotless i, zero-width space */
	    "@\xd0\xb0lice",
	    "@\xef\xbd\x81lice",
	    "@al\xc4\xb1"
	    "ce",
	    "@ali\xe2\x80\x8b"
	    "ce",
	    "@alice\xc2\xa0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(handle_valid(bad[i]));
	assert_false(handle_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
