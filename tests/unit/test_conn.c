/* SPDX-License-Identifier: MIT */
/* The libev glue: conn (buffered, back-pressured stream I/O) over a socketpair,
 * and the jittered back-off the reconnecting clients use. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "conn.h"
#include "net.h"

struct side {
	struct conn c;
	size_t got;   /* bytes consumed by on_data */
	bool consume; /* on_data consumes what it sees */
	int drains, closes, close_err;
	uint8_t seen[1 << 16];
};

static int on_data(struct conn *c)
{
	struct side *s = container_of(c, struct side, c);
	size_t n = conn_in_len(c);

	if (!s->consume)
		return 0;
	if (s->got + n <= sizeof(s->seen))
		memcpy(s->seen + s->got, conn_in(c), n);
	s->got += n;
	conn_consume(c, n);
	return 0;
}

static int on_drain(struct conn *c)
{
	container_of(c, struct side, c)->drains++;
	return 0;
}

static void on_close(struct conn *c, int err)
{
	struct side *s = container_of(c, struct side, c);

	s->closes++;
	s->close_err = err;
	conn_close(c);
}

static const struct conn_ops ops = {.on_data = on_data, .on_drain = on_drain, .on_close = on_close};

struct pair {
	struct ev_loop *loop;
	struct side a, b;
};

static int setup(void **state)
{
	static struct pair p;
	int sv[2];

	memset(&p, 0, sizeof(p));
	p.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(p.loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	/* small kernel buffers, so back-pressure shows with little data */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){4096}, sizeof(int));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &(int){4096}, sizeof(int));
	assert_int_equal(conn_init(&p.a.c, p.loop, sv[0], &ops, 1024, 1 << 20, false), 0);
	assert_int_equal(conn_init(&p.b.c, p.loop, sv[1], &ops, 256, 8192, false), 0);
	p.a.consume = p.b.consume = true;
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	conn_close(&p->a.c);
	conn_close(&p->b.c);
	ev_loop_destroy(p->loop);
	return 0;
}

/* Run the loop until @p done, at most 5000 rounds. */
static void spin(struct pair *p, bool (*done)(struct pair *))
{
	for (int i = 0; i < 5000 && !done(p); i++) {
		ev_run(p->loop, EVRUN_NOWAIT);
		usleep(100);
	}
}

static bool b_has_100(struct pair *p)
{
	return p->b.got >= 100;
}

static void test_roundtrip(void **state)
{
	struct pair *p = *state;
	uint8_t msg[100];

	for (int i = 0; i < 100; i++)
		msg[i] = (uint8_t)i;
	assert_int_equal(conn_write(&p->a.c, msg, sizeof(msg)), 0);
	spin(p, b_has_100);
	assert_int_equal(p->b.got, 100);
	assert_memory_equal(p->b.seen, msg, 100);
}

enum { BIG = 600000 }; /* well over what the socket pair buffers */

static bool b_has_all(struct pair *p)
{
	return p->b.got >= BIG;
}

static bool a_drained(struct pair *p)
{
	return p->a.drains > 0;
}

static void test_backpressure(void **state)
{
	struct pair *p = *state;
	static uint8_t big[BIG];
	int r = 0;

	memset(big, 0x5a, sizeof(big));
	p->b.consume = false; /* b's 256-byte input fills; it stops reading */
	assert_int_equal(conn_write(&p->a.c, big, sizeof(big)), 0);
	for (int i = 0; i < 50; i++)
		ev_run(p->loop, EVRUN_NOWAIT);
	assert_int_equal(conn_in_len(&p->b.c), 256); /* full, nothing consumed */
	assert_false(ev_is_active(&p->b.c.rio));     /* reading stopped */
	assert_true(conn_pending(&p->a.c) > 0);      /* the rest waits at a */
	assert_true(conn_congested(&p->a.c));
	/* over out_max: refused whole, nothing queued */
	size_t before = conn_pending(&p->a.c);
	r = conn_write(&p->a.c, big, sizeof(big));
	assert_int_equal(r, -ENOBUFS);
	assert_int_equal(conn_pending(&p->a.c), before);
	/* b consumes again: everything arrives, in order, and a reports the drain */
	p->b.consume = true;
	assert_int_equal(conn_set_in_cap(&p->b.c, 1 << 16), 0);
	on_data(&p->b.c);
	spin(p, b_has_all);
	spin(p, a_drained);
	assert_int_equal(p->b.got, sizeof(big));
	assert_int_equal(p->b.seen[1000], 0x5a);
	assert_true(p->a.drains >= 1);
	assert_false(conn_congested(&p->a.c));
}

static void test_pause_resume(void **state)
{
	struct pair *p = *state;

	conn_pause_read(&p->b.c);
	assert_int_equal(conn_write(&p->a.c, "0123456789", 10), 0);
	for (int i = 0; i < 20; i++)
		ev_run(p->loop, EVRUN_NOWAIT);
	assert_int_equal(p->b.got, 0); /* paused: left in the socket */
	conn_resume_read(&p->b.c);
	spin(p, b_has_100); /* (ends at its round limit: 10 bytes is all there is) */
	assert_int_equal(p->b.got, 10);
	assert_memory_equal(p->b.seen, "0123456789", 10);
}

static bool b_closed(struct pair *p)
{
	return p->b.closes > 0;
}

static void test_eof(void **state)
{
	struct pair *p = *state;

	conn_close(&p->a.c);
	spin(p, b_closed);
	assert_int_equal(p->b.closes, 1);
	assert_int_equal(p->b.close_err, 0); /* EOF, not an error */
	assert_int_equal(conn_write(&p->b.c, "x", 1), -EPIPE);
	conn_close(&p->b.c); /* idempotent */
}

static void test_in_cap(void **state)
{
	struct pair *p = *state;

	assert_int_equal(conn_write(&p->a.c, "abcdef", 6), 0);
	p->b.consume = false;
	for (int i = 0; i < 20; i++)
		ev_run(p->loop, EVRUN_NOWAIT);
	assert_int_equal(conn_set_in_cap(&p->b.c, 4), -EINVAL); /* below what is buffered */
	assert_int_equal(conn_set_in_cap(&p->b.c, 4096), 0);
	assert_int_equal(conn_in_len(&p->b.c), 6);
	assert_memory_equal(conn_in(&p->b.c), "abcdef", 6);
}

static void test_cork(void **state)
{
	struct pair *p = *state;

	conn_set_cork(&p->a.c, true);
	assert_int_equal(conn_write(&p->a.c, "01234", 5), 0);
	assert_int_equal(conn_write(&p->a.c, "56789", 5), 0);
	for (int i = 0; i < 20; i++)
		ev_run(p->loop, EVRUN_NOWAIT);
	assert_int_equal(p->b.got, 0);               /* corked: nothing sent, */
	assert_int_equal(conn_pending(&p->a.c), 10); /* all of it queued */
	assert_false(ev_is_active(&p->a.c.wio));
	assert_int_equal(conn_flush(&p->a.c), 0); /* one send for both */
	assert_int_equal(conn_pending(&p->a.c), 0);
	spin(p, b_has_100);
	assert_int_equal(p->b.got, 10);
	assert_memory_equal(p->b.seen, "0123456789", 10);
	assert_int_equal(conn_write(&p->a.c, "ab", 2), 0);
	conn_set_cork(&p->a.c, false); /* uncorking flushes */
	assert_int_equal(conn_pending(&p->a.c), 0);
}

static void test_backoff(void **state)
{
	for (unsigned a = 0; a < 40; a++) {
		double want = 0.5;

		for (unsigned i = 0; i < a && want < 30; i++)
			want *= 2;
		if (want > 30)
			want = 30;
		for (int k = 0; k < 50; k++) {
			double d = net_backoff(a, 0.5, 30);

			assert_true(d >= want * 0.75 - 1e-9 && d <= want * 1.25 + 1e-9);
		}
	}
	/* jitter spreads: 200 draws of +-50% around 10 are not all equal */
	double lo = 100, hi = 0;

	for (int k = 0; k < 200; k++) {
		double j = net_jitter(10, 0.5);

		assert_true(j >= 5 - 1e-9 && j <= 15 + 1e-9);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	assert_true(hi - lo > 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cork, setup, teardown),
	    cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
