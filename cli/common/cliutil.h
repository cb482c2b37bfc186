/* SPDX-License-Identifier: MIT */
/** @file cliutil.h  Small helpers shared by the portless programs. */
#ifndef PORTLESS_CLIUTIL_H
#define PORTLESS_CLIUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/** Exit codes shared by the programs. */
enum {
	CLI_OK = 0,
	CLI_FAIL = 1,  /**< the operation failed (message printed) */
	CLI_USAGE = 2, /**< bad command line */
};

/**
 * Resolve the key directory: @p opt (from --keys) if given, else the
 * default (identity_default_dir). Prints an error and returns -1 on failure.
 */
int cli_keys_dir(const char *opt, char *out, size_t cap);

/**
 * Make the key directory @p dir (mode 0700) and any missing parent (0700, as
 * XDG asks of ~/.local/share), like mkdir -p. Prints an error and returns -1
 * on failure; an existing directory is fine.
 */
int cli_make_keys_dir(const char *dir);

/** Load the identity in key directory @p dir, printing a clear error on failure. */
struct identity *cli_load_identity(const char *dir);

/** Parse a base64 32-byte public key (e.g. --server-key). */
int cli_parse_key32(const char *s, unsigned char out[32]);

/**
 * Find "--name VALUE" options: for each argv[i] equal to one of the names
 * in @p names (NULL-terminated), the value goes into the matching @p vals
 * slot and both words are removed from argv. Flags listed in @p flags (no
 * value) set the matching @p flagvals. Unknown "--x" words are an error.
 * Returns the new argc or -1 (message printed).
 */
int cli_take_opts(int argc, char **argv, const char *const *names, const char **vals,
		  const char *const *flags, bool *flagvals);

/**
 * Tell systemd (Type=notify units) that the service is ready, with a status
 * line; a no-op when not started by systemd or built without libsystemd.
 */
void cli_notify_ready(const char *status);

/**
 * The options every program and subcommand answers: when a word of argv
 * (argv[0] excluded, up to a "--") is --help or -h, print @p help to stdout;
 * when it is --version, print "@p prog VERSION". Returns true when one was
 * answered (the caller exits CLI_OK), false otherwise.
 */
bool cli_std_opts(int argc, char **argv, const char *prog, const char *help);

/** Print "@p prog VERSION" to stdout; returns CLI_OK. */
int cli_version(const char *prog);

#endif
