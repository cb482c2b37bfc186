/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: key rotation proofs (cp_rot_decode / cp_rot_verify), as
 * a home hands them out in CP_T_R_KEYS and as a client checks them against
 * its pin. Fixed old/new keys; a forged proof never verifies; what decodes
 * is consistent.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_rot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct identity *old_id, *new_id;

static struct identity *fixed(const char *text)
{
	struct identity *id = NULL;
	char err[128];

	if (identity_parse(text, strlen(text), &id, err, sizeof(err)) != 0)
		abort();
	return id;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in;
	struct cp_rot r;

	if (!old_id) {
		if (sodium_init() < 0)
			abort();
		old_id = fixed("portless-key v1\nhandle @bob\n"
			       "sign-seed tegmGN1IwKLJBrXdWGl48dvJbQhg6+icN90jwT9i0I8=\n"
			       "sign-public /ACAvObSpeO7eyVaIpyY6ZXZd6wwyp8cXwY9hmgbvkE=\n"
			       "box-secret YBz0TBdU1ibzP+sFu0OyvY/5cMxGb+f5WFRwEV30soQ=\n"
			       "box-public Av4wA+ctNGCiAm1kW4Sv6bwSr7K14nExMQIg7yaH3U8=\n");
		new_id = identity_generate("@bob");
		if (!new_id)
			abort();
	}
	in = malloc(size ? size : 1);
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	if (cp_rot_decode(in, size, &r) == 0) {
		struct pubkeys pk = {0};

		if (!handle_valid(r.handle))
			abort();
		memcpy(pk.handle, r.handle, sizeof(pk.handle));
		memcpy(pk.sign_pk, r.new_sign_pk, sizeof(pk.sign_pk));
		memcpy(pk.box_pk, r.new_box_pk, sizeof(pk.box_pk));
		/* without old_id's secret no statement verifies under its key */
		if (cp_rot_verify(in, size, old_id->pub.sign_pk, &pk))
			abort();
		(void)cp_rot_verify(in, size, r.old_sign_pk, &pk);
	}
	(void)cp_rot_verify(in, size, old_id->pub.sign_pk, &new_id->pub);
	free(in);
	return 0;
}
