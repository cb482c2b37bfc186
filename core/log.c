/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int log_level_active = PL_LOG_INFO;
static const char *prog = "portless";

static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(int lvl)
{
	if (lvl < PL_LOG_ERR)
		lvl = PL_LOG_ERR;
	if (lvl > PL_LOG_DEBUG)
		lvl = PL_LOG_DEBUG;
	log_level_active = lvl;
}

int log_level_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i <= PL_LOG_DEBUG; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

int log_init(const char *progname)
{
	const char *env = getenv("PORTLESS_LOG");
	int lvl;

	if (progname) {
		const char *slash = strrchr(progname, '/');
		prog = slash ? slash + 1 : progname;
	}
	if (!env || !*env)
		return 0;
	lvl = log_level_parse(env);
	if (lvl < 0) {
		log_msg(PL_LOG_ERR, "PORTLESS_LOG=%s: unknown level (error, warn, info, debug)",
			env);
		return -EINVAL;
	}
	log_set_level(lvl);
	return 0;
}

void log_emit(int lvl, int err, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (lvl < 0 || lvl > PL_LOG_DEBUG)
		lvl = PL_LOG_ERR;
	if (err >= 0)
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, prog, names[lvl], msg, strerror(err));
	else
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, prog, names[lvl], msg);
}
