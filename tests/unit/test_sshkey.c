/* SPDX-License-Identifier: MIT */
/* sshkey: OpenSSH public line, private key structure, fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "sshkey.h"
#include "wire.h"

/* RFC 8032 test 1 secret (seed) and its public key. */
static const uint8_t SEED1[32] = {0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
				  0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
				  0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
static const uint8_t PK1[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
				0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
				0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};

/* That key as ssh-keygen renders it (checked with `ssh-keygen -l -E sha256`). */
static const char LINE1[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea t1";

static void test_public_line_known_answer(void **state)
{
	struct sshkey *k = NULL;
	struct sshkey_pub pub;
	char line[SSHKEY_LINE_BUF];

	assert_int_equal(sshkey_from_seed(SEED1, "t1", &k), 0);
	assert_memory_equal(k->pk, PK1, 32);
	sshkey_get_pub(k, &pub);
	assert_int_equal(pub.blob_len, SSHKEY_ED25519_BLOB);
	assert_int_equal(sshkey_pub_format(&pub, 1, line, sizeof(line)), 0);
	assert_string_equal(line, LINE1);
	assert_int_equal(sshkey_pub_format(&pub, 0, line, sizeof(line)), 0);
	assert_int_equal(strlen(line), strlen(LINE1) - 3);
	assert_int_equal(sshkey_pub_format(&pub, 1, line, 20), -ENOSPC);
	sshkey_free(k);
}

static void test_parse_roundtrip(void **state)
{
	struct sshkey_pub pub;
	char line[SSHKEY_LINE_BUF];

	assert_int_equal(sshkey_pub_parse(LINE1, &pub), 0);
	assert_string_equal(pub.type, "ssh-ed25519");
	assert_string_equal(pub.comment, "t1");
	assert_memory_equal(pub.blob + pub.blob_len - 32, PK1, 32);
	assert_int_equal(sshkey_pub_format(&pub, 1, line, sizeof(line)), 0);
	assert_string_equal(line, LINE1);
	/* Surrounding whitespace, a newline and a comment with spaces. */
	assert_int_equal(
	    sshkey_pub_parse("  ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO"
			     "4XLz2qYjJa8CGmj3B1Ea root@host  x \n",
			     &pub),
	    0);
	assert_string_equal(pub.comment, "root@host  x");
	assert_int_equal(
	    sshkey_pub_parse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO"
			     "4XLz2qYjJa8CGmj3B1Ea",
			     &pub),
	    0);
	assert_string_equal(pub.comment, "");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "ssh-ed25519",
	    "ssh-ed25519 !!!!",
	    /* type word does not match the blob's own type */
	    "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
	    /* truncated blob (31-byte key) */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH9damAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1E=",
	    /* trailing bytes after the key */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1EaAA==",
	    /* two lines */
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea a\nb",
	    /* control character in the comment (parentheses: one literal, not a missing comma) */
	    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea "
	     "a\x01"),
	};
	struct sshkey_pub pub;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(pub.type, 'x', 4);
		assert_int_equal(sshkey_pub_parse(bad[i], &pub), -EINVAL);
		assert_int_equal(pub.blob_len, 0);
		assert_int_equal(pub.type[0], '\0');
	}
}

static void test_fingerprint(void **state)
{
	struct sshkey_pub pub;
	char fpr[SSHKEY_FPR_BUF];

	assert_int_equal(sshkey_pub_parse(LINE1, &pub), 0);
	assert_int_equal(sshkey_fingerprint_sha256(&pub, fpr, sizeof(fpr)), 0);
	/* `ssh-keygen -l -E sha256` on LINE1 */
	assert_string_equal(fpr, "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8");
	assert_int_equal(sshkey_fingerprint_sha256(&pub, fpr, 10), -ENOSPC);
}

/* Decode the armoured private key and walk every field of openssh-key-v1. */
static void check_private(const struct sshkey *k, const char *text, size_t len)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
	static const char end[] = "-----END OPENSSH PRIVATE KEY-----\n";
	char b64[2048] = {0};
	uint8_t bin[1600];
	size_t bl = 0, o = 0, n, plen;
	const char *p;
	const uint8_t *s, *priv;
	struct rd r, pr;

	assert_int_equal(strlen(text), len);
	assert_memory_equal(text, begin, sizeof(begin) - 1);
	assert_string_equal(text + len - (sizeof(end) - 1), end);
	for (p = text + sizeof(begin) - 1; p < text + len - (sizeof(end) - 1); p++) {
		if (*p == '\n') {
			assert_true(o <= 70); /* wrapped at 70 */
			o = 0;
			continue;
		}
		b64[bl++] = *p;
		o++;
	}
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), b64, bl, NULL, &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	rd_init(&r, bin, n);
	assert_memory_equal(rd_ptr(&r, 15), "openssh-key-v1\0", 15);
	s = rd_lv32(&r, &plen, 64);
	assert_true(plen == 4 && !memcmp(s, "none", 4));
	s = rd_lv32(&r, &plen, 64);
	assert_true(plen == 4 && !memcmp(s, "none", 4));
	rd_lv32(&r, &plen, 64);
	assert_int_equal(plen, 0);
	assert_int_equal(rd_u32(&r), 1);
	s = rd_lv32(&r, &plen, 64);
	assert_int_equal(plen, SSHKEY_ED25519_BLOB);
	assert_memory_equal(s + 19, k->pk, 32);
	priv = rd_lv32(&r, &plen, 4096);
	assert_true(rd_done(&r));
	assert_int_equal(plen % 8, 0);
	rd_init(&pr, priv, plen);
	assert_int_equal(rd_u32(&pr), rd_u32(&pr)); /* the two checkints agree */
	s = rd_lv32(&pr, &n, 64);
	assert_true(n == 11 && !memcmp(s, "ssh-ed25519", 11));
	s = rd_lv32(&pr, &n, 64);
	assert_true(n == 32 && !memcmp(s, k->pk, 32));
	s = rd_lv32(&pr, &n, 64);
	assert_true(n == 64 && !memcmp(s, k->sk, 64));
	s = rd_lv32(&pr, &n, 300);
	assert_int_equal(n, strlen(k->comment));
	assert_memory_equal(s, k->comment, n);
	for (uint8_t i = 1; rd_left(&pr) > 0; i++)
		assert_int_equal(rd_u8(&pr), i); /* padding 1, 2, 3, ... */
	assert_true(rd_done(&pr));
	sodium_memzero(bin, sizeof(bin));
}

static void test_private_structure(void **state)
{
	static const char *const comments[] = {"", "a", "portless-session:0011", "1234567",
					       "twelve chars"};
	char text[SSHKEY_PRIVATE_BUF], longc[SSHKEY_COMMENT_BUF];
	struct sshkey *k = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(comments) / sizeof(comments[0]); i++) {
		assert_int_equal(sshkey_generate(comments[i], &k), 0);
		assert_int_equal(sshkey_private_format(k, text, sizeof(text), &len), 0);
		check_private(k, text, len);
		sshkey_free(k);
	}
	/* The longest comment still fits SSHKEY_PRIVATE_BUF. */
	memset(longc, 'c', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = '\0';
	assert_int_equal(sshkey_generate(longc, &k), 0);
	assert_int_equal(sshkey_private_format(k, text, sizeof(text), &len), 0);
	check_private(k, text, len);
	assert_int_equal(sshkey_private_format(k, text, 100, &len), -ENOSPC);
	sshkey_free(k);
}

static void test_fresh_keys_differ_and_sign(void **state)
{
	struct sshkey *a = NULL, *b = NULL;
	uint8_t sig[64];

	assert_int_equal(sshkey_generate("x", &a), 0);
	assert_int_equal(sshkey_generate("x", &b), 0);
	assert_memory_not_equal(a->pk, b->pk, 32);
	/* sk is libsodium's seed || pk: it signs for pk */
	crypto_sign_detached(sig, NULL, (const uint8_t *)"m", 1, a->sk);
	assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, a->pk), 0);
	assert_memory_equal(a->sk + 32, a->pk, 32);
	sshkey_free(a);
	sshkey_free(b);
	sshkey_free(NULL);
}

static void test_bad_comment(void **state)
{
	struct sshkey *k = (struct sshkey *)1;
	char longc[SSHKEY_COMMENT_BUF + 1];

	assert_int_equal(sshkey_generate("a\nb", &k), -EINVAL);
	assert_null(k);
	memset(longc, 'c', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = '\0';
	assert_int_equal(sshkey_generate(longc, &k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_public_line_known_answer),
	    cmocka_unit_test(test_parse_roundtrip),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_private_structure),
	    cmocka_unit_test(test_fresh_keys_differ_and_sign),
	    cmocka_unit_test(test_bad_comment),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
