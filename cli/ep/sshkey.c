/* SPDX-License-Identifier: MIT */
#include "sshkey.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "text.h"
#include "wire.h"

static const char ED25519[] = "ssh-ed25519";
static const char MAGIC[] = "openssh-key-v1"; /* written with its NUL */
static const char BEGIN[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
static const char END[] = "-----END OPENSSH PRIVATE KEY-----\n";

enum {
	WRAP = 70, /* ssh-keygen's base64 line width */
	/* Binary private key with the longest comment and the most padding. */
	PRIV_BIN_MAX = 15 + (4 + 4) + (4 + 4) + 4 + 4 + (4 + SSHKEY_ED25519_BLOB) + 4 +
		       (8 + (4 + 11) + (4 + 32) + (4 + 64) + (4 + SSHKEY_COMMENT_BUF - 1) + 7),
	PRIV_B64_MAX = 4 * ((PRIV_BIN_MAX + 2) / 3),
};
_Static_assert(sizeof(BEGIN) - 1 + PRIV_B64_MAX + PRIV_B64_MAX / WRAP + 1 + sizeof(END) <=
		   SSHKEY_PRIVATE_BUF,
	       "SSHKEY_PRIVATE_BUF too small for the longest private key");
_Static_assert(4 + sizeof(ED25519) - 1 + 4 + SSHKEY_ED25519_PK == SSHKEY_ED25519_BLOB,
	       "Ed25519 blob size");

int sshkey_comment_valid(const char *s)
{
	size_t n = strlen(s);

	if (n >= SSHKEY_COMMENT_BUF)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int make(const uint8_t *seed, const char *comment, struct sshkey **out)
{
	struct sshkey *k;

	*out = NULL;
	if (!sshkey_comment_valid(comment))
		return -EINVAL;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	memset(k, 0, sizeof(*k));
	if (seed)
		crypto_sign_seed_keypair(k->pk, k->sk, seed);
	else
		crypto_sign_keypair(k->pk, k->sk);
	strcpy(k->comment, comment);
	*out = k;
	return 0;
}

int sshkey_generate(const char *comment, struct sshkey **out)
{
	return make(NULL, comment, out);
}

int sshkey_from_seed(const uint8_t seed[32], const char *comment, struct sshkey **out)
{
	return make(seed, comment, out);
}

void sshkey_free(struct sshkey *k)
{
	if (k)
		sodium_free(k); /* sodium_free wipes before unmapping */
}

static void put_ed25519_blob(struct wr *w, const uint8_t pk[SSHKEY_ED25519_PK])
{
	wr_lv32(w, ED25519, sizeof(ED25519) - 1);
	wr_lv32(w, pk, SSHKEY_ED25519_PK);
}

void sshkey_get_pub(const struct sshkey *k, struct sshkey_pub *pub)
{
	struct wr w;

	memset(pub, 0, sizeof(*pub));
	strcpy(pub->type, ED25519);
	wr_init(&w, pub->blob, sizeof(pub->blob));
	put_ed25519_blob(&w, k->pk);
	pub->blob_len = w.len;
	strcpy(pub->comment, k->comment);
}

int sshkey_pub_format(const struct sshkey_pub *pub, int with_comment, char *out, size_t cap)
{
	size_t tl = strlen(pub->type), bl = text_b64_len(pub->blob_len); /* with NUL */
	size_t need = tl + 1 + bl;

	if (with_comment && pub->comment[0])
		need += 1 + strlen(pub->comment);
	if (cap < need)
		return -ENOSPC;
	memcpy(out, pub->type, tl);
	out[tl] = ' ';
	sodium_bin2base64(out + tl + 1, cap - tl - 1, pub->blob, pub->blob_len,
			  sodium_base64_VARIANT_ORIGINAL);
	if (with_comment && pub->comment[0]) {
		strcat(out, " ");
		strcat(out, pub->comment);
	}
	return 0;
}

/* Split "<type> <base64>[ <comment>]" into its words; the comment keeps inner spaces. */
static int split_line(const char *line, char *type, char *b64, size_t b64cap, char *comment)
{
	const char *p = line, *q;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	q = p + strcspn(p, " \t\r\n");
	n = (size_t)(q - p);
	if (n == 0 || n >= SSHKEY_TYPE_BUF)
		return -EINVAL;
	memcpy(type, p, n);
	type[n] = '\0';
	p = q + strspn(q, " \t");
	q = p + strcspn(p, " \t\r\n");
	n = (size_t)(q - p);
	if (n == 0 || n >= b64cap)
		return -EINVAL;
	memcpy(b64, p, n);
	b64[n] = '\0';
	p = q + strspn(q, " \t");
	n = strcspn(p, "\r\n");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (p[n] && strspn(p + n, "\r\n \t") != strlen(p + n))
		return -EINVAL; /* a second line */
	if (n >= SSHKEY_COMMENT_BUF)
		return -EINVAL;
	memcpy(comment, p, n);
	comment[n] = '\0';
	return sshkey_comment_valid(comment) ? 0 : -EINVAL;
}

/* The blob's first string must name @p type; Ed25519 blobs are exactly 51 bytes. */
static int check_blob(const char *type, const uint8_t *blob, size_t len)
{
	struct rd r;
	size_t tl;
	const uint8_t *t;

	rd_init(&r, blob, len);
	t = rd_lv32(&r, &tl, SSHKEY_TYPE_BUF - 1);
	if (!t || tl != strlen(type) || memcmp(t, type, tl) != 0)
		return -EINVAL;
	if (strcmp(type, ED25519) == 0) {
		rd_lv32(&r, &tl, SSHKEY_ED25519_PK);
		if (!rd_done(&r) || tl != SSHKEY_ED25519_PK)
			return -EINVAL;
	}
	return 0;
}

int sshkey_pub_parse(const char *line, struct sshkey_pub *out)
{
	char b64[4 * ((SSHKEY_BLOB_MAX + 2) / 3) + 1];
	size_t got = 0;
	const char *end = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = split_line(line, out->type, b64, sizeof(b64), out->comment);
	if (r < 0)
		goto out;
	r = -EINVAL;
	if (sodium_base642bin(out->blob, sizeof(out->blob), b64, strlen(b64), NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *end != '\0')
		goto out;
	out->blob_len = got;
	r = check_blob(out->type, out->blob, got);
out:
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int sshkey_pub_load(const char *path, struct sshkey_pub *out)
{
	char buf[SSHKEY_LINE_BUF];
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return sshkey_pub_parse(buf, out);
}

int sshkey_fingerprint_sha256(const struct sshkey_pub *pub, char *out, size_t cap)
{
	uint8_t h[crypto_hash_sha256_BYTES];

	if (cap < SSHKEY_FPR_BUF)
		return -ENOSPC;
	crypto_hash_sha256(h, pub->blob, pub->blob_len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, cap - 7, h, sizeof(h),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return 0;
}

/* The binary openssh-key-v1 structure (see the header). */
static size_t private_binary(const struct sshkey *k, uint8_t *buf, size_t cap)
{
	struct wr w;
	uint8_t *slen;
	size_t start;
	uint32_t check;

	wr_init(&w, buf, cap);
	wr_bytes(&w, MAGIC, sizeof(MAGIC)); /* includes the NUL */
	wr_lv32(&w, "none", 4);
	wr_lv32(&w, "none", 4);
	wr_lv32(&w, "", 0);
	wr_u32(&w, 1);
	wr_u32(&w, SSHKEY_ED25519_BLOB);
	put_ed25519_blob(&w, k->pk);
	slen = wr_reserve(&w, 4);
	start = w.len;
	check = randombytes_random();
	wr_u32(&w, check);
	wr_u32(&w, check);
	wr_lv32(&w, ED25519, sizeof(ED25519) - 1);
	wr_lv32(&w, k->pk, SSHKEY_ED25519_PK);
	wr_lv32(&w, k->sk, SSHKEY_ED25519_SK);
	wr_lv32(&w, k->comment, strlen(k->comment));
	for (uint8_t pad = 1; (w.len - start) % 8 != 0; pad++)
		wr_u8(&w, pad);
	if (!wr_ok(&w) || !slen)
		return 0;
	put_be32(slen, (uint32_t)(w.len - start));
	return w.len;
}

/* Standard base64 of @p bin wrapped at WRAP columns, each line ending in '\n'. */
static int armour(const uint8_t *bin, size_t n, char *out, size_t cap, size_t *len)
{
	char b64[PRIV_B64_MAX + 1];
	size_t bl, off = 0;

	sodium_bin2base64(b64, sizeof(b64), bin, n, sodium_base64_VARIANT_ORIGINAL);
	bl = strlen(b64);
	if (cap < sizeof(BEGIN) - 1 + bl + bl / WRAP + 1 + sizeof(END))
		goto nospace;
	memcpy(out, BEGIN, sizeof(BEGIN) - 1);
	off = sizeof(BEGIN) - 1;
	for (size_t i = 0; i < bl; i += WRAP) {
		size_t chunk = bl - i < WRAP ? bl - i : WRAP;

		memcpy(out + off, b64 + i, chunk);
		off += chunk;
		out[off++] = '\n';
	}
	memcpy(out + off, END, sizeof(END)); /* with the NUL */
	*len = off + sizeof(END) - 1;
	sodium_memzero(b64, sizeof(b64));
	return 0;
nospace:
	sodium_memzero(b64, sizeof(b64));
	return -ENOSPC;
}

int sshkey_private_format(const struct sshkey *k, char *out, size_t cap, size_t *len)
{
	uint8_t bin[PRIV_BIN_MAX];
	size_t n;
	int r;

	n = private_binary(k, bin, sizeof(bin));
	r = n ? armour(bin, n, out, cap, len) : -EINVAL;
	sodium_memzero(bin, sizeof(bin));
	return r;
}
