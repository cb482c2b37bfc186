/* SPDX-License-Identifier: MIT */
/*
 * sr_peer: one side of a test session through the SR, using the SR client.
 *
 * Side A gets a ticket (from the control plane: --keys DIR --relay @relay,
 * or from a file: --ticket-file F), makes its ephemeral key and hands side B
 * its part through files in --handoff DIR (b.ticket, a.pk; B answers b.pk).
 * Both derive the session keys (dp_derive), connect through the SR, send
 * --count packets of --size bytes each (seq, side, --marker, pattern) and
 * check what they receive: every packet well-formed, no duplicates; with
 * --exact every packet of the peer exactly once (TCP), else at least
 * --min-recv of them (UDP). Prints one "result" line with the counters.
 *
 *   sr_peer --side a|b --me @x --peer @y --handoff DIR [--keys DIR --relay @r |
 *           --ticket-file F] [--count N] [--size S] [--transport auto|udp|tcp]
 *           [--rate PPS] [--marker STR] [--sr-udp H:P] [--sr-tcp H:P]
 *           [--exact] [--min-recv FRAC] [--expect-tamper] [--rekey-packets N]
 *           [--rebind-at N] [--timeout S] [--expect N (peer's count, default --count)]
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>

#include <ev.h>

#include "conn.h"
#include "cp_client.h"
#include "dp_keys.h"
#include "log.h"
#include "msgtypes.h"
#include "net.h"
#include "sr_client.h"
#include "sr_session.h"
#include "sr_util.h"
#include "wire.h"

enum { DONE_SEQ = 0xffffffffu, HDR = 5, PKT_CAP = SR_HEADROOM + SR_TCP_PLAIN_MAX + SR_TAILROOM };

struct opts {
	char side;
	const char *me, *peer, *handoff, *keys, *relay, *ticket_file, *marker;
	const char *sr_udp, *sr_tcp;
	unsigned long count, expect, size, rate, rekey_packets, rebind_at;
	double min_recv, timeout;
	int transport;
	bool exact, expect_tamper;
};

struct peer {
	struct opts o;
	struct ev_loop *loop;
	struct cp_client *cp;
	struct cp_client_cfg cfg;
	struct sr_ticket ticket;
	bool have_ticket;
	struct sr_client *sc;
	ev_timer pace, deadline, linger;
	uint8_t *seen; /* one byte per expected sequence number */
	unsigned long sent, recv, dup, bad, peer_total, done_ticks;
	bool peer_done, sending_done, up, failed;
	int transport;
	double t_up, t_done, t_first_rx, t_last_rx;
	uint8_t buf[PKT_CAP];
};

static struct peer P;

static void finish(struct peer *p, bool failed, const char *why)
{
	if (failed && !p->failed)
		fprintf(stderr, "sr_peer %c: FAIL: %s\n", p->o.side, why);
	p->failed |= failed;
	ev_break(p->loop, EVBREAK_ALL);
}

/* ---- traffic ---------------------------------------------------------- */

static void fill(struct peer *p, struct pkt *q, uint32_t seq, size_t size)
{
	size_t ml = strlen(p->o.marker);
	uint8_t *d;

	pkt_init(q, p->buf, sizeof(p->buf), SR_HEADROOM);
	d = pkt_put(q, size);
	put_be32(d, seq);
	d[4] = (uint8_t)p->o.side;
	memcpy(d + HDR, p->o.marker, ml);
	for (size_t i = HDR + ml; i < size; i++)
		d[i] = (uint8_t)(seq + i);
}

static void send_done(struct peer *p)
{
	struct pkt q;

	fill(p, &q, DONE_SEQ, HDR + strlen(p->o.marker) + 4);
	put_be32(pkt_data(&q) + q.len - 4, (uint32_t)p->sent);
	if (sr_client_send(p->sc, &q) < 0)
		log_msg(PL_LOG_DEBUG, "DONE packet not sent");
}

static void maybe_end(struct peer *p)
{
	if (p->sending_done && p->peer_done && !ev_is_active(&p->linger))
		ev_timer_start(p->loop, &p->linger);
}

/* Send up to @p budget packets; false when the TCP queue is full. */
static bool send_some(struct peer *p, unsigned long budget)
{
	struct pkt q;

	while (budget-- && p->sent < p->o.count) {
		int r;

		fill(p, &q, (uint32_t)p->sent, p->o.size);
		r = sr_client_send(p->sc, &q);
		if (r == -ENOBUFS)
			return false;
		if (r < 0 && r != -EAGAIN && r != -ENOBUFS) {
			/* UDP socket full: the packet is lost like on a real link */
			if (r != -EWOULDBLOCK)
				log_msg(PL_LOG_DEBUG, "send: %s", strerror(-r));
		}
		p->sent++;
		if (p->o.rebind_at && p->sent == p->o.rebind_at && sr_client_rebind(p->sc) == 0)
			fprintf(stderr, "sr_peer %c: rebound the UDP socket (roaming)\n",
				p->o.side);
	}
	return true;
}

static void after_send(struct peer *p)
{
	if (p->sent < p->o.count || p->sending_done)
		return;
	p->sending_done = true;
	p->t_done = ev_now(p->loop);
	for (int i = 0; i < (p->transport == SR_TR_UDP ? 5 : 1); i++)
		send_done(p);
	maybe_end(p);
}

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = container_of(w, struct peer, pace);
	unsigned long budget = p->o.rate ? (p->o.rate + 999) / 1000 : 1000000;

	if (p->sending_done) {
		/* keep telling the peer until we leave: DONE datagrams may be lost */
		if (p->transport == SR_TR_UDP && (!p->peer_done || ++p->done_ticks % 10 == 0))
			send_done(p);
		return;
	}
	send_some(p, budget);
	after_send(p);
}

static void on_writable(void *arg)
{
	struct peer *p = arg;

	if (!p->sending_done && send_some(p, 1000000))
		after_send(p);
}

static bool check_payload(struct peer *p, const uint8_t *d, size_t n, uint32_t *seq)
{
	size_t ml = strlen(p->o.marker);
	char peer_side = p->o.side == 'a' ? 'b' : 'a';

	if (n < HDR + ml || d[4] != (uint8_t)peer_side || memcmp(d + HDR, p->o.marker, ml))
		return false;
	*seq = get_be32(d);
	if (*seq == DONE_SEQ)
		return n == HDR + ml + 4;
	if (*seq >= p->o.expect || n != p->o.size)
		return false;
	for (size_t i = HDR + ml; i < n; i++)
		if (d[i] != (uint8_t)(*seq + i))
			return false;
	return true;
}

static void on_packet(void *arg, struct pkt *q)
{
	struct peer *p = arg;
	uint32_t seq;

	if (!check_payload(p, pkt_data(q), q->len, &seq)) {
		p->bad++;
		return;
	}
	if (seq == DONE_SEQ) {
		p->peer_total = get_be32(pkt_data(q) + q->len - 4);
		p->peer_done = true;
		maybe_end(p);
		return;
	}
	if (p->seen[seq]) {
		p->dup++;
		return;
	}
	p->seen[seq] = 1;
	if (!p->recv++)
		p->t_first_rx = ev_now(p->loop);
	p->t_last_rx = ev_now(p->loop);
}

static void on_up(void *arg, int transport)
{
	struct peer *p = arg;

	p->up = true;
	p->transport = transport;
	p->t_up = ev_now(p->loop);
	fprintf(stderr, "sr_peer %c: up over %s\n", p->o.side,
		transport == SR_TR_UDP ? "udp" : "tcp");
	ev_timer_start(p->loop, &p->pace);
}

static void on_down(void *arg, int reason, const char *msg)
{
	struct peer *p = arg;

	finish(p, !(p->sending_done && p->peer_done), msg);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	finish(&P, true, "timeout");
}

static void linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	finish(&P, false, NULL);
}

/* ---- getting the ticket and the keys ---------------------------------- */

static void on_cp_note(void *arg, const struct envelope *env)
{
	struct peer *p = arg;

	if (env->type != MSG_SR_TICKET || strcmp(env->from, p->o.relay) || p->have_ticket)
		return;
	if (!sr_ticket_decode(env->payload, env->payload_len, &p->ticket)) {
		finish(p, true, "malformed ticket");
		return;
	}
	if (p->ticket.status != SR_TK_OK) {
		fprintf(stderr, "sr_peer: ticket refused: %s\n", p->ticket.reason);
		finish(p, true, "ticket refused");
		return;
	}
	p->have_ticket = true;
	ev_break(p->loop, EVBREAK_ONE);
}

static void req_done(void *arg, int err, const char *msg)
{
	if (err)
		finish(arg, true, msg);
}

/* Ask the relay for a ticket over the control plane (runs the loop until it comes). */
static int ticket_from_cp(struct peer *p)
{
	char err[256];
	struct sr_request rq = {0};
	uint8_t buf[SR_REQ_MAX];
	size_t n;

	if (cp_client_cfg_load(p->o.keys, &p->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sr_peer: %s\n", err);
		return -1;
	}
	p->cfg.on_notification = on_cp_note;
	p->cfg.arg = p;
	p->cp = cp_client_new(p->loop, &p->cfg);
	snprintf(rq.peer, sizeof(rq.peer), "%s", p->o.peer);
	if (!p->cp || cp_client_monitor(p->cp) < 0 ||
	    sr_request_encode(&rq, buf, sizeof(buf), &n) < 0 ||
	    cp_client_notify(p->cp, p->o.relay, MSG_SR_REQUEST, buf, n, 60, req_done, p) < 0)
		return -1;
	ev_timer_start(p->loop, &p->deadline);
	ev_run(p->loop, 0);
	ev_timer_stop(p->loop, &p->deadline);
	return p->have_ticket ? 0 : -1;
}

static int ticket_from_file(struct peer *p)
{
	char hex[2 * SR_TICKET_MAX + 8];
	uint8_t buf[SR_TICKET_MAX];
	size_t n;

	if (sr_read_file(p->o.ticket_file, hex, sizeof(hex), 10) < 0 ||
	    sr_hex_in(buf, sizeof(buf), hex, &n) < 0 || !sr_ticket_decode(buf, n, &p->ticket))
		return -1;
	p->have_ticket = true;
	return 0;
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* "hexpk aeadmask" */
static int read_pk(const char *dir, const char *name, uint8_t pk[32], unsigned *mask)
{
	char path[4096], text[256], *sp;
	size_t n;

	path_of(path, sizeof(path), dir, name);
	if (sr_read_file(path, text, sizeof(text), 30) < 0 || !(sp = strchr(text, ' ')))
		return -1;
	*sp = '\0';
	*mask = (unsigned)strtoul(sp + 1, NULL, 10);
	return sr_hex_in(pk, 32, text, &n) == 0 && n == 32 ? 0 : -1;
}

static int write_pk(const char *dir, const char *name, const uint8_t pk[32], unsigned mask)
{
	char path[4096], text[100];

	path_of(path, sizeof(path), dir, name);
	sodium_bin2hex(text, 65, pk, 32);
	snprintf(text + 64, sizeof(text) - 64, " %u\n", mask);
	return sr_write_file(path, text);
}

/* A: write B's ticket part and my key, read B's key and its AEAD choice. */
static int handoff_a(struct peer *p, const struct dp_keypair *kp, struct dp_transcript *t,
		     struct sr_side_ticket *mine)
{
	struct sr_side_ticket b;
	uint8_t buf[SR_SIDE_TICKET_MAX];
	char hex[2 * SR_SIDE_TICKET_MAX + 2], path[4096];
	unsigned aead;
	size_t n;

	sr_ticket_side(&p->ticket, SR_SIDE_A, mine);
	sr_ticket_side(&p->ticket, SR_SIDE_B, &b);
	if (sr_side_ticket_encode(&b, buf, sizeof(buf), &n) < 0)
		return -1;
	sodium_bin2hex(hex, sizeof(hex), buf, n);
	path_of(path, sizeof(path), p->o.handoff, "b.ticket");
	if (sr_write_file(path, hex) < 0 ||
	    write_pk(p->o.handoff, "a.pk", kp->pk, dp_aead_supported()))
		return -1;
	memcpy(t->pk_a, kp->pk, 32);
	if (read_pk(p->o.handoff, "b.pk", t->pk_b, &aead) < 0)
		return -1;
	t->aead = (uint8_t)aead;
	memcpy(t->session_id, mine->session_id, SR_SID_LEN);
	return 0;
}

/* B: read my ticket part and A's key; choose the AEAD; answer with my key. */
static int handoff_b(struct peer *p, const struct dp_keypair *kp, struct dp_transcript *t,
		     struct sr_side_ticket *mine)
{
	char hex[2 * SR_SIDE_TICKET_MAX + 2], path[4096];
	uint8_t buf[SR_SIDE_TICKET_MAX];
	unsigned amask;
	size_t n;
	int aead;

	path_of(path, sizeof(path), p->o.handoff, "b.ticket");
	if (sr_read_file(path, hex, sizeof(hex), 30) < 0 ||
	    sr_hex_in(buf, sizeof(buf), hex, &n) < 0 || !sr_side_ticket_decode(buf, n, mine) ||
	    read_pk(p->o.handoff, "a.pk", t->pk_a, &amask) < 0)
		return -1;
	aead = dp_aead_choose(dp_aead_supported(), amask);
	if (aead < 0 || write_pk(p->o.handoff, "b.pk", kp->pk, (unsigned)aead) < 0)
		return -1;
	memcpy(t->pk_b, kp->pk, 32);
	t->aead = (uint8_t)aead;
	memcpy(t->session_id, mine->session_id, SR_SID_LEN);
	return 0;
}

static int override_addr(const char *hp, char *host, size_t cap, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t l;

	if (net_parse_hostport(hp, &ss, &l) < 0 || ss.ss_family != AF_INET)
		return -1;
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, (socklen_t)cap);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static int make_session(struct peer *p)
{
	struct sr_session_params sp = {0};
	struct sr_side_ticket tk;
	struct dp_transcript t = {.handle_a = p->o.side == 'a' ? p->o.me : p->o.peer,
				  .handle_b = p->o.side == 'a' ? p->o.peer : p->o.me};
	struct dp_limits lim;
	struct dp_keypair kp;
	struct sr_client_cbs cb = {.on_up = on_up,
				   .on_packet = on_packet,
				   .on_down = on_down,
				   .on_writable = on_writable,
				   .arg = p};
	int side = p->o.side == 'a' ? SR_SIDE_A : SR_SIDE_B, r;

	dp_keypair_new(&kp);
	dp_limits_default(&lim);
	if (p->o.rekey_packets)
		lim.rekey_after_packets = p->o.rekey_packets;
	r = side == SR_SIDE_A ? handoff_a(p, &kp, &t, &tk) : handoff_b(p, &kp, &t, &tk);
	if (r == 0) { /* the endpoints' own transcript and derivation (sr_session.h) */
		struct sr_session_peers peers = {t.handle_a, t.handle_b, t.pk_a, t.pk_b, t.aead};

		r = sr_session_params_make(&kp, side, &peers, &tk, &lim, &sp);
	}
	dp_keypair_wipe(&kp);
	sr_ticket_wipe(&p->ticket);
	sodium_memzero(&tk, sizeof(tk));
	if (r < 0)
		return -1;
	if (p->o.sr_udp && override_addr(p->o.sr_udp, sp.ticket.host, sizeof(sp.ticket.host),
					 &sp.ticket.udp_port) < 0)
		return -1;
	if (p->o.sr_tcp && override_addr(p->o.sr_tcp, sp.ticket.host, sizeof(sp.ticket.host),
					 &sp.ticket.tcp_port) < 0)
		return -1;
	sp.transport = (uint8_t)p->o.transport;
	fprintf(stderr, "sr_peer %c: aead %s\n", p->o.side, dp_aead_name(t.aead));
	p->sc = sr_client_new(p->loop, &sp, &cb);
	sodium_memzero(&sp, sizeof(sp));
	return p->sc ? 0 : -1;
}

/* ---- main ------------------------------------------------------------- */

static int parse(int argc, char **argv, struct opts *o)
{
	o->count = 1000;
	o->size = 200;
	o->rate = 100000;
	o->min_recv = 0.95;
	o->timeout = 60;
	o->marker = "PLAINTEXT-MARKER-7f3a91";
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(k, "--exact")) {
			o->exact = true;
			continue;
		}
		if (!strcmp(k, "--expect-tamper")) {
			o->expect_tamper = true;
			continue;
		}
		i++;
		if (!strcmp(k, "--side"))
			o->side = v[0];
		else if (!strcmp(k, "--me"))
			o->me = v;
		else if (!strcmp(k, "--peer"))
			o->peer = v;
		else if (!strcmp(k, "--handoff"))
			o->handoff = v;
		else if (!strcmp(k, "--keys"))
			o->keys = v;
		else if (!strcmp(k, "--relay"))
			o->relay = v;
		else if (!strcmp(k, "--ticket-file"))
			o->ticket_file = v;
		else if (!strcmp(k, "--marker"))
			o->marker = v;
		else if (!strcmp(k, "--sr-udp"))
			o->sr_udp = v;
		else if (!strcmp(k, "--sr-tcp"))
			o->sr_tcp = v;
		else if (!strcmp(k, "--count"))
			o->count = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--expect"))
			o->expect = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--size"))
			o->size = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--rate"))
			o->rate = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--rekey-packets"))
			o->rekey_packets = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--rebind-at"))
			o->rebind_at = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--min-recv"))
			o->min_recv = strtod(v, NULL);
		else if (!strcmp(k, "--timeout"))
			o->timeout = strtod(v, NULL);
		else if (!strcmp(k, "--transport"))
			o->transport = !strcmp(v, "udp")   ? SR_TR_UDP
				       : !strcmp(v, "tcp") ? SR_TR_TCP
							   : SR_TR_NONE;
		else
			return -1;
	}
	if (!o->expect)
		o->expect = o->count;
	if ((o->side != 'a' && o->side != 'b') || !o->me || !o->peer || !o->handoff ||
	    (o->side == 'a' && !o->ticket_file && !(o->keys && o->relay)) ||
	    o->size < HDR + strlen(o->marker) + 4 || o->size > SR_TCP_PLAIN_MAX)
		return -1;
	return 0;
}

static bool verdict(struct peer *p, const struct sr_client_stats *st)
{
	bool ok = !p->failed && p->dup == 0 && p->bad == 0 && p->peer_done;

	if (p->o.exact)
		ok = ok && p->recv == p->peer_total && p->recv == p->o.expect;
	else
		ok = ok && p->recv >= (unsigned long)(p->o.min_recv * (double)p->o.expect);
	if (p->o.expect_tamper)
		ok = ok && st->drop_tag > 0;
	return ok;
}

int main(int argc, char **argv)
{
	struct peer *p = &P;
	struct sr_client_stats st = {0};
	double secs, rsecs;
	bool ok;

	if (sodium_init() < 0 || log_init("sr_peer") < 0)
		return 1;
	if (parse(argc, argv, &p->o) < 0) {
		fprintf(stderr,
			"sr_peer: bad arguments (see the comment at the top of sr_peer.c)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	p->loop = ev_default_loop(0);
	p->seen = calloc(p->o.expect + 1, 1);
	ev_timer_init(&p->pace, pace_cb, 0.001, 0.001);
	ev_timer_init(&p->deadline, deadline_cb, p->o.timeout, 0);
	ev_timer_init(&p->linger, linger_cb, 0.5, 0);
	if (p->o.side == 'a' && (p->o.ticket_file ? ticket_from_file(p) : ticket_from_cp(p)) < 0) {
		fprintf(stderr, "sr_peer a: no ticket\n");
		return 1;
	}
	if (make_session(p) < 0) {
		fprintf(stderr, "sr_peer %c: cannot set up the session\n", p->o.side);
		return 1;
	}
	ev_timer_start(p->loop, &p->deadline);
	ev_run(p->loop, 0);
	if (p->sc)
		sr_client_get_stats(p->sc, &st);
	secs = p->t_done > p->t_up ? p->t_done - p->t_up : 0;
	rsecs = p->t_last_rx - p->t_first_rx;
	ok = verdict(p, &st);
	printf("result side=%c transport=%s ok=%d sent=%lu recv=%lu peer_sent=%lu dup=%lu bad=%lu "
	       "drop_tag=%llu drop_replay=%llu drop_old=%llu drop_nokey=%llu rekeys=%u "
	       "send_secs=%.3f rx_secs=%.3f rx_pps=%.0f rx_gbps=%.3f\n",
	       p->o.side, p->transport == SR_TR_UDP ? "udp" : "tcp", ok, p->sent, p->recv,
	       p->peer_total, p->dup, p->bad, (unsigned long long)st.drop_tag,
	       (unsigned long long)st.drop_replay, (unsigned long long)st.drop_old,
	       (unsigned long long)st.drop_nokey, st.rekeys, secs, rsecs,
	       rsecs > 0 ? (double)p->recv / rsecs : 0,
	       rsecs > 0 ? (double)p->recv * (double)p->o.size * 8.0 / rsecs / 1e9 : 0);
	fflush(stdout);
	sr_client_free(p->sc);
	cp_client_free(p->cp);
	if (p->cp)
		cp_client_cfg_release(&p->cfg);
	free(p->seen);
	return ok ? 0 : 1;
}
