/* SPDX-License-Identifier: MIT */
/* Identity generation, key file round trip, malformed files, modes, fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "identity.h"

#define GOOD                                                                                       \
	"portless-key v1\n"                                                                        \
	"handle @alice\n"                                                                          \
	"sign-seed U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"                                 \
	"sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"                               \
	"box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"                                \
	"box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pl-test-id-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/identity.key", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_parse_good(void **state)
{
	struct identity *id = NULL;
	char err[256] = "";
	char fpr[ID_FPR_BUF];

	assert_int_equal(identity_parse(GOOD, strlen(GOOD), &id, err, sizeof(err)), 0);
	assert_non_null(id);
	assert_string_equal(id->pub.handle, "@alice");
	/* Known answer: the fingerprint of this fixed key. */
	identity_fingerprint(&id->pub, fpr);
	assert_string_equal(fpr, "pl:446b-b5c6-221a-8ccb-1a7d-d331-82c7-f28f");
	identity_free(id);
}

static void test_malformed(void **state)
{
	/* Each case: a broken key file and a word its error message must contain. */
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
	    {"", "line 1"},
	    {"portless-key v2\n", "known version"},
	    {"portless-key v1\nhandle @alice\n", "truncated"},
	    {GOOD "extra line\n", "extra"},
	    {"portless-key v1\nhandle Alice\nsign-seed "
	     "U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
	     "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "handle"},
	    {"portless-key v1\nhandle @alice\nsign-seed "
	     "U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH3=\n"
	     "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "base64"},
	    {"portless-key v1\nhandle @alice\nsign-seed U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNok\n"
	     "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "length"},
	    {"portless-key v1\nhandle @alice\nsign-seed "
	     "U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
	     "sign-public AAAjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "do not match"},
	    {"portless-key v1\nhandle @alice\nsign-public "
	     "pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "sign-seed U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "expected 'sign-seed"},
	    {"portless-key v1\nhandle @alice\nsign-seed "
	     "U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
	     "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=",
	     "newline"},
	    {"portless-key v1\r\nhandle @alice\n", "known version"},
	    {"portless-key v1\nhandle  @alice\nsign-seed "
	     "U9UScUzjqC9Uu8z9g+akO3q4sYaoaexvn01biNokH30=\n"
	     "sign-public pMCjyXDIv7OOi9W3/qBrS0LlbggXNrDG9SWBkbN7K7c=\n"
	     "box-secret bxEzxrNh6/1a/i9YM30mGT/iLeehRTwJTlilI3oiN/M=\n"
	     "box-public l/pQLutr7NJ0F8Mnn6hpHJnqweLmvW2yj8Ye3KxrrRk=\n",
	     "invalid handle"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct identity *id = (struct identity *)1;
		char err[256] = "";

		assert_true(
		    identity_parse(bad[i].text, strlen(bad[i].text), &id, err, sizeof(err)) < 0);
		assert_null(id);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: error '%s' does not mention '%s'", i, err, bad[i].why);
	}
}

static void test_nul_and_size(void **state)
{
	static const char nul[] = "portless-key v1\0handle @a\n";
	char big[ID_FILE_MAX + 2];
	struct identity *id = NULL;
	char err[256];

	assert_int_equal(identity_parse(nul, sizeof(nul) - 1, &id, err, sizeof(err)), -EINVAL);
	memset(big, 'a', sizeof(big));
	assert_int_equal(identity_parse(big, sizeof(big), &id, err, sizeof(err)), -EFBIG);
	assert_null(id);
}

static void test_save_load_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct identity *a = identity_generate("@dev-1"), *b = NULL;
	char err[256];
	struct stat st;

	assert_non_null(a);
	assert_int_equal(identity_save(a, f->path, false, err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(identity_load(f->path, &b, err, sizeof(err)), 0);
	assert_true(pubkeys_equal(&a->pub, &b->pub));
	assert_memory_equal(identity_sign_sk(a), identity_sign_sk(b), ID_SIGN_SK);
	assert_memory_equal(identity_box_sk(a), identity_box_sk(b), ID_BOX_SK);
	/* No overwrite without force; force replaces. */
	assert_int_equal(identity_save(b, f->path, false, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "--force"));
	identity_free(b);
	b = identity_generate("@dev-2");
	assert_int_equal(identity_save(b, f->path, true, err, sizeof(err)), 0);
	identity_free(b);
	b = NULL;
	assert_int_equal(identity_load(f->path, &b, err, sizeof(err)), 0);
	assert_string_equal(b->pub.handle, "@dev-2");
	assert_false(pubkeys_equal(&a->pub, &b->pub));
	identity_free(a);
	identity_free(b);
}

static void test_load_refuses_open_mode(void **state)
{
	struct fixture *f = *state;
	struct identity *a = identity_generate("@dev"), *b = NULL;
	char err[256];

	assert_int_equal(identity_save(a, f->path, false, err, sizeof(err)), 0);
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(identity_load(f->path, &b, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "too open"));
	assert_null(b);
	assert_int_equal(chmod(f->path, 0604), 0);
	assert_int_equal(identity_load(f->path, &b, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(identity_load(f->path, &b, err, sizeof(err)), 0);
	identity_free(a);
	identity_free(b);
}

static void test_load_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char link[160], err[256];
	struct identity *id = identity_generate("@dev"), *b = NULL;

	assert_int_equal(identity_save(id, f->path, false, err, sizeof(err)), 0);
	snprintf(link, sizeof(link), "%s/link.key", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_true(identity_load(link, &b, err, sizeof(err)) < 0);
	assert_null(b);
	unlink(link);
	identity_free(id);
}

static void test_generate(void **state)
{
	struct identity *a = identity_generate("@x"), *b = identity_generate("@x");
	char fa[ID_FPR_BUF], fb[ID_FPR_BUF];

	assert_non_null(a);
	assert_null(identity_generate("@X"));
	assert_false(pubkeys_equal(&a->pub, &b->pub));
	identity_fingerprint(&a->pub, fa);
	identity_fingerprint(&b->pub, fb);
	assert_int_equal(strlen(fa), 42);
	assert_string_not_equal(fa, fb);
	identity_free(a);
	identity_free(b);
	identity_free(NULL);
}

static void test_paths(void **state)
{
	char out[256];

	assert_int_equal(identity_path(out, sizeof(out), "/x/y"), 0);
	assert_string_equal(out, "/x/y/identity.key");
	assert_int_equal(identity_path(out, 10, "/x/y"), -ENAMETOOLONG);
	setenv("PORTLESS_KEYS", "/custom", 1);
	assert_int_equal(identity_default_dir(out, sizeof(out)), 0);
	assert_string_equal(out, "/custom");
	unsetenv("PORTLESS_KEYS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_nul_and_size),
	    cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_refuses_open_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_refuses_symlink, setup, teardown),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_paths),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
