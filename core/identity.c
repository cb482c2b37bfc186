/* SPDX-License-Identifier: MIT */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"

#define KEYFILE_MAGIC "portless-key v1"

/* Secret halves; lives in sodium_malloc'ed (guarded, mlocked) memory. */
struct id_secret {
	uint8_t sign_sk[ID_SIGN_SK];
	uint8_t box_sk[ID_BOX_SK];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const uint8_t *identity_sign_sk(const struct identity *id)
{
	return id->sec->sign_sk;
}

const uint8_t *identity_box_sk(const struct identity *id)
{
	return id->sec->box_sk;
}

static struct identity *identity_alloc(const char *handle)
{
	struct identity *id;

	if (!handle_valid(handle))
		return NULL;
	id = calloc(1, sizeof(*id));
	if (!id)
		return NULL;
	id->sec = sodium_malloc(sizeof(*id->sec));
	if (!id->sec) {
		free(id);
		return NULL;
	}
	snprintf(id->pub.handle, sizeof(id->pub.handle), "%s", handle);
	return id;
}

/* Fill the secret and public halves from an Ed25519 seed and an X25519 secret. */
static int identity_fill(struct identity *id, const uint8_t seed[ID_SEED],
			 const uint8_t box_sk[ID_BOX_SK])
{
	if (crypto_sign_seed_keypair(id->pub.sign_pk, id->sec->sign_sk, seed) != 0)
		return -EINVAL;
	memcpy(id->sec->box_sk, box_sk, ID_BOX_SK);
	if (crypto_scalarmult_base(id->pub.box_pk, box_sk) != 0)
		return -EINVAL;
	sodium_mprotect_readonly(id->sec);
	return 0;
}

struct identity *identity_generate(const char *handle)
{
	uint8_t seed[ID_SEED], box_sk[ID_BOX_SK];
	struct identity *id = identity_alloc(handle);

	if (!id)
		return NULL;
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(box_sk, sizeof(box_sk));
	if (identity_fill(id, seed, box_sk) < 0) {
		identity_free(id);
		id = NULL;
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(box_sk, sizeof(box_sk));
	return id;
}

void identity_free(struct identity *id)
{
	if (!id)
		return;
	sodium_free(id->sec); /* wipes before freeing */
	sodium_memzero(id, sizeof(*id));
	free(id);
}

/* Take the next '\n'-terminated line from *pos, NUL-terminated in place. */
static char *take_line(char **pos, char *end, char *err, size_t errlen, int lineno)
{
	char *line = *pos, *nl;

	if (line >= end) {
		seterr(err, errlen, "line %d: missing (file truncated)", lineno);
		return NULL;
	}
	nl = memchr(line, '\n', (size_t)(end - line));
	if (!nl) {
		seterr(err, errlen, "line %d: no newline at end of line", lineno);
		return NULL;
	}
	*nl = '\0';
	*pos = nl + 1;
	return line;
}

/* Take the next line "<key> <value>" and return its value. */
static char *take_field(char **pos, char *end, const char *key, char *err, size_t errlen,
			int lineno)
{
	char *line = take_line(pos, end, err, errlen, lineno);
	size_t klen = strlen(key);

	if (!line)
		return NULL;
	if (strncmp(line, key, klen) != 0 || line[klen] != ' ') {
		seterr(err, errlen, "line %d: expected '%s <value>'", lineno, key);
		return NULL;
	}
	return line + klen + 1;
}

static int parse_fields(char *buf, size_t len, struct identity **out, char *err, size_t errlen)
{
	static const char *const keys[] = {"handle", "sign-seed", "sign-public", "box-secret",
					   "box-public"};
	char *pos = buf, *end = buf + len, *val[5];
	uint8_t seed[ID_SEED], box_sk[ID_BOX_SK], spk[ID_SIGN_PK], bpk[ID_BOX_PK];
	struct identity *id = NULL;
	int r = -EINVAL;

	const char *magic = take_line(&pos, end, err, errlen, 1);

	if (!magic || strcmp(magic, KEYFILE_MAGIC) != 0) {
		seterr(err, errlen,
		       "line 1: not a portless key file of a known version "
		       "(expected '%s')",
		       KEYFILE_MAGIC);
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (!(val[i] = take_field(&pos, end, keys[i], err, errlen, i + 2)))
			goto out;
	if (pos != end) {
		seterr(err, errlen, "line 7: unexpected extra content");
		goto out;
	}
	if (!handle_valid(val[0])) {
		seterr(err, errlen, "line 2: invalid handle");
		goto out;
	}
	if (text_from_b64_exact(seed, sizeof(seed), val[1]) < 0 ||
	    text_from_b64_exact(spk, sizeof(spk), val[2]) < 0 ||
	    text_from_b64_exact(box_sk, sizeof(box_sk), val[3]) < 0 ||
	    text_from_b64_exact(bpk, sizeof(bpk), val[4]) < 0) {
		seterr(err, errlen, "bad base64 or wrong key length");
		goto out;
	}
	id = identity_alloc(val[0]);
	if (!id) {
		r = -ENOMEM;
		goto out;
	}
	if (identity_fill(id, seed, box_sk) < 0 || sodium_memcmp(spk, id->pub.sign_pk, 32) != 0 ||
	    sodium_memcmp(bpk, id->pub.box_pk, 32) != 0) {
		seterr(err, errlen, "public keys do not match the secret keys");
		goto out;
	}
	*out = id;
	id = NULL;
	r = 0;
out:
	identity_free(id);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(box_sk, sizeof(box_sk));
	return r;
}

int identity_parse(const char *text, size_t len, struct identity **out, char *err, size_t errlen)
{
	char *buf;
	int r;

	*out = NULL;
	if (len > ID_FILE_MAX) {
		seterr(err, errlen, "key file too large (%zu bytes, at most %d)", len, ID_FILE_MAX);
		return -EFBIG;
	}
	if (memchr(text, '\0', len)) {
		seterr(err, errlen, "key file contains a NUL byte");
		return -EINVAL;
	}
	buf = sodium_malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	r = parse_fields(buf, len, out, err, errlen);
	sodium_free(buf);
	return r;
}

static int check_mode(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		seterr(err, errlen, "%s: owned by uid %u, not by you (uid %u)", path,
		       (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		seterr(err, errlen,
		       "permissions %04o for '%s' are too open: the key file must not be "
		       "accessible by others (chmod 600 '%s')",
		       (unsigned)(st.st_mode & 07777), path, path);
		return -EPERM;
	}
	return 0;
}

int identity_load(const char *path, struct identity **out, char *err, size_t errlen)
{
	char *buf = NULL;
	ssize_t n;
	int r, fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	r = check_mode(fd, path, err, errlen);
	if (r < 0)
		goto out;
	buf = sodium_malloc(ID_FILE_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, ID_FILE_MAX + 1);
	if (n < 0) {
		r = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = identity_parse(buf, (size_t)n, out, err, errlen);
	if (r < 0 && err && errlen) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s", err);
		seterr(err, errlen, "%s: %s", path, tmp);
	}
out:
	sodium_free(buf);
	close(fd);
	return r;
}

static int render(const struct identity *id, char *buf, size_t cap)
{
	char b[4][64];
	uint8_t seed[ID_SEED];
	int n;

	/* The Ed25519 secret key is seed || public key. */
	memcpy(seed, id->sec->sign_sk, ID_SEED);
	if (text_to_b64(b[0], sizeof(b[0]), seed, ID_SEED) < 0 ||
	    text_to_b64(b[1], sizeof(b[1]), id->pub.sign_pk, ID_SIGN_PK) < 0 ||
	    text_to_b64(b[2], sizeof(b[2]), id->sec->box_sk, ID_BOX_SK) < 0 ||
	    text_to_b64(b[3], sizeof(b[3]), id->pub.box_pk, ID_BOX_PK) < 0)
		n = -1;
	else
		n = snprintf(buf, cap,
			     KEYFILE_MAGIC "\nhandle %s\nsign-seed %s\nsign-public %s\n"
					   "box-secret %s\nbox-public %s\n",
			     id->pub.handle, b[0], b[1], b[2], b[3]);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(b, sizeof(b));
	return (n < 0 || (size_t)n >= cap) ? -ENOSPC : n;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	char copy[4096];
	int fd, r = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int identity_save(const struct identity *id, const char *path, bool force, char *err, size_t errlen)
{
	char tmp[4096], *buf;
	int fd = -1, n, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	buf = sodium_malloc(ID_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	n = render(id, buf, ID_FILE_MAX);
	if (n < 0) {
		r = n;
		goto out;
	}
	fd = mkstemp(tmp); /* 0600 */
	if (fd < 0) {
		r = -errno;
		seterr(err, errlen, "%s: cannot create temporary file: %s", path, strerror(errno));
		goto out;
	}
	r = write_all(fd, buf, (size_t)n);
	if (r == 0 && (fchmod(fd, 0600) < 0 || fsync(fd) < 0))
		r = -errno;
	if (r < 0) {
		seterr(err, errlen, "%s: %s", tmp, strerror(-r));
		goto out_unlink;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, force ? 0 : RENAME_NOREPLACE) < 0) {
		r = -errno;
		if (r == -EEXIST)
			seterr(err, errlen, "%s exists: refusing to overwrite (use --force)", path);
		else
			seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto out_unlink;
	}
	r = fsync_dir(path);
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	sodium_free(buf);
	return r;
}

void identity_fingerprint(const struct pubkeys *pk, char out[ID_FPR_BUF])
{
	static const char ctx[] = "portless-fpr-v1";
	uint8_t h[16];
	char hex[33];
	crypto_generichash_state st;
	size_t o = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)ctx, sizeof(ctx));
	crypto_generichash_update(&st, pk->sign_pk, ID_SIGN_PK);
	crypto_generichash_update(&st, pk->box_pk, ID_BOX_PK);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	memcpy(out, "pl:", 3);
	o = 3;
	for (int g = 0; g < 8; g++) {
		memcpy(out + o, hex + 4 * g, 4);
		o += 4;
		if (g < 7)
			out[o++] = '-';
	}
	out[o] = '\0';
}

bool pubkeys_equal(const struct pubkeys *a, const struct pubkeys *b)
{
	return strcmp(a->handle, b->handle) == 0 &&
	       sodium_memcmp(a->sign_pk, b->sign_pk, ID_SIGN_PK) == 0 &&
	       sodium_memcmp(a->box_pk, b->box_pk, ID_BOX_PK) == 0;
}

int identity_default_dir(char *out, size_t cap)
{
	const char *env = getenv("PORTLESS_KEYS"), *xdg, *home;
	int n;

	if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, cap, "/var/lib/portless");
	else if ((xdg = getenv("XDG_DATA_HOME")) && *xdg == '/')
		n = snprintf(out, cap, "%s/portless", xdg);
	else if ((home = getenv("HOME")) && *home == '/')
		n = snprintf(out, cap, "%s/.local/share/portless", home);
	else
		return -ENOENT;
	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

int identity_path(char *out, size_t cap, const char *dir)
{
	int n = snprintf(out, cap, "%s/identity.key", dir);

	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}
