/* SPDX-License-Identifier: MIT */
/** @file net.h  Address parsing and non-blocking sockets; timers with jitter. */
#ifndef PORTLESS_NET_H
#define PORTLESS_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/** Parse "1.2.3.4:port", "[v6]:port" or "host:port" (numeric only). -EINVAL otherwise. */
int net_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
    __attribute__((warn_unused_result));

/** Render an address as "ip:port" / "[ip]:port". */
void net_addr_str(const struct sockaddr *sa, char *out, size_t cap);

/** Non-blocking, close-on-exec TCP listener with SO_REUSEADDR. Returns fd or -errno. */
int net_listen_tcp(const struct sockaddr *sa, socklen_t len, int backlog);

/** Non-blocking UDP socket bound to @p sa. Returns fd or -errno. */
int net_bind_udp(const struct sockaddr *sa, socklen_t len);

/**
 * Start a non-blocking TCP connect. Returns fd (connect may be in progress:
 * *in_progress set) or -errno. TCP_NODELAY is set.
 */
int net_connect_tcp(const struct sockaddr *sa, socklen_t len, bool *in_progress);

/** Monotonic seconds. */
double net_now(void);

/** Unix time in seconds. */
uint64_t net_unix_now(void);

/** @p base scaled by a uniform random factor in [1 - frac, 1 + frac]. */
double net_jitter(double base, double frac);

/** Exponential back-off: min(cap, base * 2^attempt) with +-25% jitter. */
double net_backoff(unsigned attempt, double base, double cap);

#endif
