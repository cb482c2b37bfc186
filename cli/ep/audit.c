/* SPDX-License-Identifier: MIT */
#include "audit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "log.h"

/* "2026-12-04T19:22:00Z", or "" for 0. */
static void utc(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	out[0] = '\0';
	if (t && gmtime_r(&tt, &tm))
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string body: quotes, backslashes and control bytes escaped. */
static size_t esc(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			n += (size_t)snprintf(out + n, cap - n, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		else
			out[n++] = (char)c;
	}
	out[n < cap ? n : cap - 1] = '\0';
	return n;
}

int audit_json(const struct audit_rec *r, char *out, size_t cap)
{
	const char *keys[] = {"event",   "session", "device", "peer",  "user",
			      "client4", "client6", "relay",  "reason"};
	const char *vals[] = {r->event,   r->sid,     r->device, r->peer,  r->user,
			      r->client4, r->client6, r->relay,  r->reason};
	char v[256], t0[32], t1[32];
	size_t n = 1;
	int w;

	if (cap < 2)
		return -1;
	out[0] = '{';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		esc(v, sizeof(v), vals[i] ? vals[i] : "");
		w = snprintf(out + n, cap - n, "\"%s\":\"%s\",", keys[i], v);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	utc(r->start, t0);
	utc(r->end, t1);
	w = snprintf(out + n, cap - n,
		     "\"start\":\"%s\",\"end\":\"%s\",\"duration_s\":%llu,\"bytes_in\":%llu,"
		     "\"bytes_out\":%llu}",
		     t0, t1, (unsigned long long)(r->end > r->start ? r->end - r->start : 0),
		     (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
	if (w < 0 || (size_t)w >= cap - n)
		return -1;
	return (int)(n + (size_t)w);
}

#ifdef HAVE_SYSTEMD
static void to_journal(const struct audit_rec *r, const char *json)
{
	if (access("/run/systemd/journal/socket", W_OK) != 0)
		return;
	sd_journal_send("MESSAGE=portless session %s %s %s as %s", r->event, r->sid, r->peer,
			r->user, "PRIORITY=6", "PORTLESS_EVENT=%s", r->event, "PORTLESS_SESSION=%s",
			r->sid, "PORTLESS_DEVICE=%s", r->device, "PORTLESS_PEER=%s", r->peer,
			"PORTLESS_USER=%s", r->user, "PORTLESS_CLIENT4=%s", r->client4,
			"PORTLESS_CLIENT6=%s", r->client6, "PORTLESS_RELAY=%s", r->relay,
			"PORTLESS_REASON=%s", r->reason, "PORTLESS_BYTES_IN=%llu",
			(unsigned long long)r->bytes_in, "PORTLESS_BYTES_OUT=%llu",
			(unsigned long long)r->bytes_out, "PORTLESS_AUDIT=%s", json, NULL);
}
#endif

void audit_emit(const struct audit_rec *r)
{
	char json[2048];

	if (audit_json(r, json, sizeof(json)) < 0)
		return;
	log_msg(PL_LOG_INFO, "audit: %s", json);
#ifdef HAVE_SYSTEMD
	to_journal(r, json);
#endif
}
