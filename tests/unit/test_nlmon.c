/* SPDX-License-Identifier: MIT */
/* nlmon_feed on malformed netlink buffers (regressions from fuzz_nlmon). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>

#include "nlmon.h"

static void on_ev(struct nlmon *m, const struct nlmon_event *ev, void *arg)
{
	(void)m;
	(void)ev;
	++*(int *)arg;
}

/* nlmsg_len >= 2^31: libmnl's (int) comparison took it as negative and walked backwards. */
static void test_negative_len(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	uint32_t buf[8];
	struct nlmon *m;
	int n = 0;

	(void)state;
	assert_int_equal(nlmon_new(loop, "lo", on_ev, &n, &m), 0);
	memset(buf, 0xef, 16);
	((uint8_t *)buf)[16] = '\n';
	assert_int_equal(nlmon_feed(m, buf, 17), -EBADMSG);
	/* a length past the buffer, a length under the header */
	memset(buf, 0, sizeof(buf));
	buf[0] = 64;
	assert_int_equal(nlmon_feed(m, buf, 32), -EBADMSG);
	buf[0] = 8;
	assert_int_equal(nlmon_feed(m, buf, 32), -EBADMSG);
	/* a well-formed NOOP still goes through */
	buf[0] = sizeof(struct nlmsghdr);
	((struct nlmsghdr *)(void *)buf)->nlmsg_type = NLMSG_NOOP;
	assert_int_equal(nlmon_feed(m, buf, sizeof(struct nlmsghdr)), 0);
	assert_int_equal(n, 0);
	nlmon_free(m);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_negative_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
