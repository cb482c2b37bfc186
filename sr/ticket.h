/* SPDX-License-Identifier: MIT */
/**
 * @file ticket.h  SR tickets and side authentication (I/O-free).
 *
 * The SR keeps one random master key (guarded memory). A ticket's per-side
 * secret is derived from it, so the SR's session records hold no secrets:
 *
 *   secret(side) = BLAKE2b-256(key = master, "portless-sr-secret-v1" || session_id || side)
 *
 * A side proves its secret without sending it:
 *
 *   mac = BLAKE2b-256(key = secret, SR_AUTH_CTX || sr_nonce || session_id || side)
 *
 * compared with sodium_memcmp. struct sr_auth is the per-side state
 * machine: ISSUED -> CHALLENGED (nonce) -> DONE; DONE is final (one use).
 * Roaming keepalives are keyed with roam = BLAKE2b-256(key = secret, SR_ROAM_CTX).
 * Wire layouts: sr_proto.h and docs/PROTOCOL.md.
 */
#ifndef PORTLESS_TICKET_H
#define PORTLESS_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "sr_proto.h"

/* ---- the SR's secret state ---- */

struct sr_issuer;

/** Fresh random master key; NULL on ENOMEM. */
struct sr_issuer *sr_issuer_new(void);
/** Wipe and free; NULL is a no-op. */
void sr_issuer_free(struct sr_issuer *iss);

/** The secret of @p side of session @p sid. */
void sr_issuer_secret(const struct sr_issuer *iss, const uint8_t sid[SR_SID_LEN], uint8_t side,
		      uint8_t out[SR_SECRET_LEN]);

/* ---- tickets ---- */

/** A whole ticket (MSG_SR_TICKET payload, for the requester). Wipe with sr_ticket_wipe(). */
struct sr_ticket {
	uint8_t status; /**< enum sr_ticket_status */
	uint8_t request_id[16];
	uint8_t session_id[SR_SID_LEN];
	uint64_t expiry; /**< unix seconds; unused sides are refused after it */
	char host[SR_HOST_MAX + 1];
	uint16_t tcp_port, udp_port;
	uint8_t secret[2][SR_SECRET_LEN]; /**< [SR_SIDE_A], [SR_SIDE_B] */
	char reason[128];                 /**< status != OK */
};

/** One side's part of a ticket (what A forwards to B in its session request). */
struct sr_side_ticket {
	uint8_t side;
	uint8_t session_id[SR_SID_LEN];
	uint64_t expiry;
	char host[SR_HOST_MAX + 1];
	uint16_t tcp_port, udp_port;
	uint8_t secret[SR_SECRET_LEN];
};

/**
 * Is @p host a numeric IPv4 or IPv6 address? Tickets carry only those: the
 * endpoint that connects never resolves a name a peer put there (it would
 * block its event loop on that name's servers).
 */
bool sr_host_numeric(const char *host);

/**
 * Make a ticket: random session id, secrets from the master key, expiry =
 * @p now + @p ttl. @p host is the advertised address (-EINVAL when empty or
 * too long); endpoints decode only numeric ones (sr_host_numeric()).
 */
int sr_issuer_issue(const struct sr_issuer *iss, uint64_t now, unsigned ttl, const char *host,
		    uint16_t tcp_port, uint16_t udp_port, struct sr_ticket *t)
    __attribute__((warn_unused_result));

/** Encode a MSG_SR_TICKET payload (at most SR_TICKET_MAX bytes). 0 or -ENOSPC/-EINVAL. */
int sr_ticket_encode(const struct sr_ticket *t, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
/**
 * Decode a MSG_SR_TICKET payload; false on any malformation (trailing bytes
 * too) and on a host that is not a numeric address (sr_host_numeric()).
 */
bool sr_ticket_decode(const uint8_t *in, size_t len, struct sr_ticket *t)
    __attribute__((warn_unused_result));
void sr_ticket_wipe(struct sr_ticket *t);

/** Extract @p side's part of a ticket. */
void sr_ticket_side(const struct sr_ticket *t, uint8_t side, struct sr_side_ticket *out);

/** Encode a side ticket (at most SR_SIDE_TICKET_MAX bytes). */
int sr_side_ticket_encode(const struct sr_side_ticket *st, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
/** Decode a side ticket; false on any malformation and on a host that is a name. */
bool sr_side_ticket_decode(const uint8_t *in, size_t len, struct sr_side_ticket *st)
    __attribute__((warn_unused_result));
void sr_side_ticket_wipe(struct sr_side_ticket *st);

/** MSG_SR_REQUEST payload. */
struct sr_request {
	uint8_t flags;         /**< reserved, 0 */
	char peer[HANDLE_BUF]; /**< the other side's handle, or "" */
};
int sr_request_encode(const struct sr_request *rq, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
bool sr_request_decode(const uint8_t *in, size_t len, struct sr_request *rq)
    __attribute__((warn_unused_result));

/* ---- side authentication ---- */

/** The side's proof over the SR's nonce. */
void sr_auth_mac(const uint8_t secret[SR_SECRET_LEN], const uint8_t nonce[SR_NONCE_LEN],
		 const uint8_t sid[SR_SID_LEN], uint8_t side, uint8_t mac[SR_MAC_LEN]);

/** Roaming key of a side (both the side and the SR compute it). */
void sr_roam_key(const uint8_t secret[SR_SECRET_LEN], uint8_t key[32]);

/** MAC of a ROAM message: over its first SR_ROAM_LEN - SR_MAC_LEN bytes. */
void sr_roam_mac(const uint8_t key[32], const uint8_t *msg, uint8_t mac[SR_MAC_LEN]);

enum sr_auth_state {
	SR_AS_ISSUED = 0,
	SR_AS_CHALLENGED = 1,
	SR_AS_DONE = 2,
};

enum { SR_NONCE_TTL = 10 }; /**< seconds a challenge nonce stays valid */

/** Per-side authentication state, kept by the SR in its session record. */
struct sr_auth {
	uint8_t state; /**< enum sr_auth_state */
	uint8_t nonce[SR_NONCE_LEN];
	double nonce_t;
};

/**
 * A HELLO arrived: give the nonce to challenge with (the same one again
 * while it is fresh, so retransmitted HELLOs get the same answer).
 * -EALREADY when the side already authenticated.
 */
int sr_auth_challenge(struct sr_auth *a, double now, uint8_t nonce[SR_NONCE_LEN])
    __attribute__((warn_unused_result));

/**
 * An AUTH arrived for session @p sid, side @p side (whose ticket expires at
 * @p expiry): check it. Returns 0 (now DONE), -EALREADY (secret already
 * used), -ETIMEDOUT (ticket expired), -EACCES (no fresh challenge, nonce
 * mismatch or wrong MAC). Constant-time compare; temporaries wiped.
 */
int sr_auth_verify(struct sr_auth *a, const struct sr_issuer *iss, const uint8_t sid[SR_SID_LEN],
		   uint8_t side, uint64_t expiry, uint64_t unix_now, double now,
		   const uint8_t nonce[SR_NONCE_LEN], const uint8_t mac[SR_MAC_LEN])
    __attribute__((warn_unused_result));

#endif
