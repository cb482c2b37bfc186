/* SPDX-License-Identifier: MIT */
#include "dpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum {
	DPATH_PKT_BUF = SR_HEADROOM + TUN_MAX_PACKET + SR_TAILROOM,
	DPATH_TRAIN_BUF = SR_TRAIN_SEGS * (SR_UDP_PLAIN_MAX + SR_DP_OVERHEAD),
};

int dpath_init(struct dpath *dp, const struct ep_sys *sys, struct ev_loop *loop, bool merge)
{
	memset(dp, 0, sizeof(*dp));
	dp->sys = sys;
	dp->loop = loop;
	dp->merge = merge;
	dp->pkt = malloc(DPATH_PKT_BUF);
	dp->train = malloc(DPATH_TRAIN_BUF);
	if (!dp->pkt || !dp->train) {
		dpath_fini(dp);
		return -ENOMEM;
	}
	return 0;
}

void dpath_fini(struct dpath *dp)
{
	free(dp->pkt);
	free(dp->train);
	dp->pkt = dp->train = NULL;
}

bool dpath_tun_gone(long err)
{
	return err == -EBADFD || err == -EIO || err == -ENODEV || err == -ENXIO || err == -EBADF;
}

/* ---- out: TUN -> segment -> seal -> relay ---- */

/* Cut a super-packet into MTU-sized segments, SR_TRAIN_SEGS per GSO send. */
static int send_segments(struct dpath *dp, struct dpath_sess *s, const uint8_t *d, size_t len,
			 const struct tun_gso *g)
{
	const struct ep_path_ops *po = dp->sys->path;
	int n = gso_count(d, len, g), hl = gso_hdr_len(d, len, g), r = 0;
	size_t seg, stride;

	if (n < 0 || hl < 0)
		return -EINVAL;
	seg = (size_t)hl + g->size;
	stride = seg + SR_DP_OVERHEAD;
	if (seg > SR_UDP_PLAIN_MAX)
		return -EMSGSIZE;
	for (int i = 0; i < n && r == 0; i += SR_TRAIN_SEGS) {
		int k = n - i < SR_TRAIN_SEGS ? n - i : SR_TRAIN_SEGS;
		ssize_t l = 0;

		for (int j = 0; j < k; j++) {
			l = gso_segment(d, len, g, i + j,
					dp->train + (size_t)j * stride + SR_DP_HDR, seg);
			if (l < 0)
				return (int)l;
		}
		r = po->send_train(s->sr, dp->train, seg, (size_t)l, k);
	}
	return r;
}

int dpath_send(struct dpath *dp, struct dpath_sess *s, struct pkt *p, const struct tun_gso *g)
{
	const struct ep_path_ops *po = dp->sys->path;

	if (!s->sr)
		return -ENOTCONN;
	if (g->type == GSO_NONE)
		return po->send(s->sr, p);
	if (p->len <= po->mtu(s->sr)) {
		if (g->needs_csum &&
		    gso_csum_finish(pkt_data(p), p->len, g->csum_start, g->csum_offset) < 0)
			return -EINVAL;
		return po->send(s->sr, p);
	}
	return send_segments(dp, s, pkt_data(p), p->len, g);
}

long dpath_tun_drain(struct dpath *dp, struct tun_dev *tun, dpath_route_fn route, void *arg)
{
	struct tun_gso g;
	struct pkt p;

	for (int i = 0; i < DPATH_READS_PER_WAKEUP; i++) {
		pkt_init(&p, dp->pkt, DPATH_PKT_BUF - SR_TAILROOM, SR_HEADROOM);
		ssize_t n = tun_read_gso(tun, &p, &g);

		if (n == -EAGAIN)
			break;
		if (dpath_tun_gone(n))
			return n;
		if (n < 0)
			continue;
		p.cap = DPATH_PKT_BUF; /* give the tag its room back */
		struct dpath_sess *s = route(arg, &p);

		if (!s || dpath_send(dp, s, &p, &g) < 0)
			continue;
		s->last = dp->sys->now(dp->loop);
		s->bytes_out += (uint64_t)n;
	}
	return 0;
}

/* ---- in: relay -> open -> admit -> merge -> TUN ---- */

static int rx_emit(void *arg, const uint8_t *p, size_t len)
{
	return arg ? tun_write_buf(arg, p, len) : -ENODEV;
}

static int rx_write(struct dpath_sess *s, const struct pkt *p)
{
	struct tun_dev *tun = *s->tun;

	if (!tun)
		return -ENODEV;
	if (s->transport != SR_TR_UDP || !s->dp->merge)
		return tun_write(tun, p);
	if (!s->mbuf) {
		s->mbuf = malloc(GSO_MERGE_MAX);
		if (!s->mbuf)
			return tun_write(tun, p);
		gso_merge_init(&s->gm, s->mbuf, GSO_MERGE_MAX);
	}
	return gso_merge_push(&s->gm, pkt_data(p), p->len, rx_emit, tun);
}

static void on_packet(void *arg, struct pkt *p)
{
	struct dpath_sess *s = arg;

	if (s->admit && !s->admit(s->arg, p))
		return; /* counted by the check */
	s->last = s->dp->sys->now(s->dp->loop);
	s->bytes_in += p->len;
	if (rx_write(s, p) < 0)
		log_msg(PL_LOG_DEBUG, "TUN write failed");
}

/* End of a receive batch: what merging held back goes to the TUN now. */
static void on_rx_done(void *arg)
{
	struct dpath_sess *s = arg;

	if (s->mbuf && *s->tun && gso_merge_flush(&s->gm, rx_emit, *s->tun) < 0)
		log_msg(PL_LOG_DEBUG, "TUN write of a merged packet failed");
}

/* ---- sessions ---- */

void dpath_sess_init(struct dpath_sess *s, struct dpath *dp, struct tun_dev *const *tun,
		     bool (*admit)(void *arg, const struct pkt *p), void *arg)
{
	memset(s, 0, sizeof(*s));
	s->dp = dp;
	s->tun = tun;
	s->admit = admit;
	s->arg = arg;
}

/* Every callback of the path gets the dpath_sess: the role finds its session with container_of. */
void dpath_sess_cbs(struct dpath_sess *s, struct sr_client_cbs *cb,
		    void (*on_up)(void *arg, int transport),
		    void (*on_down)(void *arg, int reason, const char *msg))
{
	memset(cb, 0, sizeof(*cb));
	cb->on_packet = on_packet;
	cb->on_rx_done = on_rx_done;
	cb->on_up = on_up;
	cb->on_down = on_down;
	cb->arg = s;
}

int dpath_sess_open(struct dpath_sess *s, const struct sr_session_params *sp,
		    const struct sr_client_cbs *cb)
{
	s->sr = s->dp->sys->path->open(s->dp->loop, sp, cb);
	return s->sr ? 0 : -ENOMEM;
}

void dpath_sess_close(struct dpath_sess *s, uint8_t reason, struct sr_client_stats *st)
{
	const struct ep_path_ops *po = s->dp->sys->path;

	if (!s->sr)
		return;
	if (st)
		po->stats(s->sr, st);
	if (reason)
		po->close_reason(s->sr, reason);
	po->free(s->sr);
	s->sr = NULL;
	s->transport = 0;
}

void dpath_sess_fini(struct dpath_sess *s, uint8_t reason)
{
	dpath_sess_close(s, reason, NULL);
	free(s->mbuf);
	s->mbuf = NULL;
}

void dpath_sess_rebind(struct dpath_sess *s, const char *name)
{
	const struct ep_path_ops *po = s->dp->sys->path;

	if (s->sr && po->transport(s->sr) == SR_TR_UDP && po->rebind(s->sr) < 0)
		log_msg(PL_LOG_DEBUG, "session %.8s: re-bind failed", name);
}
