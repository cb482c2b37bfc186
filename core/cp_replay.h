/* SPDX-License-Identifier: MIT */
/**
 * @file cp_replay.h  The recipient's replay cache: (sender, envelope id) pairs, per-sender
 * bounded, kept until their envelopes expire, surviving a restart.
 *
 * Why bounded per sender: a cache that evicts under pressure lets whoever
 * fills it (any identity can seal to us) push out a legitimate entry and
 * have that envelope accepted again. Here no unexpired entry is ever
 * evicted: a sender with per_sender unexpired entries has its next
 * envelope refused (ENV_E_REPLAY_FULL) until some of its own expire, and
 * when the whole cache holds max entries every new one is refused the
 * same way. Over quota costs that sender's deliveries, never anyone's
 * replay protection. Envelopes live at most ENVELOPE_EXPIRY_AHEAD seconds
 * (envelope_open() refuses later expiries, and so does cp_replay_add()),
 * so an entry lives at most that long too.
 *
 * Persistence: "<keydir>/replay.db" (SQLite, mode 0600, WAL with
 * synchronous=FULL: an accepted entry is on disk before cp_replay_add()
 * returns), loaded on open; no key directory: memory only. Expired entries
 * are deleted as the cache is used. Several processes may share the file.
 * The clock is passed in.
 */
#ifndef PORTLESS_CP_REPLAY_H
#define PORTLESS_CP_REPLAY_H

#include <stdint.h>

#include "envelope.h"

enum {
	CP_REPLAY_MAX = 65536,       /**< default limit: unexpired entries in all */
	CP_REPLAY_PER_SENDER = 1024, /**< default limit: unexpired entries of one sender */
};

/** The file in the key directory. */
#define CP_REPLAY_FILE "replay.db"

struct cp_replay;

/**
 * Open the cache of key directory @p keydir (its CP_REPLAY_FILE, created
 * when absent, entries loaded), or an empty in-memory one when @p keydir
 * is NULL. @p max and @p per_sender bound it (0: CP_REPLAY_MAX and
 * CP_REPLAY_PER_SENDER). Returns 0 or -errno (-EIO for a damaged or
 * unusable file; logged with its path).
 */
int cp_replay_open(const char *keydir, unsigned max, unsigned per_sender, struct cp_replay **out)
    __attribute__((warn_unused_result));

/** Close (what was accepted is already on disk). NULL: no-op. */
void cp_replay_close(struct cp_replay *rp);

/**
 * Record that @p from's envelope @p id, valid until @p expiry, was seen at
 * @p now. Returns ENV_OK when new (recorded; durable for a file),
 * ENV_E_REPLAY when already recorded and unexpired, ENV_E_REPLAY_FULL
 * when @p from (or the whole cache) is at its limit, ENV_E_EXPIRED or
 * ENV_E_EXPIRY_FAR for an expiry outside [now, now + ENVELOPE_EXPIRY_AHEAD],
 * ENV_E_ARG for an invalid handle and ENV_E_REPLAY_STORE when the file
 * fails (nothing recorded: the caller must not act on the envelope).
 */
int cp_replay_add(struct cp_replay *rp, const char *from, const uint8_t id[ENVELOPE_ID_LEN],
		  uint64_t expiry, uint64_t now) __attribute__((warn_unused_result));

/** Entries unexpired at @p now of @p from (NULL: of all senders); -1 when the file fails. */
long cp_replay_count(struct cp_replay *rp, const char *from, uint64_t now);

#endif
