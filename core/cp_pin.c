/* SPDX-License-Identifier: MIT */
#include "cp_pin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cp_proto.h"
#include "cp_rot.h"
#include "log.h"
#include "text.h"

enum { LINE_MAX_LEN = 256 };

#define PIN_REVOKED "revoked"

/*
 * Parse one line: "@handle SIGN_PK BOX_PK" (a pin, returns 1) or
 * "@handle revoked" (returns 2); 0 when malformed.
 */
static int parse_line(char *line, struct pubkeys *out)
{
	char *save, *h = strtok_r(line, " \t\n", &save), *s = strtok_r(NULL, " \t\n", &save),
		    *b = strtok_r(NULL, " \t\n", &save);

	if (!h || !s || !handle_valid(h))
		return 0;
	snprintf(out->handle, sizeof(out->handle), "%s", h);
	if (!b)
		return !strcmp(s, PIN_REVOKED) ? 2 : 0;
	if (strtok_r(NULL, " \t\n", &save))
		return 0;
	return text_from_b64_exact(out->sign_pk, ID_SIGN_PK, s) == 0 &&
	       text_from_b64_exact(out->box_pk, ID_BOX_PK, b) == 0;
}

/*
 * Find @p handle in the whole file: 2 revoked (anywhere), 1 pinned (first
 * pin line), 0 absent, -1 bad file.
 */
static int find_pin(FILE *f, const char *path, const char *handle, struct pubkeys *out)
{
	char line[LINE_MAX_LEN];
	struct pubkeys tmp;
	int lineno = 0, found = 0, k;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		k = parse_line(line, &tmp);
		if (!k) {
			log_msg(PL_LOG_ERR, "%s:%d: malformed line", path, lineno);
			return -1;
		}
		if (strcmp(tmp.handle, handle) != 0)
			continue;
		if (k == 2)
			return 2;
		if (!found) {
			*out = tmp;
			found = 1;
		}
	}
	return found;
}

static int append_pin(const char *path, const struct pubkeys *pk)
{
	char s[64], b[64], line[LINE_MAX_LEN];
	int fd, n, ret = 0;

	if (text_to_b64(s, sizeof(s), pk->sign_pk, ID_SIGN_PK) < 0 ||
	    text_to_b64(b, sizeof(b), pk->box_pk, ID_BOX_PK) < 0)
		return -EINVAL;
	n = snprintf(line, sizeof(line), "%s %s %s\n", pk->handle, s, b);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		ret = -EIO;
	close(fd);
	return ret;
}

static int pin_path(const char *keydir, char *path, size_t cap)
{
	return (size_t)snprintf(path, cap, "%s/known_identities", keydir) >= cap ? -1 : 0;
}

/* Look @p handle up: 2 revoked, 1 pinned, 0 absent, -1 error (logged). */
static int lookup(const char *path, const char *handle, struct pubkeys *pinned)
{
	FILE *f = fopen(path, "re");
	int found;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		log_msg_errno(PL_LOG_ERR, errno, "%s", path);
		return -1;
	}
	found = find_pin(f, path, handle, pinned);
	fclose(f);
	return found;
}

/* Replace the pin line(s) of pk->handle with the new keys: copy, then rename. */
static int replace_pin(const char *path, const struct pubkeys *pk)
{
	char tmp[PATH_MAX + 8], line[LINE_MAX_LEN], copy[LINE_MAX_LEN];
	struct pubkeys other;
	FILE *in = fopen(path, "re"), *out;
	int fd, ret = 0;

	if (!in)
		return -errno;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		fclose(in);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		fclose(in);
		return ret;
	}
	while (fgets(line, sizeof(line), in)) {
		snprintf(copy, sizeof(copy), "%s", line);
		if (line[0] != '#' && line[0] != '\n' && parse_line(copy, &other) == 1 &&
		    !strcmp(other.handle, pk->handle))
			continue; /* the old pin goes */
		fputs(line, out);
	}
	fclose(in);
	if (fflush(out) != 0 || fsync(fileno(out)) < 0)
		ret = -EIO;
	if (fclose(out) != 0 && !ret)
		ret = -EIO;
	if (!ret)
		ret = append_pin(tmp, pk);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

enum cp_pin_verdict cp_pin_judge(const struct pubkeys *pinned, bool revoked,
				 const struct pubkeys *pk, const uint8_t *proof, size_t proof_len)
{
	if (revoked)
		return CP_PIN_REVOKED;
	if (!pinned)
		return CP_PIN_NEW;
	if (pubkeys_equal(pinned, pk))
		return CP_PIN_SAME;
	if (proof_len && cp_rot_verify(proof, proof_len, pinned->sign_pk, pk))
		return CP_PIN_ROTATED;
	return CP_PIN_CHANGED;
}

/* First use: append the pin. */
static int pin_new(const char *path, const struct pubkeys *pk)
{
	char fpr[ID_FPR_BUF];

	if (append_pin(path, pk) < 0) {
		log_msg(PL_LOG_ERR, "%s: cannot pin the keys of %s", path, pk->handle);
		return CP_E_CONFIG;
	}
	identity_fingerprint(pk, fpr);
	log_msg(PL_LOG_INFO, "pinned the keys of %s (%s) on first use", pk->handle, fpr);
	return CP_OK;
}

/* A rotation proven by the pinned key: move the pin. */
static int pin_rotated(const char *path, const struct pubkeys *pinned, const struct pubkeys *pk)
{
	char fa[ID_FPR_BUF], fb[ID_FPR_BUF];

	identity_fingerprint(pinned, fa);
	identity_fingerprint(pk, fb);
	if (replace_pin(path, pk) < 0) {
		log_msg(PL_LOG_ERR, "%s: cannot re-pin %s", path, pk->handle);
		return CP_E_CONFIG;
	}
	log_msg(PL_LOG_INFO, "%s rotated its keys (%s -> %s), proven by the pinned key: now pinned",
		pk->handle, fa, fb);
	return CP_OK;
}

/* Keys that differ from the pin without a valid proof: refuse, loudly. */
static int pin_changed(const char *path, const struct pubkeys *pinned, const struct pubkeys *pk,
		       size_t proof_len)
{
	char fa[ID_FPR_BUF], fb[ID_FPR_BUF];

	identity_fingerprint(pinned, fa);
	identity_fingerprint(pk, fb);
	log_msg(PL_LOG_ERR,
		"WARNING: THE KEYS OF %s HAVE CHANGED! pinned %s, now offered %s%s. Someone "
		"may be impersonating %s, or it was re-enrolled. Refusing. If the change is "
		"legitimate (check the fingerprint out of band), delete its line in %s.",
		pk->handle, fa, fb,
		proof_len ? " with a rotation proof the pinned key did not sign" : "", pk->handle,
		path);
	return CP_E_KEY_CHANGED;
}

/* The policy expects fingerprint @p expect: do @p pk's keys have it? */
static int check_fpr(const struct pubkeys *pk, const char *expect, char *why, size_t whylen)
{
	char fpr[ID_FPR_BUF];

	identity_fingerprint(pk, fpr);
	if (!strcasecmp(fpr, expect))
		return CP_OK;
	log_msg(PL_LOG_ERR, "refusing the keys of %s: the policy expects %s, they show %s",
		pk->handle, expect, fpr);
	if (why)
		snprintf(why, whylen, "%s: keys refused: policy expects %s, home shows %s",
			 pk->handle, expect, fpr);
	return CP_E_KEY_CHANGED;
}

/* Keys for an identity no policy names, not pinned yet: pin nothing. */
static int refuse_first_use(const struct pubkeys *pk, char *why, size_t whylen)
{
	log_msg(PL_LOG_INFO, "not pinning %s: no local policy names it", pk->handle);
	if (why)
		snprintf(why, whylen, "%s: not pinned: no local policy names this identity",
			 pk->handle);
	return CP_E_UNKNOWN_IDENTITY;
}

int cp_pin_check_policy(const char *keydir, const struct pubkeys *pk, const uint8_t *proof,
			size_t proof_len, const struct cp_pin_policy *pol, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct pubkeys pinned = {0};
	bool no_new = pol && pol->no_first_use;
	int found;

	if (pol && pol->expect_fpr && check_fpr(pk, pol->expect_fpr, why, whylen) != CP_OK)
		return CP_E_KEY_CHANGED;
	if (!keydir)
		return no_new ? refuse_first_use(pk, why, whylen) : CP_OK;
	if (pin_path(keydir, path, sizeof(path)) < 0)
		return CP_E_CONFIG;
	found = lookup(path, pk->handle, &pinned);
	if (found < 0)
		return CP_E_CONFIG;
	switch (cp_pin_judge(found == 1 ? &pinned : NULL, found == 2, pk, proof, proof_len)) {
	case CP_PIN_SAME:
		return CP_OK;
	case CP_PIN_NEW:
		return no_new ? refuse_first_use(pk, why, whylen) : pin_new(path, pk);
	case CP_PIN_ROTATED:
		return pin_rotated(path, &pinned, pk);
	case CP_PIN_REVOKED:
		log_msg(PL_LOG_ERR, "%s is revoked here (%s): refusing it", pk->handle, path);
		return CP_E_REVOKED;
	default:
		return pin_changed(path, &pinned, pk, proof_len);
	}
}

int cp_pin_check_rot(const char *keydir, const struct pubkeys *pk, const uint8_t *proof,
		     size_t proof_len)
{
	return cp_pin_check_policy(keydir, pk, proof, proof_len, NULL, NULL, 0);
}

int cp_pin_check(const char *keydir, const struct pubkeys *pk)
{
	return cp_pin_check_rot(keydir, pk, NULL, 0);
}

int cp_pin_revoke(const char *keydir, const char *handle)
{
	char path[PATH_MAX], line[LINE_MAX_LEN];
	struct pubkeys pinned;
	int fd, n, ret = 0;

	if (!handle_valid(handle) || pin_path(keydir, path, sizeof(path)) < 0)
		return -EINVAL;
	if (lookup(path, handle, &pinned) == 2)
		return 0; /* already */
	n = snprintf(line, sizeof(line), "%s %s\n", handle, PIN_REVOKED);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		ret = -EIO;
	close(fd);
	return ret;
}
