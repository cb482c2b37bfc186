/* SPDX-License-Identifier: MIT */
/**
 * @file sess.h  Session request / answer / end: the endpoint protocol carried in
 * control-plane envelopes (signed by the sender, sealed to the recipient).
 *
 * I/O-free encode/decode; the whole layout is here and in docs/PROTOCOL.md,
 * "Session request and answer". Side A is the client (requester), side B the
 * device; the SR session id names the session everywhere.
 */
#ifndef PORTLESS_SESS_H
#define PORTLESS_SESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_keys.h"
#include "handle.h"
#include "identity.h"
#include "sr_proto.h"
#include "ticket.h"

enum {
	SESS_VERSION = 2,   /**< 2: the answer's SSH key sealed to the session's ephemeral keys */
	SESS_USER_MAX = 32, /**< local user names (POSIX portable: 32) */
	SESS_SSHKEY_MAX = 1024,              /**< OpenSSH private key text for Ed25519 */
	SESS_BOX_MAX = SESS_SSHKEY_MAX + 16, /**< the key sealed (ChaCha20-Poly1305 tag) */
	SESS_HOSTKEYS_MAX = 4096,            /**< known_hosts-style public key lines */
	SESS_REASON_MAX = 128,
	SESS_REQUEST_MAX =
	    1 + SR_SID_LEN + 2 + SR_SIDE_TICKET_MAX + DP_PK_LEN + 1 + 1 + SESS_USER_MAX,
	SESS_ANSWER_MAX = 1 + SR_SID_LEN + 1 + DP_PK_LEN + 1 + 4 + 4 + 16 + 16 + 2 + 8 + 1 +
			  SESS_USER_MAX + 2 + SESS_BOX_MAX + 2 + SESS_HOSTKEYS_MAX,
};

/** Session request (client -> device, MSG_SESSION_REQUEST). */
struct sess_request {
	uint8_t session_id[SR_SID_LEN];
	struct sr_side_ticket ticket; /**< the device's side (B) of the SR ticket */
	uint8_t client_pk[DP_PK_LEN]; /**< client's ephemeral X25519 key */
	uint8_t aead_mask;            /**< 1 << enum dp_aead the client supports */
	char user[SESS_USER_MAX + 1]; /**< local user to log in as */
};

/** Status of an answer. Unauthorised requests get no answer at all. */
enum sess_status {
	SESS_OK = 0,
	SESS_BUSY = 1,   /**< session limit reached */
	SESS_FAILED = 2, /**< device-side failure (reason says which) */
};

/** Session answer (device -> client, MSG_SESSION_ANSWER). */
struct sess_answer {
	uint8_t session_id[SR_SID_LEN];
	uint8_t status; /**< enum sess_status */
	/* status == SESS_OK: */
	uint8_t device_pk[DP_PK_LEN];
	uint8_t aead; /**< enum dp_aead chosen by the device */
	struct in_addr device_v4, client_v4;
	struct in6_addr device_v6, client_v6;
	uint16_t mtu;
	uint64_t expiry; /**< unix seconds when the session (and its key) ends */
	char user[SESS_USER_MAX + 1];
	char sshkey[SESS_SSHKEY_MAX + 1]; /**< OpenSSH private key (text); on the wire
					       *   only sealed (box), see sess_answer_seal() */
	uint8_t box[SESS_BOX_MAX];        /**< the sealed sshkey as it travels */
	size_t box_len;
	char hostkeys[SESS_HOSTKEYS_MAX + 1]; /**< "ssh-ed25519 AAAA...\n" lines */
	/* status != SESS_OK: */
	char reason[SESS_REASON_MAX + 1];
};

/**
 * Forward secrecy for the answer: the SSH private key travels sealed with a
 * key derived from the session's data-plane chain key (dp_keys.chain: both
 * ephemeral X25519 keys and the transcript), not only inside the envelope to
 * the client's long-term key. sess_answer_seal() (device) turns a->sshkey
 * into a->box and wipes the text; sess_answer_open() (client, after deriving
 * its keys from the answer's device_pk) does the reverse. AD: the session id
 * and the device's ephemeral key. 0, or -EINVAL / -EBADMSG.
 */
int sess_answer_seal(struct sess_answer *a, const uint8_t chain[DP_KEY_LEN])
    __attribute__((warn_unused_result));
int sess_answer_open(struct sess_answer *a, const uint8_t chain[DP_KEY_LEN])
    __attribute__((warn_unused_result));

/** Session end (either side, MSG_SESSION_END). */
struct sess_end {
	uint8_t session_id[SR_SID_LEN];
	uint8_t reason; /**< enum sess_end_reason */
};

enum sess_end_reason {
	SESS_END_CLOSED = 1, /**< the user ended it */
	SESS_END_IDLE = 2,
	SESS_END_EXPIRED = 3, /**< maximum duration */
	SESS_END_SR_LOST = 4,
	SESS_END_ERROR = 5,
	SESS_END_REVOKED = 6, /**< the peer's identity was revoked (home or local) */
};

/**
 * Resume (client -> device, MSG_SESSION_RESUME): the relay path of session
 * @p session_id was lost; here is a new ticket (its own, new SR session id)
 * and a fresh ephemeral key. Addresses, key line and TUNs stay as they are.
 */
struct sess_resume {
	uint8_t session_id[SR_SID_LEN]; /**< the session being resumed */
	struct sr_side_ticket ticket;   /**< side B of the new ticket */
	uint8_t client_pk[DP_PK_LEN];
	uint8_t aead_mask;
};

/** Resumed (device -> client, MSG_SESSION_RESUMED). */
struct sess_resumed {
	uint8_t session_id[SR_SID_LEN];
	uint8_t status; /**< SESS_OK, or SESS_FAILED (unknown or ended session) */
	uint8_t device_pk[DP_PK_LEN];
	uint8_t aead;
};

enum {
	SESS_RESUME_MAX = 1 + SR_SID_LEN + 2 + SR_SIDE_TICKET_MAX + DP_PK_LEN + 1,
	SESS_RESUMED_MAX = 1 + SR_SID_LEN + 1 + DP_PK_LEN + 1,
};

int sess_resume_encode(const struct sess_resume *r, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
bool sess_resume_decode(const uint8_t *in, size_t len, struct sess_resume *r)
    __attribute__((warn_unused_result));
int sess_resumed_encode(const struct sess_resumed *r, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
bool sess_resumed_decode(const uint8_t *in, size_t len, struct sess_resumed *r)
    __attribute__((warn_unused_result));

int sess_request_encode(const struct sess_request *r, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
/** Decode; false on any malformation (bad lengths, trailing bytes, bad user name). */
bool sess_request_decode(const uint8_t *in, size_t len, struct sess_request *r)
    __attribute__((warn_unused_result));

int sess_answer_encode(const struct sess_answer *a, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
bool sess_answer_decode(const uint8_t *in, size_t len, struct sess_answer *a)
    __attribute__((warn_unused_result));

int sess_end_encode(const struct sess_end *e, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));
bool sess_end_decode(const uint8_t *in, size_t len, struct sess_end *e)
    __attribute__((warn_unused_result));

/** "closed", "idle", "maximum duration", "relay lost", "revoked" or "error" for a SESS_END_*. */
const char *sess_end_reason_str(int reason);

/** Wipe secrets (ticket secret, SSH private key) from a request/answer. */
void sess_request_wipe(struct sess_request *r);
void sess_answer_wipe(struct sess_answer *a);

/** True for a portable POSIX user name: [a-z_][a-z0-9_-]{0,31}. */
bool sess_user_valid(const char *u);

#endif
