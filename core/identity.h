/* SPDX-License-Identifier: MIT */
/**
 * @file identity.h  Identity keys: Ed25519 (signing) + X25519 (encryption).
 *
 * Keys are generated on the edge and kept in one key file (mode 0600). The
 * secret halves live in sodium_malloc'ed memory and are wiped on free.
 * Key file format: docs/PROTOCOL.md, "Key file".
 */
#ifndef PORTLESS_IDENTITY_H
#define PORTLESS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"

enum {
	ID_SIGN_PK = 32, /**< crypto_sign_PUBLICKEYBYTES */
	ID_SIGN_SK = 64, /**< crypto_sign_SECRETKEYBYTES */
	ID_SEED = 32,    /**< crypto_sign_SEEDBYTES */
	ID_BOX_PK = 32,  /**< crypto_box_PUBLICKEYBYTES */
	ID_BOX_SK = 32,  /**< crypto_box_SECRETKEYBYTES */
	ID_FPR_BUF = 48, /**< fingerprint text with NUL */
	ID_FILE_MAX = 4096,
};

/** Public half of an identity: what a home publishes. */
struct pubkeys {
	char handle[HANDLE_BUF];
	uint8_t sign_pk[ID_SIGN_PK];
	uint8_t box_pk[ID_BOX_PK];
};

/** A whole identity; the secret pointers point into sodium_malloc'ed memory. */
struct identity {
	struct pubkeys pub;
	struct id_secret *sec; /**< opaque, guarded memory */
};

/** Ed25519 secret key (64 bytes) of @p id. */
const uint8_t *identity_sign_sk(const struct identity *id);
/** X25519 secret key (32 bytes) of @p id. */
const uint8_t *identity_box_sk(const struct identity *id);

/** Make a fresh identity for @p handle; NULL on invalid handle or ENOMEM. */
struct identity *identity_generate(const char *handle);

/** Wipe and free; NULL is a no-op. */
void identity_free(struct identity *id);

/**
 * Parse key-file text. On failure returns a negative errno and writes a
 * one-line reason into @p err (never any key material).
 */
int identity_parse(const char *text, size_t len, struct identity **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/**
 * Load a key file: refuses a file that is not a regular file owned by the
 * caller, or that group/others can read or write ("permissions 0644 for
 * 'x' are too open", as ssh says), then parses it.
 */
int identity_load(const char *path, struct identity **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/**
 * Write the key file atomically (temp file 0600 in the same directory,
 * fsync, rename, fsync dir). -EEXIST when it exists and !force.
 */
int identity_save(const struct identity *id, const char *path, bool force, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/** Short human-comparable fingerprint of the public keys (docs/PROTOCOL.md). */
void identity_fingerprint(const struct pubkeys *pk, char out[ID_FPR_BUF]);

/** Constant-time equality of two public key sets (handle compared too). */
bool pubkeys_equal(const struct pubkeys *a, const struct pubkeys *b);

/**
 * Default key directory: $PORTLESS_KEYS, else /var/lib/portless for root,
 * else $XDG_DATA_HOME/portless or ~/.local/share/portless.
 */
int identity_default_dir(char *out, size_t cap);

/** "<dir>/identity.key" into @p out (one identity per key directory). */
int identity_path(char *out, size_t cap, const char *dir);

#endif
