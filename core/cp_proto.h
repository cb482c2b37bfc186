/* SPDX-License-Identifier: MIT */
/**
 * @file cp_proto.h  The control-plane wire format (portless-cp <-> clients).
 *
 * Everything on the wire is here: handshake sizes, frame header, message
 * types, limits and the typed error codes. Byte-level description:
 * docs/PROTOCOL.md, "Control plane". All integers are big-endian.
 *
 * Connection:
 *   C->S  CLIENT_HELLO  "PLCP" | version u8 | client ephemeral X25519 pk[32]
 *   S->C  SERVER_HELLO  server ephemeral X25519 pk[32]
 *   then AEAD frames both ways: u32 ct_len | ciphertext (ct_len includes the
 *   16-byte tag; the 4 header bytes are the associated data). The server's
 *   first frame is CHALLENGE; the client answers AUTH or ENROLL.
 * Message (frame plaintext): type u8 | req u32 | body (per type, below).
 */
#ifndef PORTLESS_CP_PROTO_H
#define PORTLESS_CP_PROTO_H

#include <stdint.h>

#include "envelope.h"
#include "handle.h"

enum {
	CP_VERSION = 1,
	CP_KEY_LEN = 32,  /**< X25519 public/secret key, AEAD key */
	CP_HASH_LEN = 32, /**< transcript / session hash */
	CP_CHALLENGE_LEN = 32,
	CP_SIG_LEN = 64, /**< Ed25519 signature */
	CP_MAGIC_LEN = 4,
	CP_CLIENT_HELLO_LEN = CP_MAGIC_LEN + 1 + CP_KEY_LEN, /**< 37 */
	CP_SERVER_HELLO_LEN = CP_KEY_LEN,                    /**< 32 */
	CP_TAG_LEN = 16,    /**< crypto_aead_chacha20poly1305_ietf_ABYTES */
	CP_NONCE_LEN = 12,  /**< crypto_aead_chacha20poly1305_ietf_NPUBBYTES */
	CP_FRAME_HDR = 4,   /**< u32 ciphertext length */
	CP_MSG_HDR = 5,     /**< type u8 + req u32 */
	CP_MSG_MAX = 65536, /**< largest frame plaintext */
	CP_CT_MAX = CP_MSG_MAX + CP_TAG_LEN,
	CP_FRAME_MAX = CP_FRAME_HDR + CP_CT_MAX, /**< hard cap on one frame on the wire */
	CP_ERRMSG_MAX = 255,                     /**< str8 */
	CP_CODE_MAX = 64,                        /**< enrollment code text */
	CP_CODE_BUF = CP_CODE_MAX + 1,
	CP_CODE_BYTES = 20,  /**< random bytes in a fresh code (base32: 32 chars) */
	CP_RECNAME_MAX = 32, /**< record name: [a-z0-9._-]{1,32} */
	CP_RECNAME_BUF = CP_RECNAME_MAX + 1,
	CP_RECORD_MAX = 4096,   /**< bytes of one record */
	CP_RECORDS_PER_ID = 32, /**< records per identity */
	CP_HOSTPORT_MAX = 255,  /**< str8 "host:port" in LOOKUP answers */
	CP_HOSTPORT_BUF = CP_HOSTPORT_MAX + 1,
	CP_ACK_MAX = 256,                      /**< seqs per ACK message */
	CP_EXPIRY_MAX = 86400,                 /**< a notification lives at most one day */
	CP_CLOCK_SKEW = 300,                   /**< seconds of sender clock skew tolerated */
	CP_QUEUE_MAX = 4096,                   /**< notifications queued for one recipient */
	CP_QUEUE_BYTES_MAX = 16 * 1024 * 1024, /**< bytes queued for one recipient */
	CP_SENDER_QUOTA = 1024, /**< notifications one sender may have queued (all recipients) */
};

_Static_assert(CP_CLIENT_HELLO_LEN == 37, "client hello size");
_Static_assert(CP_MSG_HDR + 8 + 4 + ENVELOPE_MAX + 2 * (1 + HANDLE_MAX) <= CP_MSG_MAX,
	       "a NOTIFY/PUSH with the largest envelope fits one frame");
_Static_assert(CP_FRAME_MAX == 65556, "frame cap");

/** "PLCP" */
#define CP_MAGIC "PLCP"

/** Message types (frame plaintext byte 0). */
enum cp_msg_type {
	/* client -> server */
	CP_T_AUTH = 0x01, /**< str8 handle | sig[64] */
	CP_T_ENROLL =
	    0x02, /**< str8 handle | str8 code | sign_pk[32] | box_pk[32] | keysig[64] | sig[64] */
	CP_T_LOOKUP = 0x03,     /**< str8 handle                       -> CP_T_R_LOOKUP */
	CP_T_GET_KEYS = 0x04,   /**< str8 handle                       -> CP_T_R_KEYS */
	CP_T_PUT_RECORD = 0x05, /**< str8 name | lv16 data             -> CP_T_R_OK */
	CP_T_GET_RECORD = 0x06, /**< str8 handle | str8 name           -> CP_T_R_RECORD */
	CP_T_DEL_RECORD = 0x07, /**< str8 name                         -> CP_T_R_OK */
	CP_T_NOTIFY =
	    0x08, /**< u64 expiry | lv32 envelope        -> CP_T_R_NOTIFIED (after commit) */
	CP_T_MONITOR = 0x09, /**< (empty)                           -> CP_T_R_OK, then CP_T_PUSH */
	CP_T_ACK = 0x0a,     /**< u16 n | n x u64 seq               (no answer) */
	CP_T_PING = 0x0b,    /**< (empty)                           -> CP_T_R_OK */
	CP_T_ROTATE = 0x0c,  /**< keysig[64] (new keys' self-signature) | lv16 rotation proof
				     (cp_rot.h, signed by the current key) -> CP_T_R_OK */
	/* server -> client */
	CP_T_CHALLENGE = 0x80,  /**< challenge[32] (req 0, first frame) */
	CP_T_R_OK = 0x81,       /**< (empty) */
	CP_T_R_ERR = 0x82,      /**< u16 code | str8 message */
	CP_T_R_LOOKUP = 0x83,   /**< str8 handle | str8 host:port | server_pk[32] */
	CP_T_R_KEYS = 0x84,     /**< str8 handle | sign_pk[32] | box_pk[32] | keysig[64]
				     [| lv16 rotation proof (1..CP_ROT_MAX bytes), when rotated] */
	CP_T_R_RECORD = 0x85,   /**< lv16 data */
	CP_T_R_NOTIFIED = 0x86, /**< u64 seq | u8 flags (CP_NOTIFIED_*) */
	CP_T_PUSH = 0x87,       /**< u64 seq | u64 expiry | lv32 envelope (req 0) */
	CP_T_REVOKED = 0x88,    /**< str8 handle (req 0): that identity was revoked; sent to
				     connections that fetched its keys (no answer) */
};

/**
 * Typed errors: on the wire (CP_T_R_ERR code, 1..63) and from the client
 * library (all values). 0 is success.
 */
/** Bits of CP_T_R_NOTIFIED's flags. */
enum {
	CP_NOTIFIED_ONLINE = 1, /**< the recipient had its monitor connection up (pushed at once) */
};

enum cp_err {
	CP_OK = 0,
	CP_E_PROTO = 1,            /**< malformed or unexpected message */
	CP_E_AUTH = 2,             /**< identity authentication failed */
	CP_E_NOT_AUTHED = 3,       /**< operation needs an authenticated identity */
	CP_E_UNKNOWN_IDENTITY = 4, /**< no such identity (not added or not enrolled) */
	CP_E_CODE_INVALID = 5,     /**< wrong enrollment code */
	CP_E_CODE_EXPIRED = 6,     /**< enrollment code expired */
	CP_E_CODE_USED = 7,        /**< enrollment code already used */
	CP_E_RATE_LIMITED = 8,     /**< too many attempts; retry later */
	CP_E_QUEUE_FULL = 9,       /**< recipient's queue is full */
	CP_E_QUOTA = 10,           /**< sender's quota of queued notifications used up */
	CP_E_TOO_BIG = 11,         /**< frame/envelope/record over its size limit */
	CP_E_EXPIRY = 12,          /**< expiry in the past or more than a day ahead */
	CP_E_FORGED_SENDER = 13,   /**< envelope's sender is not the authenticated identity */
	CP_E_NOT_FOUND = 14,       /**< no such record */
	CP_E_LIMIT = 15,           /**< too many records / connections / requests */
	CP_E_STORE = 16,           /**< server storage failure */
	CP_E_BUSY = 17,            /**< server overloaded; retry later */
	CP_E_ENROLLED = 18,        /**< identity already enrolled (with other keys) */
	CP_E_REMOTE_HOME = 19,     /**< identity's home is on another server (not supported yet) */
	CP_E_REPLACED = 20,        /**< a newer monitor connection of the same identity took over */
	CP_E_INTERNAL = 21,        /**< server bug */
	CP_E_REVOKED = 22,         /**< identity revoked (home refuses it; peers refuse its pin) */
	CP_E_WIRE_MAX = 63,
	/* local to the client library, never on the wire */
	CP_E_CONNECT = 64,     /**< cannot connect to the server */
	CP_E_SERVER_KEY = 65,  /**< server failed the handshake: not the pinned server key */
	CP_E_TIMEOUT = 66,     /**< no answer in time */
	CP_E_CLOSED = 67,      /**< connection lost before the answer */
	CP_E_NOMEM = 68,       /**< out of memory */
	CP_E_BAD_KEYS = 69,    /**< fetched public keys fail their self-signature */
	CP_E_KEY_CHANGED = 70, /**< an identity's keys differ from the pinned ones */
	CP_E_ENVELOPE = 71,    /**< cannot seal/open an envelope */
	CP_E_CONFIG = 72,      /**< bad configuration (cp.conf, key file) */
	CP_E_ARG = 73,         /**< bad argument (handle, size, ...) */
};

/** Human-readable text for a cp_err (never NULL). */
const char *cp_strerror(int err);

#endif
