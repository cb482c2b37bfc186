/* SPDX-License-Identifier: MIT */
/* The logger: level parsing and clamping, nothing formatted below the level,
 * the errno suffix, PORTLESS_LOG. Output is captured from stderr. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Run @p fn with stderr going to a temporary file; the text lands in @p out. */
static void capture(void (*fn)(void), char *out, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void test_parse(void **state)
{
	assert_int_equal(log_level_parse("error"), PL_LOG_ERR);
	assert_int_equal(log_level_parse("WARN"), PL_LOG_WARN);
	assert_int_equal(log_level_parse("info"), PL_LOG_INFO);
	assert_int_equal(log_level_parse("debug"), PL_LOG_DEBUG);
	assert_int_equal(log_level_parse("0"), 0);
	assert_int_equal(log_level_parse("3"), 3);
	assert_int_equal(log_level_parse("4"), -1);
	assert_int_equal(log_level_parse("33"), -1);
	assert_int_equal(log_level_parse("verbose"), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

static void test_clamp(void **state)
{
	log_set_level(-5);
	assert_int_equal(log_level_active, PL_LOG_ERR);
	log_set_level(99);
	assert_int_equal(log_level_active, PL_LOG_DEBUG);
	log_set_level(PL_LOG_INFO);
	assert_true(log_enabled(PL_LOG_WARN));
	assert_false(log_enabled(PL_LOG_DEBUG));
}

static int evaluated;

static int side_effect(void)
{
	return ++evaluated;
}

static void below_and_at(void)
{
	log_set_level(PL_LOG_INFO);
	log_msg(PL_LOG_DEBUG, "hidden %d", side_effect());
	log_msg(PL_LOG_INFO, "shown %d", side_effect());
	log_msg_errno(PL_LOG_WARN, ENOENT, "opening %s", "x.key");
	log_msg_errno(PL_LOG_DEBUG, EACCES, "hidden too %d", side_effect());
}

static void test_below_level_not_formatted(void **state)
{
	char out[1024];

	evaluated = 0;
	capture(below_and_at, out, sizeof(out));
	/* the arguments of a suppressed message are not even evaluated */
	assert_int_equal(evaluated, 1);
	assert_non_null(strstr(out, "test_log info: shown 1\n"));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "test_log warn: opening x.key: No such file or directory\n"));
	/* one line per message, each with a time stamp prefix "hh:mm:ss.mmm " */
	assert_int_equal(out[2], ':');
	assert_int_equal(out[8], '.');
}

static void test_env(void **state)
{
	setenv("PORTLESS_LOG", "debug", 1);
	assert_int_equal(log_init("/usr/bin/test_log"), 0);
	assert_int_equal(log_level_active, PL_LOG_DEBUG);
	setenv("PORTLESS_LOG", "loud", 1);
	log_set_level(PL_LOG_WARN);
	assert_int_equal(log_init("test_log"), -EINVAL);
	assert_int_equal(log_level_active, PL_LOG_WARN); /* unchanged */
	unsetenv("PORTLESS_LOG");
	assert_int_equal(log_init("test_log"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_clamp),
	    cmocka_unit_test(test_below_level_not_formatted),
	    cmocka_unit_test(test_env),
	};

	unsetenv("PORTLESS_LOG");
	log_init("test_log");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
