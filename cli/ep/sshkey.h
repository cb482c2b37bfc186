/* SPDX-License-Identifier: MIT */
/**
 * @file sshkey.h  Ephemeral Ed25519 SSH keys in OpenSSH formats, from libsodium keys.
 *
 * Public key blob (RFC 8709 / RFC 4253 "string" = u32 length + bytes):
 *
 *     string "ssh-ed25519"
 *     string pk                  (32 bytes)
 *
 * Public key line: `<type> <base64(blob)>[ <comment>]`.
 * SHA-256 fingerprint: `SHA256:` + unpadded base64 of SHA-256(blob), exactly
 * what `ssh-keygen -l -E sha256` prints.
 *
 * Private key file, unencrypted "openssh-key-v1" (OpenSSH PROTOCOL.key):
 *
 *     "openssh-key-v1\0"        (15 bytes, magic)
 *     string ciphername          "none"
 *     string kdfname             "none"
 *     string kdfoptions          ""
 *     u32    number of keys      1
 *     string public key blob     (as above)
 *     string private section:
 *         u32    checkint        (random)
 *         u32    checkint        (the same value)
 *         string "ssh-ed25519"
 *         string pk              (32 bytes)
 *         string sk              (64 bytes: libsodium's seed || pk)
 *         string comment
 *         padding 1, 2, 3, ...   up to a multiple of 8 (cipher "none" block size)
 *
 * armoured as `-----BEGIN OPENSSH PRIVATE KEY-----`, standard padded base64
 * wrapped at 70 columns, `-----END OPENSSH PRIVATE KEY-----`.
 *
 * A public key of any type can be parsed (host keys may be RSA or ECDSA);
 * only Ed25519 keys are generated.
 */
#ifndef PORTLESS_SSHKEY_H
#define PORTLESS_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

enum {
	SSHKEY_ED25519_PK = 32,
	SSHKEY_ED25519_SK = 64,
	/** Ed25519 blob: 4 + 11 ("ssh-ed25519") + 4 + 32. */
	SSHKEY_ED25519_BLOB = 51,
	SSHKEY_TYPE_BUF = 64,     /**< key type name with NUL */
	SSHKEY_BLOB_MAX = 2048,   /**< largest accepted public blob (RSA 8192 fits) */
	SSHKEY_COMMENT_BUF = 256, /**< comment with NUL */
	/** A public line: type, space, base64 blob, space, comment, NUL. */
	SSHKEY_LINE_BUF =
	    SSHKEY_TYPE_BUF + 4 * ((SSHKEY_BLOB_MAX + 2) / 3) + SSHKEY_COMMENT_BUF + 4,
	/** "SHA256:" + 43 base64 characters + NUL. */
	SSHKEY_FPR_BUF = 7 + 43 + 1,
	/** Private key file text with the longest comment (checked in sshkey.c). */
	SSHKEY_PRIVATE_BUF = 1200,
};

/** A parsed public key (any type). */
struct sshkey_pub {
	char type[SSHKEY_TYPE_BUF];    /**< e.g. "ssh-ed25519" */
	uint8_t blob[SSHKEY_BLOB_MAX]; /**< wire blob, starts with string(type) */
	size_t blob_len;
	char comment[SSHKEY_COMMENT_BUF]; /**< may be empty */
};

/** An Ed25519 key pair; lives in sodium_malloc'ed memory (guarded, wiped on free). */
struct sshkey {
	uint8_t pk[SSHKEY_ED25519_PK];
	uint8_t sk[SSHKEY_ED25519_SK];
	char comment[SSHKEY_COMMENT_BUF];
};

/**
 * Make a fresh key pair with @p comment (printable ASCII, no control
 * characters, < SSHKEY_COMMENT_BUF). -EINVAL on a bad comment, -ENOMEM.
 */
int sshkey_generate(const char *comment, struct sshkey **out) __attribute__((warn_unused_result));

/** Same from a 32-byte seed (deterministic; for tests and known answers). */
int sshkey_from_seed(const uint8_t seed[32], const char *comment, struct sshkey **out)
    __attribute__((warn_unused_result));

/** Wipe and free; NULL is a no-op. */
void sshkey_free(struct sshkey *k);

/** The public half of @p k as a parsed public key (type, blob, comment). */
void sshkey_get_pub(const struct sshkey *k, struct sshkey_pub *pub);

/**
 * Render `<type> <base64>[ <comment>]` (no newline). With @p with_comment
 * false the comment is left out (the form authorized_keys and known_hosts
 * lines embed). -ENOSPC when @p cap is too small.
 */
int sshkey_pub_format(const struct sshkey_pub *pub, int with_comment, char *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Parse one public key line `<type> <base64>[ <comment>]` (as in a .pub
 * file; leading/trailing whitespace and a final newline are allowed). The
 * blob must decode, its first string must equal @p type, and an Ed25519
 * blob must be exactly SSHKEY_ED25519_BLOB bytes. -EINVAL otherwise.
 */
int sshkey_pub_parse(const char *line, struct sshkey_pub *out) __attribute__((warn_unused_result));

/** Read and parse the first key line of a .pub file. -errno or -EINVAL. */
int sshkey_pub_load(const char *path, struct sshkey_pub *out) __attribute__((warn_unused_result));

/** "SHA256:<unpadded base64>" of the blob. -ENOSPC when @p cap < SSHKEY_FPR_BUF. */
int sshkey_fingerprint_sha256(const struct sshkey_pub *pub, char *out, size_t cap)
    __attribute__((warn_unused_result));

/**
 * Render the unencrypted OpenSSH private key file into @p out (secret:
 * wipe it with sodium_memzero when done). *len gets the text length
 * (without NUL). -ENOSPC when @p cap is too small.
 */
int sshkey_private_format(const struct sshkey *k, char *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));

/** True when @p s is an acceptable comment (printable ASCII 0x20..0x7e, short enough). */
int sshkey_comment_valid(const char *s);

#endif
