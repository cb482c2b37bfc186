/* SPDX-License-Identifier: MIT */
/** @file daemon.h  portlessd: the roles, the local control socket, signals, readiness. */
#ifndef PORTLESS_DAEMON_H
#define PORTLESS_DAEMON_H

/**
 * Run portlessd with the configuration at @p config_path (NULL: the default)
 * until SIGTERM/SIGINT; every session is ended and cleaned up on the way out.
 * Returns a process exit code.
 */
int daemon_run(const char *config_path);

#endif
