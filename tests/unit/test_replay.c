/* SPDX-License-Identifier: MIT */
/* Replay window: tables of counter sequences and the expected verdicts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay.h"

struct step {
	uint64_t ctr;
	int want; /* 0, -EALREADY or -ESTALE */
};

static void run(const struct step *s, size_t n)
{
	struct replay_win w;

	replay_init(&w);
	for (size_t i = 0; i < n; i++) {
		int r = replay_check(&w, s[i].ctr);

		if (r != s[i].want)
			fail_msg("step %zu ctr %llu: got %d want %d", i,
				 (unsigned long long)s[i].ctr, r, s[i].want);
		if (r == 0)
			replay_commit(&w, s[i].ctr);
	}
}

#define RUN(t) run(t, sizeof(t) / sizeof(t[0]))

static void in_order(void **state)
{
	static const struct step t[] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}};
	RUN(t);
}

static void reordered_within_window(void **state)
{
	static const struct step t[] = {
	    {5, 0},
	    {1, 0},
	    {0, 0},
	    {4, 0},
	    {2, 0},
	    {3, 0},
	    {100, 0},
	    {6, 0},
	    {99, 0},
	    {5000, 0},
	    {(5000 - REPLAY_WINDOW) + 1, 0},
	    {1500, 0},
	    {5000 - REPLAY_WINDOW, -ESTALE},
	};
	RUN(t);
}

static void duplicates(void **state)
{
	static const struct step t[] = {
	    {0, 0}, {0, -EALREADY}, {1, 0},          {1, -EALREADY}, {10, 0},
	    {5, 0}, {5, -EALREADY}, {10, -EALREADY}, {0, -EALREADY},
	};
	RUN(t);
}

static void too_old(void **state)
{
	static const struct step t[] = {
	    {0, 0},  {REPLAY_WINDOW + 10, 0}, {9, -ESTALE},           {10, -ESTALE},
	    {11, 0}, {11, -EALREADY},         {REPLAY_WINDOW + 9, 0},
	};
	RUN(t);
}

static void jump_ahead(void **state)
{
	/* A far jump clears the whole bitmap: nothing old is remembered wrongly. */
	static const struct step t[] = {
	    {0, 0},
	    {1, 0},
	    {64, 0},
	    {1000000, 0},
	    {1000000, -EALREADY},
	    {999999, 0},
	    {64, -ESTALE},
	    {1000000 + 64, 0},
	    {1000000 + 128, 0},
	    {1000000 + 63, 0},
	    {1000000 + 63, -EALREADY},
	    {UINT64_MAX - 2, 0},
	    {UINT64_MAX - 1, 0},
	    {UINT64_MAX, -ESTALE},
	    {1000000 + 65, -ESTALE},
	};
	RUN(t);
}

static void window_edge(void **state)
{
	struct replay_win w;
	uint64_t top = 10000;

	replay_init(&w);
	replay_commit(&w, top);
	assert_int_equal(replay_check(&w, top - (REPLAY_WINDOW - 1)), 0);
	assert_int_equal(replay_check(&w, top - REPLAY_WINDOW), -ESTALE);
	assert_true(REPLAY_WINDOW >= 2048);
	/* every counter in the window accepted once, then all duplicates */
	for (uint64_t c = top - (REPLAY_WINDOW - 1); c < top; c++) {
		assert_int_equal(replay_check(&w, c), 0);
		replay_commit(&w, c);
	}
	for (uint64_t c = top - (REPLAY_WINDOW - 1); c <= top; c++)
		assert_int_equal(replay_check(&w, c), -EALREADY);
}

static void bit_boundaries(void **state)
{
	struct replay_win w;

	replay_init(&w);
	/* walking forward across every block boundary, skipping odd counters */
	for (uint64_t c = 0; c < 3 * REPLAY_BITS; c += 2) {
		assert_int_equal(replay_check(&w, c), 0);
		replay_commit(&w, c);
		if (c >= 2) {
			assert_int_equal(replay_check(&w, c - 2), -EALREADY);
			assert_int_equal(replay_check(&w, c - 1), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(in_order),       cmocka_unit_test(reordered_within_window),
	    cmocka_unit_test(duplicates),     cmocka_unit_test(too_old),
	    cmocka_unit_test(jump_ahead),     cmocka_unit_test(window_edge),
	    cmocka_unit_test(bit_boundaries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
