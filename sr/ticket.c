/* SPDX-License-Identifier: MIT */
#include "ticket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

#define SECRET_CTX "portless-sr-secret-v1"

struct sr_issuer {
	uint8_t master[32];
};

struct sr_issuer *sr_issuer_new(void)
{
	struct sr_issuer *iss = sodium_malloc(sizeof(*iss));

	if (iss)
		randombytes_buf(iss->master, sizeof(iss->master));
	return iss;
}

void sr_issuer_free(struct sr_issuer *iss)
{
	if (iss)
		sodium_free(iss);
}

void sr_issuer_secret(const struct sr_issuer *iss, const uint8_t sid[SR_SID_LEN], uint8_t side,
		      uint8_t out[SR_SECRET_LEN])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, iss->master, sizeof(iss->master), SR_SECRET_LEN);
	crypto_generichash_update(&h, (const uint8_t *)SECRET_CTX, strlen(SECRET_CTX));
	crypto_generichash_update(&h, sid, SR_SID_LEN);
	crypto_generichash_update(&h, &side, 1);
	crypto_generichash_final(&h, out, SR_SECRET_LEN);
	sodium_memzero(&h, sizeof(h));
}

bool sr_host_numeric(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
}

int sr_issuer_issue(const struct sr_issuer *iss, uint64_t now, unsigned ttl, const char *host,
		    uint16_t tcp_port, uint16_t udp_port, struct sr_ticket *t)
{
	if (strlen(host) > SR_HOST_MAX || !*host)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->status = SR_TK_OK;
	randombytes_buf(t->session_id, SR_SID_LEN);
	t->expiry = now + ttl;
	strcpy(t->host, host);
	t->tcp_port = tcp_port;
	t->udp_port = udp_port;
	sr_issuer_secret(iss, t->session_id, SR_SIDE_A, t->secret[SR_SIDE_A]);
	sr_issuer_secret(iss, t->session_id, SR_SIDE_B, t->secret[SR_SIDE_B]);
	return 0;
}

int sr_ticket_encode(const struct sr_ticket *t, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SR_VERSION);
	wr_u8(&w, t->status);
	wr_bytes(&w, t->request_id, sizeof(t->request_id));
	if (t->status == SR_TK_OK) {
		wr_bytes(&w, t->session_id, SR_SID_LEN);
		wr_u64(&w, t->expiry);
		wr_str8(&w, t->host);
		wr_u16(&w, t->tcp_port);
		wr_u16(&w, t->udp_port);
		wr_bytes(&w, t->secret, sizeof(t->secret));
	} else {
		wr_str8(&w, t->reason);
	}
	*len = w.len;
	return wr_ok(&w) ? 0 : -ENOSPC;
}

bool sr_ticket_decode(const uint8_t *in, size_t len, struct sr_ticket *t)
{
	struct rd r;

	memset(t, 0, sizeof(*t));
	rd_init(&r, in, len);
	if (rd_u8(&r) != SR_VERSION)
		return false;
	t->status = rd_u8(&r);
	rd_bytes(&r, t->request_id, sizeof(t->request_id));
	if (t->status == SR_TK_OK) {
		rd_bytes(&r, t->session_id, SR_SID_LEN);
		t->expiry = rd_u64(&r);
		rd_str8(&r, t->host, sizeof(t->host));
		t->tcp_port = rd_u16(&r);
		t->udp_port = rd_u16(&r);
		rd_bytes(&r, t->secret, sizeof(t->secret));
		if (!sr_host_numeric(t->host))
			return false; /* a name would need a resolver: refused */
	} else {
		rd_str8(&r, t->reason, sizeof(t->reason));
	}
	return rd_done(&r);
}

void sr_ticket_wipe(struct sr_ticket *t)
{
	sodium_memzero(t, sizeof(*t));
}

void sr_ticket_side(const struct sr_ticket *t, uint8_t side, struct sr_side_ticket *out)
{
	memset(out, 0, sizeof(*out));
	out->side = side;
	memcpy(out->session_id, t->session_id, SR_SID_LEN);
	out->expiry = t->expiry;
	memcpy(out->host, t->host, sizeof(out->host));
	out->tcp_port = t->tcp_port;
	out->udp_port = t->udp_port;
	memcpy(out->secret, t->secret[side & 1], SR_SECRET_LEN);
}

int sr_side_ticket_encode(const struct sr_side_ticket *st, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SR_VERSION);
	wr_u8(&w, st->side);
	wr_bytes(&w, st->session_id, SR_SID_LEN);
	wr_u64(&w, st->expiry);
	wr_str8(&w, st->host);
	wr_u16(&w, st->tcp_port);
	wr_u16(&w, st->udp_port);
	wr_bytes(&w, st->secret, SR_SECRET_LEN);
	*len = w.len;
	return wr_ok(&w) ? 0 : -ENOSPC;
}

bool sr_side_ticket_decode(const uint8_t *in, size_t len, struct sr_side_ticket *st)
{
	struct rd r;

	memset(st, 0, sizeof(*st));
	rd_init(&r, in, len);
	if (rd_u8(&r) != SR_VERSION)
		return false;
	st->side = rd_u8(&r);
	rd_bytes(&r, st->session_id, SR_SID_LEN);
	st->expiry = rd_u64(&r);
	rd_str8(&r, st->host, sizeof(st->host));
	st->tcp_port = rd_u16(&r);
	st->udp_port = rd_u16(&r);
	rd_bytes(&r, st->secret, SR_SECRET_LEN);
	return rd_done(&r) && st->side <= SR_SIDE_B && sr_host_numeric(st->host);
}

void sr_side_ticket_wipe(struct sr_side_ticket *st)
{
	sodium_memzero(st, sizeof(*st));
}

int sr_request_encode(const struct sr_request *rq, uint8_t *out, size_t cap, size_t *len)
{
	struct wr w;

	wr_init(&w, out, cap);
	wr_u8(&w, SR_VERSION);
	wr_u8(&w, rq->flags);
	wr_str8(&w, rq->peer);
	*len = w.len;
	return wr_ok(&w) ? 0 : -ENOSPC;
}

bool sr_request_decode(const uint8_t *in, size_t len, struct sr_request *rq)
{
	struct rd r;

	memset(rq, 0, sizeof(*rq));
	rd_init(&r, in, len);
	if (rd_u8(&r) != SR_VERSION)
		return false;
	rq->flags = rd_u8(&r);
	rd_str8(&r, rq->peer, sizeof(rq->peer));
	return rd_done(&r) && (!rq->peer[0] || handle_valid(rq->peer));
}

void sr_auth_mac(const uint8_t secret[SR_SECRET_LEN], const uint8_t nonce[SR_NONCE_LEN],
		 const uint8_t sid[SR_SID_LEN], uint8_t side, uint8_t mac[SR_MAC_LEN])
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, secret, SR_SECRET_LEN, SR_MAC_LEN);
	crypto_generichash_update(&h, (const uint8_t *)SR_AUTH_CTX, strlen(SR_AUTH_CTX));
	crypto_generichash_update(&h, nonce, SR_NONCE_LEN);
	crypto_generichash_update(&h, sid, SR_SID_LEN);
	crypto_generichash_update(&h, &side, 1);
	crypto_generichash_final(&h, mac, SR_MAC_LEN);
	sodium_memzero(&h, sizeof(h));
}

void sr_roam_key(const uint8_t secret[SR_SECRET_LEN], uint8_t key[32])
{
	crypto_generichash(key, 32, (const uint8_t *)SR_ROAM_CTX, strlen(SR_ROAM_CTX), secret,
			   SR_SECRET_LEN);
}

void sr_roam_mac(const uint8_t key[32], const uint8_t *msg, uint8_t mac[SR_MAC_LEN])
{
	crypto_generichash(mac, SR_MAC_LEN, msg, SR_ROAM_LEN - SR_MAC_LEN, key, 32);
}

int sr_auth_challenge(struct sr_auth *a, double now, uint8_t nonce[SR_NONCE_LEN])
{
	if (a->state == SR_AS_DONE)
		return -EALREADY;
	if (a->state != SR_AS_CHALLENGED || now - a->nonce_t >= SR_NONCE_TTL / 2) {
		randombytes_buf(a->nonce, SR_NONCE_LEN);
		a->nonce_t = now;
		a->state = SR_AS_CHALLENGED;
	}
	memcpy(nonce, a->nonce, SR_NONCE_LEN);
	return 0;
}

int sr_auth_verify(struct sr_auth *a, const struct sr_issuer *iss, const uint8_t sid[SR_SID_LEN],
		   uint8_t side, uint64_t expiry, uint64_t unix_now, double now,
		   const uint8_t nonce[SR_NONCE_LEN], const uint8_t mac[SR_MAC_LEN])
{
	uint8_t secret[SR_SECRET_LEN], want[SR_MAC_LEN];
	int r;

	if (a->state == SR_AS_DONE)
		return -EALREADY;
	if (unix_now > expiry)
		return -ETIMEDOUT;
	if (a->state != SR_AS_CHALLENGED || now - a->nonce_t >= SR_NONCE_TTL ||
	    sodium_memcmp(nonce, a->nonce, SR_NONCE_LEN) != 0)
		return -EACCES;
	sr_issuer_secret(iss, sid, side, secret);
	sr_auth_mac(secret, a->nonce, sid, side, want);
	r = sodium_memcmp(want, mac, SR_MAC_LEN) == 0 ? 0 : -EACCES;
	if (r == 0) {
		a->state = SR_AS_DONE;
		sodium_memzero(a->nonce, SR_NONCE_LEN);
	}
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(want, sizeof(want));
	return r;
}
