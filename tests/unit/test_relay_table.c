/* SPDX-License-Identifier: MIT */
/* relay_table: the caps, lookups by session id and relay id, slot reuse, walking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay_table.h"

enum { N = 4 };

struct fix {
	struct relay_table *t;
	struct relay_sess s[N + 2];
};

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	f.t = relay_table_new(N, 2);
	*state = &f;
	return f.t ? 0 : -1;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	relay_table_free(f->t);
	return 0;
}

/* Record @p i for @p requester, session id i, i, ... */
static struct relay_sess *rec(struct fix *f, int i, const char *requester)
{
	struct relay_sess *s = &f->s[i];

	memset(s->sid, i + 1, SR_SID_LEN);
	snprintf(s->requester, sizeof(s->requester), "%s", requester);
	return s;
}

static void add(struct fix *f, int i, const char *requester)
{
	struct relay_sess *s = rec(f, i, requester);

	assert_int_equal(relay_table_admit(f->t, requester), 0);
	assert_int_equal(relay_table_add(f->t, s), 0);
}

static void test_new_needs_slots(void **state)
{
	assert_null(relay_table_new(0, 1));
	relay_table_free(NULL);
}

static void test_caps(void **state)
{
	struct fix *f = *state;

	add(f, 0, "@a");
	add(f, 1, "@a");
	assert_int_equal(relay_table_admit(f->t, "@a"), -EDQUOT);
	assert_int_equal(relay_table_count(f->t, "@a"), 2);
	add(f, 2, "@c");
	add(f, 3, "@d");
	assert_int_equal(relay_table_admit(f->t, "@e"), -EUSERS);
	assert_int_equal(relay_table_admit(f->t, "@a"), -EUSERS); /* full beats quota */
	assert_int_equal(relay_table_add(f->t, rec(f, 4, "@e")), -EUSERS);
	/* a removed session gives back its slot and its requester's quota */
	relay_table_remove(f->t, &f->s[0]);
	assert_int_equal(relay_table_count(f->t, "@a"), 1);
	assert_int_equal(relay_table_admit(f->t, "@a"), 0);
	assert_int_equal(relay_table_admit(f->t, "@e"), 0);
}

static void test_find(void **state)
{
	struct fix *f = *state;
	uint8_t none[SR_SID_LEN];

	add(f, 0, "@a");
	add(f, 1, "@b");
	assert_ptr_equal(relay_table_find(f->t, f->s[0].sid), &f->s[0]);
	assert_ptr_equal(relay_table_find(f->t, f->s[1].sid), &f->s[1]);
	memset(none, 9, sizeof(none));
	assert_null(relay_table_find(f->t, none));
	relay_table_remove(f->t, &f->s[0]);
	assert_null(relay_table_find(f->t, f->s[0].sid));
	assert_ptr_equal(relay_table_find(f->t, f->s[1].sid), &f->s[1]);
}

/* Session ids that hash alike (same first bytes) share a chain and stay apart. */
static void test_find_same_bucket(void **state)
{
	struct fix *f = *state;
	struct relay_sess *a = rec(f, 0, "@a"), *b = rec(f, 1, "@b");

	memset(b->sid, 1, 4);
	assert_int_equal(relay_table_add(f->t, a), 0);
	assert_int_equal(relay_table_add(f->t, b), 0);
	assert_ptr_equal(relay_table_find(f->t, a->sid), a);
	assert_ptr_equal(relay_table_find(f->t, b->sid), b);
	relay_table_remove(f->t, a); /* the chain's tail */
	assert_null(relay_table_find(f->t, a->sid));
	assert_ptr_equal(relay_table_find(f->t, b->sid), b);
}

static void test_relay_ids(void **state)
{
	struct fix *f = *state;
	uint8_t side = 9;
	uint32_t id;

	add(f, 0, "@a");
	add(f, 1, "@a");
	id = relay_sess_relay_id(&f->s[1], SR_SIDE_B);
	assert_int_equal(id, 1u << 1 | 1);
	assert_ptr_equal(relay_table_by_relay_id(f->t, id, &side), &f->s[1]);
	assert_int_equal(side, SR_SIDE_B);
	assert_ptr_equal(relay_table_by_relay_id(f->t, id - 1, &side), &f->s[1]);
	assert_int_equal(side, SR_SIDE_A);
	assert_null(relay_table_by_relay_id(f->t, 3u << 1, &side)); /* free slot */
	assert_null(relay_table_by_relay_id(f->t, N << 1, &side));  /* no such slot */
	assert_null(relay_table_by_relay_id(f->t, UINT32_MAX, &side));
	relay_table_remove(f->t, &f->s[1]);
	assert_null(relay_table_by_relay_id(f->t, id, &side));
}

/* Slots go round: a freed slot (its relay ids) is not handed out again at once. */
static void test_slots_round_robin(void **state)
{
	struct fix *f = *state;

	add(f, 0, "@a");
	add(f, 1, "@b");
	assert_int_equal(f->s[0].slot, 0);
	assert_int_equal(f->s[1].slot, 1);
	relay_table_remove(f->t, &f->s[0]);
	add(f, 2, "@c");
	assert_int_equal(f->s[2].slot, 2);
	add(f, 3, "@d");
	add(f, 4, "@e"); /* wraps around to the free slot 0 */
	assert_int_equal(f->s[4].slot, 0);
}

static void test_walk_while_removing(void **state)
{
	struct fix *f = *state;
	struct relay_sess *s;
	uint32_t cur = 0;
	int seen = 0;

	add(f, 0, "@a");
	add(f, 1, "@b");
	add(f, 2, "@c");
	relay_table_remove(f->t, &f->s[1]);
	while ((s = relay_table_next(f->t, &cur))) {
		relay_table_remove(f->t, s);
		seen++;
	}
	assert_int_equal(seen, 2);
	cur = 0;
	assert_null(relay_table_next(f->t, &cur));
	assert_int_equal(relay_table_count(f->t, "@a"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_needs_slots),
	    cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_same_bucket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slots_round_robin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_while_removing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
