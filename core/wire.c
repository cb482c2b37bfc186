/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <string.h>

void wr_init(struct wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = false;
}

uint8_t *wr_reserve(struct wr *w, size_t n)
{
	uint8_t *p;

	if (w->err || w->cap - w->len < n) {
		w->err = true;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *p = wr_reserve(w, 1);

	if (p)
		*p = v;
}

void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *p = wr_reserve(w, 2);

	if (p)
		put_be16(p, v);
}

void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *p = wr_reserve(w, 4);

	if (p)
		put_be32(p, v);
}

void wr_u64(struct wr *w, uint64_t v)
{
	uint8_t *p = wr_reserve(w, 8);

	if (p)
		put_be64(p, v);
}

void wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *p = wr_reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void wr_str8(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	if (n > 255) {
		w->err = true;
		return;
	}
	wr_u8(w, (uint8_t)n);
	wr_bytes(w, s, n);
}

void wr_lv16(struct wr *w, const void *p, size_t n)
{
	if (n > 0xffff) {
		w->err = true;
		return;
	}
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, p, n);
}

void wr_lv32(struct wr *w, const void *p, size_t n)
{
	if (n > 0xffffffffu) {
		w->err = true;
		return;
	}
	wr_u32(w, (uint32_t)n);
	wr_bytes(w, p, n);
}

void rd_init(struct rd *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
	r->err = false;
}

const uint8_t *rd_ptr(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err || r->len - r->off < n) {
		r->err = true;
		return NULL;
	}
	p = r->buf + r->off;
	r->off += n;
	return p;
}

uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = rd_ptr(r, 1);

	return p ? *p : 0;
}

uint16_t rd_u16(struct rd *r)
{
	const uint8_t *p = rd_ptr(r, 2);

	return p ? get_be16(p) : 0;
}

uint32_t rd_u32(struct rd *r)
{
	const uint8_t *p = rd_ptr(r, 4);

	return p ? get_be32(p) : 0;
}

uint64_t rd_u64(struct rd *r)
{
	const uint8_t *p = rd_ptr(r, 8);

	return p ? get_be64(p) : 0;
}

void rd_bytes(struct rd *r, void *out, size_t n)
{
	const uint8_t *p = rd_ptr(r, n);

	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

void rd_str8(struct rd *r, char *out, size_t cap)
{
	size_t n = rd_u8(r);
	const uint8_t *p = rd_ptr(r, n);

	if (!p || n >= cap || memchr(p, 0, n)) {
		r->err = true;
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

const uint8_t *rd_lv16(struct rd *r, size_t *len)
{
	size_t n = rd_u16(r);
	const uint8_t *p = rd_ptr(r, n);

	*len = p ? n : 0;
	return p;
}

const uint8_t *rd_lv32(struct rd *r, size_t *len, size_t max)
{
	size_t n = rd_u32(r);
	const uint8_t *p;

	if (n > max) {
		r->err = true;
		*len = 0;
		return NULL;
	}
	p = rd_ptr(r, n);
	*len = p ? n : 0;
	return p;
}
