/* SPDX-License-Identifier: MIT */
#include "cp_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct local_dir {
	struct cp_dir dir;
	char advertise[CP_HOSTPORT_BUF];
	uint8_t pk[CP_KEY_LEN];
	bool (*hosts)(void *ctx, const char *handle);
	void *ctx;
};

static int local_lookup(void *impl, const char *handle, struct cp_dir_entry *out)
{
	struct local_dir *l = impl;

	if (!l->hosts(l->ctx, handle))
		return -ENOENT;
	snprintf(out->hostport, sizeof(out->hostport), "%s", l->advertise);
	memcpy(out->server_pk, l->pk, CP_KEY_LEN);
	out->local = true;
	return 0;
}

static void local_free(void *impl)
{
	free(impl);
}

static const struct cp_dir_ops local_ops = {
    .lookup = local_lookup,
    .free = local_free,
};

struct cp_dir *cp_dir_local_new(const char *advertise, const uint8_t pk[CP_KEY_LEN],
				bool (*hosts)(void *ctx, const char *handle), void *ctx)
{
	struct local_dir *l;

	if (strlen(advertise) > CP_HOSTPORT_MAX)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	snprintf(l->advertise, sizeof(l->advertise), "%s", advertise);
	memcpy(l->pk, pk, CP_KEY_LEN);
	l->hosts = hosts;
	l->ctx = ctx;
	l->dir.ops = &local_ops;
	l->dir.impl = l;
	return &l->dir;
}

int cp_dir_lookup(struct cp_dir *d, const char *handle, struct cp_dir_entry *out)
{
	memset(out, 0, sizeof(*out));
	return d->ops->lookup(d->impl, handle, out);
}

void cp_dir_free(struct cp_dir *d)
{
	if (d)
		d->ops->free(d->impl);
}
