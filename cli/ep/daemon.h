/* SPDX-License-Identifier: MIT */
/** @file daemon.h  portlessd: the roles, the local control socket, signals, readiness. */
#ifndef PORTLESS_DAEMON_H
#define PORTLESS_DAEMON_H

#include <stdbool.h>

/**
 * Run portlessd with the configuration at @p config_path (NULL: the default)
 * until SIGTERM/SIGINT; every session is ended and cleaned up on the way out.
 * Returns a process exit code.
 */
int daemon_run(const char *config_path);

struct pdconf;

/**
 * Run with an already loaded configuration (borrowed). @p oneshot: exit once
 * the first session requested over the control socket has ended (the
 * private daemon `portless ssh` starts when run as root with no portlessd).
 */
int daemon_run_conf(const struct pdconf *conf, bool oneshot);

#endif
