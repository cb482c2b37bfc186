/* SPDX-License-Identifier: MIT */
/** @file log.h  One logger for every portless program and library. */
#ifndef PORTLESS_LOG_H
#define PORTLESS_LOG_H

#include <stdbool.h>

/** Levels; lower is more severe. */
enum log_level {
	PL_LOG_ERR = 0,
	PL_LOG_WARN = 1,
	PL_LOG_INFO = 2,
	PL_LOG_DEBUG = 3,
};

/** Active level; read it through log_enabled(). */
extern int log_level_active;

/** True when messages at @p lvl are emitted (nothing is formatted otherwise). */
#define log_enabled(lvl) ((int)(lvl) <= log_level_active)

/** Log a printf-style message; the format is not evaluated below the level. */
#define log_msg(lvl, ...)                                                                          \
	do {                                                                                       \
		if (log_enabled(lvl))                                                              \
			log_emit((lvl), -1, __VA_ARGS__);                                          \
	} while (0)

/** Like log_msg() but appends ": strerror(err)"; @p err is a positive errno. */
#define log_msg_errno(lvl, err, ...)                                                               \
	do {                                                                                       \
		if (log_enabled(lvl))                                                              \
			log_emit((lvl), (err), __VA_ARGS__);                                       \
	} while (0)

/** Emit unconditionally; @p err < 0 means no errno suffix. Use the macros. */
void log_emit(int lvl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Set the level. */
void log_set_level(int lvl);

/** Parse "error|warn|info|debug" (or 0..3); returns -1 when unknown. */
int log_level_parse(const char *s);

/**
 * Initialise from the environment (PORTLESS_LOG) and remember the program
 * name used as a prefix. Returns 0, or -EINVAL with a message when the
 * variable holds an unknown level.
 */
int log_init(const char *progname);

#endif
