/* SPDX-License-Identifier: MIT */
/**
 * @file sr_proto.h  The whole socket-rendezvous wire format, in one place.
 *
 * Three layers, byte level in docs/PROTOCOL.md ("Socket rendezvous", "Data
 * plane"):
 *  - the ticket (MSG_SR_REQUEST / MSG_SR_TICKET notification payloads, and
 *    the per-side part a client forwards to the device);
 *  - side messages between an SR client and the SR (HELLO, CHALLENGE, AUTH,
 *    WELCOME, ERROR, ROAM), one per UDP datagram or one per TCP frame;
 *  - data packets (sealed end to end; the SR forwards them unread).
 *
 * TCP carries the same messages in frames: u32 length, then the message.
 * All integers are big-endian. Never cast received bytes onto a struct.
 */
#ifndef PORTLESS_SR_PROTO_H
#define PORTLESS_SR_PROTO_H

#include <stdint.h>

enum {
	SR_VERSION = 1,
	SR_SID_LEN = 16,    /**< session id */
	SR_SECRET_LEN = 32, /**< one side's secret */
	SR_NONCE_LEN = 16,  /**< SR challenge nonce */
	SR_MAC_LEN = 32,    /**< BLAKE2b-256 keyed MAC */
	SR_HOST_MAX = 253,  /**< advertised host name / address text */
};

/** The two sides of a session. A = the requester (client), B = the device. */
enum sr_side {
	SR_SIDE_A = 0,
	SR_SIDE_B = 1,
};

/** Transports a side can use. */
enum sr_transport {
	SR_TR_NONE = 0,
	SR_TR_UDP = 1,
	SR_TR_TCP = 2,
};

/* ---- tickets (control-plane payloads) ---------------------------------- */

/** MSG_SR_REQUEST payload: version u8, flags u8, peer str8 (who B will be, may be empty). */
enum {
	SR_REQ_MIN = 1 + 1 + 1,
	SR_REQ_MAX = SR_REQ_MIN + 56,
};

/** Status byte of a MSG_SR_TICKET payload. */
enum sr_ticket_status {
	SR_TK_OK = 0,
	SR_TK_DENIED = 1,   /**< requester not allowed by --allow */
	SR_TK_FULL = 2,     /**< total or per-identity cap reached */
	SR_TK_BAD = 3,      /**< malformed request */
	SR_TK_INTERNAL = 4, /**< SR-side failure */
};

/**
 * MSG_SR_TICKET payload:
 *   version u8, status u8, request_id[16] (the request envelope's id), then
 *   when status == OK:
 *     session_id[16], expiry u64 (unix s), host str8, tcp_port u16,
 *     udp_port u16, secret_a[32], secret_b[32]
 *   else: reason str8.
 */
enum {
	SR_TICKET_HDR = 1 + 1 + 16,
	SR_TICKET_MAX =
	    SR_TICKET_HDR + SR_SID_LEN + 8 + 1 + SR_HOST_MAX + 2 + 2 + 2 * SR_SECRET_LEN,
};

/**
 * Side ticket (what side B gets, forwarded inside the session request):
 *   version u8, side u8, session_id[16], expiry u64, host str8,
 *   tcp_port u16, udp_port u16, secret[32]
 */
enum {
	SR_SIDE_TICKET_MIN = 1 + 1 + SR_SID_LEN + 8 + 1 + 2 + 2 + SR_SECRET_LEN,
	SR_SIDE_TICKET_MAX = SR_SIDE_TICKET_MIN + SR_HOST_MAX,
};

/* ---- side messages (SR client <-> SR) ---------------------------------- */

/** First byte of every SR datagram / TCP frame. */
enum sr_msg {
	SR_MSG_HELLO = 0x01,     /**< side -> SR */
	SR_MSG_CHALLENGE = 0x02, /**< SR -> side */
	SR_MSG_AUTH = 0x03,      /**< side -> SR */
	SR_MSG_WELCOME = 0x04,   /**< SR -> side: authenticated (waiting or paired) */
	SR_MSG_ERROR = 0x05,     /**< SR -> side, then the SR forgets the side */
	SR_MSG_ROAM = 0x06,      /**< side -> SR: keepalive / leave, proving the side's key */
	/** Clear type of every sealed data-plane packet (forwarded unread); inside the
	 *  ciphertext, also the inner kind of an IP packet. */
	SR_MSG_DATA = 0x10,
	/** Inner kind only (never in clear since data-plane version 2): in-band control. */
	SR_MSG_DATA_CTRL = 0x11,
};

/** True for types the SR forwards without reading. */
static inline int sr_msg_is_data(uint8_t t)
{
	return t >= 0x10 && t <= 0x1f;
}

/** Common head of side messages: type u8, version u8, side u8, x u8, session_id[16]. */
enum { SR_SIDE_HDR = 4 + SR_SID_LEN };

enum {
	/** HELLO: head (x = requested transport), zero padding to 64 bytes (no amplification). */
	SR_HELLO_LEN = 64,
	/** CHALLENGE: head (x = 0), sr_nonce[16]. */
	SR_CHALLENGE_LEN = SR_SIDE_HDR + SR_NONCE_LEN,
	/** AUTH: head (x = 0), sr_nonce[16], mac[32]. */
	SR_AUTH_LEN = SR_SIDE_HDR + SR_NONCE_LEN + SR_MAC_LEN,
	/** WELCOME: head (x = enum sr_welcome_state), relay_id u32, peer transport u8. */
	SR_WELCOME_LEN = SR_SIDE_HDR + 4 + 1,
	/** ERROR: head (x = enum sr_err). */
	SR_ERROR_LEN = SR_SIDE_HDR,
	/** ROAM: head (x = enum sr_roam_flag), relay_id u32, counter u64, mac[32]. */
	SR_ROAM_LEN = SR_SIDE_HDR + 4 + 8 + SR_MAC_LEN,
};

/** The longest side message (buffers for framing one). */
enum { SR_SIDE_MSG_MAX = SR_AUTH_LEN };
_Static_assert((int)SR_SIDE_MSG_MAX >= SR_HELLO_LEN && (int)SR_SIDE_MSG_MAX >= SR_ROAM_LEN &&
		   (int)SR_SIDE_MSG_MAX >= SR_CHALLENGE_LEN &&
		   (int)SR_SIDE_MSG_MAX >= SR_WELCOME_LEN,
	       "SR_SIDE_MSG_MAX is the longest side message");
_Static_assert(SR_HELLO_LEN >= SR_CHALLENGE_LEN, "HELLO must not be smaller than its answer");
_Static_assert(SR_AUTH_LEN >= SR_WELCOME_LEN, "AUTH must not be smaller than its answer");

/** x byte of ROAM. */
enum sr_roam_flag {
	SR_ROAM_KEEPALIVE = 0, /**< I am here (maybe at a new address) */
	SR_ROAM_LEAVE = 1,     /**< I am done: end the session now */
};

enum sr_welcome_state {
	SR_WS_WAITING = 0, /**< the other side is not in yet */
	SR_WS_PAIRED = 1,  /**< both in: data flows */
};

/** ERROR codes (x byte of an ERROR message). */
enum sr_err {
	SR_ERR_UNKNOWN = 1, /**< no such session (never issued, expired, or ended) */
	SR_ERR_AUTH = 2,    /**< MAC did not verify */
	SR_ERR_USED = 3,    /**< this side's secret was already used */
	SR_ERR_EXPIRED = 4, /**< ticket expired before use */
	SR_ERR_TIMEOUT = 5, /**< unpaired too long */
	SR_ERR_IDLE = 6,    /**< paired session idled out */
	SR_ERR_PEER = 7,    /**< the other side left */
	SR_ERR_PROTO = 8,   /**< malformed message */
	SR_ERR_SHUTDOWN = 9,
};

/** MAC contexts (BLAKE2b-256 keyed with the side secret / roam key). */
#define SR_AUTH_CTX "portless-sr-auth-v1"
#define SR_ROAM_CTX "portless-sr-roam-v1"

/*
 * Return routability of a roam (relay_roam.h): a valid ROAM from a new
 * address moves nothing yet; the SR sends ROAM_CHAL there (never longer than
 * the ROAM, at most one per ROAM and per second) and moves the side only when
 * ROAM_ECHO comes back from that address with the nonce. Both MACs are
 * BLAKE2b-256(key = roam key, SR_ROAM_CHAL_CTX | message without its mac).
 */
enum {
	SR_MSG_ROAM_CHAL = 0x07, /**< SR -> a UDP side's new address */
	SR_MSG_ROAM_ECHO = 0x08, /**< side -> SR, from that address */
	SR_ROAM_NONCE_LEN = 12,  /**< random, fresh per challenge */
	/** ROAM_CHAL: head (x = 0), nonce[12], mac[32]. */
	SR_ROAM_CHAL_LEN = SR_SIDE_HDR + SR_ROAM_NONCE_LEN + SR_MAC_LEN,
	/** ROAM_ECHO: head (x = 0), relay_id u32, nonce[12], mac[32]. */
	SR_ROAM_ECHO_LEN = SR_SIDE_HDR + 4 + SR_ROAM_NONCE_LEN + SR_MAC_LEN,
};
_Static_assert((int)SR_ROAM_CHAL_LEN <= (int)SR_ROAM_LEN, "a challenge is no longer than its ROAM");
_Static_assert((int)SR_ROAM_ECHO_LEN <= (int)SR_SIDE_MSG_MAX,
	       "SR_SIDE_MSG_MAX is the longest side message");
#define SR_ROAM_CHAL_CTX "portless-sr-roam-chal-v1"

/* ---- TCP framing ------------------------------------------------------- */

/** Frame: u32 length, then one message of that length (1..SR_FRAME_MAX). */
enum {
	SR_FRAME_HDR = 4,
	SR_FRAME_MAX = 16 + 65536 + 16, /**< data header + 64 KiB super-packet + tag */
};

/* ---- data packets ------------------------------------------------------ */

/**
 * Data packet (data-plane version 2): type u8 (always SR_MSG_DATA), key
 * phase u8, version u8 (SR_DP_VERSION), zero u8, relay_id u32 (the
 * sender's, from WELCOME; the SR routes by it), counter u56 (the AEAD
 * nonce), then the ciphertext of (kind u8 || plaintext), tag[16].
 * kind is SR_MSG_DATA or SR_MSG_DATA_CTRL: nothing in clear tells control
 * from data. AAD = the 15 clear bytes. AEAD nonce (12 bytes) = 0^5 || counter.
 */
enum {
	SR_DP_VERSION = 2, /**< version 1 had 0 here, DATA_CTRL in clear and a u64 counter */
	SR_DP_AAD = 15,    /**< the clear header */
	SR_DP_HDR = 16,    /**< in front of the plaintext: clear header + kind byte */
	SR_DP_TAG = 16,
	SR_DP_OVERHEAD = SR_DP_HDR + SR_DP_TAG,
	/** Headroom a caller leaves in front of a plaintext pkt for sr_client_send(). */
	SR_HEADROOM = 32,
	/** Tailroom a caller leaves behind it (the tag). */
	SR_TAILROOM = SR_DP_TAG,
	/** Largest datagram we send or accept on UDP. */
	SR_UDP_MAX = 1500 - 40 - 8,
	/** Largest plaintext on the UDP underlay (TUN MTU = 1420). */
	SR_UDP_PLAIN_MAX = SR_UDP_MAX - SR_DP_OVERHEAD,
	/** Largest plaintext on the TCP underlay (64 KiB super-packets). */
	SR_TCP_PLAIN_MAX = 65536,
};

/** Counters are 56 bits on the wire: a key is refused this close to the end. */
#define SR_DP_CTR_LIMIT ((1ULL << 56) - (1ULL << 16))

_Static_assert((int)SR_DP_HDR == (int)SR_DP_AAD + 1,
	       "one encrypted kind byte after the clear header");
_Static_assert((int)SR_HEADROOM >= (int)SR_FRAME_HDR + (int)SR_DP_HDR,
	       "headroom holds frame + data header");
_Static_assert(SR_UDP_PLAIN_MAX == 1420, "TUN MTU for the UDP underlay");
_Static_assert((int)SR_FRAME_MAX == (int)SR_DP_OVERHEAD + (int)SR_TCP_PLAIN_MAX,
	       "TCP frame fits a super-packet");

/**
 * In-band control (plaintext of kind DATA_CTRL): op u8, then
 *   KEEPALIVE: nothing;  CLOSE: reason u8;
 *   REKEY_INIT / REKEY_RESP: epoch u32, ephemeral X25519 public key[32];
 * then zeros up to DPC_PAD bytes. Every control message is sealed at that one
 * size: the size of a pure TCP ACK over IPv4 with timestamps (20 + 32), the
 * most frequent data packet of an interactive session, so a relay cannot
 * pick control messages (a REKEY_RESP to drop) out by length.
 */
enum dp_ctrl_op {
	DPC_KEEPALIVE = 1,
	DPC_REKEY_INIT = 2,
	DPC_REKEY_RESP = 3,
	DPC_CLOSE = 4,
};
enum { DPC_REKEY_LEN = 1 + 4 + 32, DPC_MAX = DPC_REKEY_LEN, DPC_PAD = 52 };
_Static_assert(DPC_PAD >= DPC_MAX, "every control message fits the padded size");

#endif
