/* SPDX-License-Identifier: MIT */
/**
 * @file dpath.h  The endpoint's data path, both directions, for both roles.
 *
 * Out: TUN read -> (the role picks the session) -> segment -> seal -> relay.
 * A TCP super-packet (TUN offload) goes whole when the transport carries it
 * (TCP: one seal, one frame) after its checksum is completed; over UDP it is
 * cut into MTU-sized segments laid out so that sealing in place makes
 * back-to-back datagrams, sent with UDP GSO.
 *
 * In: relay -> open (sr_client) -> the session's admission check (the
 * device's filter, the client's address check) -> merge -> TUN write. Over
 * UDP consecutive TCP segments of a flow are merged back into one packet
 * (gso_merge) so the TUN takes one write per ~64 KiB instead of one per
 * segment; over TCP packets arrive whole and go straight in.
 *
 * One struct dpath per endpoint holds the scratch buffers (one packet with
 * SR head- and tailroom, one train of sealed segments); one struct
 * dpath_sess per session holds its relay path, counters and merge state.
 */
#ifndef PORTLESS_DPATH_H
#define PORTLESS_DPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_sys.h"
#include "gso.h"
#include "pkt.h"
#include "tun.h"

enum { DPATH_READS_PER_WAKEUP = 64 };

struct dpath {
	const struct ep_sys *sys;
	struct ev_loop *loop;
	bool merge;     /**< coalesce received TCP segments (PORTLESS_TUN_MERGE=0: off) */
	uint8_t *pkt;   /**< one TUN read with SR head- and tailroom */
	uint8_t *train; /**< SR_TRAIN_SEGS segments with room for header and tag */
};

struct dpath_sess {
	struct dpath *dp;
	struct tun_dev *const *tun; /**< where received packets go (the role's TUN field) */
	struct sr_client *sr;       /**< the relay path, or NULL while there is none */
	int transport;              /**< SR_TR_* once up, 0 before */
	uint64_t bytes_in, bytes_out;
	double last; /**< when a packet last passed either way */
	/** Admission of a received, authentic packet (borrowed); false drops it. */
	bool (*admit)(void *arg, const struct pkt *p);
	void *arg;
	struct gso_merge gm;
	uint8_t *mbuf; /**< GSO_MERGE_MAX bytes, made on first use */
};

/** Allocate the scratch buffers. 0 or -ENOMEM. */
int dpath_init(struct dpath *dp, const struct ep_sys *sys, struct ev_loop *loop, bool merge)
    __attribute__((warn_unused_result));
void dpath_fini(struct dpath *dp);

/** A session's data-path state; @p admit may be NULL (admit all). */
void dpath_sess_init(struct dpath_sess *s, struct dpath *dp, struct tun_dev *const *tun,
		     bool (*admit)(void *arg, const struct pkt *p), void *arg);

/**
 * The callbacks of a relay path for @p s: on_packet and on_rx_done are the
 * data path's, @p on_up / @p on_down the role's. Every one gets @p s as its
 * arg (the role embeds its dpath_sess and finds itself with container_of).
 */
void dpath_sess_cbs(struct dpath_sess *s, struct sr_client_cbs *cb,
		    void (*on_up)(void *arg, int transport),
		    void (*on_down)(void *arg, int reason, const char *msg));

/** Open the relay path (ep_sys path ops). 0 or -ENOMEM. */
int dpath_sess_open(struct dpath_sess *s, const struct sr_session_params *sp,
		    const struct sr_client_cbs *cb) __attribute__((warn_unused_result));

/** Close the relay path with @p reason in its CLOSE (0: none); keeps the session's state. */
void dpath_sess_close(struct dpath_sess *s, uint8_t reason, struct sr_client_stats *st);

/** Close the path and free the merge buffer (a held-back train is dropped). */
void dpath_sess_fini(struct dpath_sess *s, uint8_t reason);

/** The underlay changed: a UDP path re-binds and roams at once (@p name for the log). */
void dpath_sess_rebind(struct dpath_sess *s, const char *name);

/** The session for a packet read from the TUN (borrowed), or NULL to drop it. */
typedef struct dpath_sess *(*dpath_route_fn)(void *arg, const struct pkt *p);

/**
 * Read what the TUN has (at most DPATH_READS_PER_WAKEUP packets) and send
 * each packet to the session @p route names. Returns 0, or the read error
 * when ep_tun_gone() says the interface is gone (the caller ends sessions).
 */
long dpath_tun_drain(struct dpath *dp, struct tun_dev *tun, dpath_route_fn route, void *arg);

/** Seal and send one packet read from the TUN (@p g: its GSO metadata). 0 when sent. */
int dpath_send(struct dpath *dp, struct dpath_sess *s, struct pkt *p, const struct tun_gso *g);

/** True when a TUN read error means the interface is gone (-EBADFD, -EIO, ...). */
bool dpath_tun_gone(long err);

#endif
