/* SPDX-License-Identifier: MIT */
#include "sr_session.h"

#include <sodium.h>
#include <string.h>

int sr_session_params_make(const struct dp_keypair *mine, int side,
			   const struct sr_session_peers *peers, const struct sr_side_ticket *tk,
			   const struct dp_limits *limits, struct sr_session_params *sp)
{
	struct dp_transcript t;
	int r;

	memset(sp, 0, sizeof(*sp));
	memset(&t, 0, sizeof(t));
	memcpy(t.session_id, tk->session_id, SR_SID_LEN);
	t.handle_a = peers->handle_a;
	t.handle_b = peers->handle_b;
	memcpy(t.pk_a, peers->pk_a, DP_PK_LEN);
	memcpy(t.pk_b, peers->pk_b, DP_PK_LEN);
	t.aead = peers->aead;
	r = dp_derive(mine, side, &t, &sp->keys);
	if (r < 0) {
		sodium_memzero(sp, sizeof(*sp));
		return r;
	}
	sp->ticket = *tk;
	if (limits)
		sp->limits = *limits;
	else
		dp_limits_default(&sp->limits);
	return 0;
}

struct sr_client *sr_session_open(struct ev_loop *loop, const struct dp_keypair *mine, int side,
				  const struct sr_session_peers *peers,
				  const struct sr_side_ticket *tk, const struct dp_limits *limits,
				  const struct sr_client_cbs *cb)
{
	struct sr_session_params sp;
	struct sr_client *c = NULL;

	if (sr_session_params_make(mine, side, peers, tk, limits, &sp) == 0)
		c = sr_client_new(loop, &sp, cb);
	sodium_memzero(&sp, sizeof(sp));
	return c;
}
