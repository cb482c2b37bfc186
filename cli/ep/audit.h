/* SPDX-License-Identifier: MIT */
/**
 * @file audit.h  One structured record per device session start, end and
 * refusal: session id, both identities, the local user, the session's client
 * addresses, the relay it goes through, start and end in UTC, duration, bytes
 * each way, the reason.
 *
 * Where journald runs (its socket exists) the record goes there as fields
 * (PORTLESS_EVENT, PORTLESS_SESSION, PORTLESS_PEER, PORTLESS_USER, ...) via
 * sd_journal_send; always also as one JSON line in the daemon's log:
 *
 *     audit: {"event":"end","session":"9f...","device":"@device","peer":"@alice",...}
 *
 * Strings are JSON-escaped; nothing secret is ever in a record.
 */
#ifndef PORTLESS_AUDIT_H
#define PORTLESS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct audit_rec {
	const char *event;             /**< "start", "end" or "refused" */
	const char *sid;               /**< session id (hex), or "" */
	const char *device;            /**< our handle */
	const char *peer;              /**< the client identity */
	const char *user;              /**< local user asked for */
	const char *client4, *client6; /**< the session's addresses, or "" */
	const char *relay;             /**< relay host:port of the session's ticket, or "" */
	uint64_t start, end;           /**< unix seconds (end 0: not ended) */
	uint64_t bytes_in, bytes_out;
	const char *reason; /**< end or refusal reason, or "" */
};

/** Emit @p r (journald fields where journald runs, and a JSON line in the log). */
void audit_emit(const struct audit_rec *r);

/** Format @p r as one JSON object into @p out (cap bytes). Returns the length, or -1. */
int audit_json(const struct audit_rec *r, char *out, size_t cap);

#endif
