/* SPDX-License-Identifier: MIT */
#include "cp_pin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cp_proto.h"
#include "log.h"
#include "text.h"

enum { LINE_MAX_LEN = 256 };

/* Parse one pin line into @p out; false when malformed. */
static bool parse_line(char *line, struct pubkeys *out)
{
	char *h = strtok(line, " \t\n"), *s = strtok(NULL, " \t\n"), *b = strtok(NULL, " \t\n");

	if (!h || !s || !b || strtok(NULL, " \t\n") || !handle_valid(h))
		return false;
	snprintf(out->handle, sizeof(out->handle), "%s", h);
	return text_from_b64_exact(out->sign_pk, ID_SIGN_PK, s) == 0 &&
	       text_from_b64_exact(out->box_pk, ID_BOX_PK, b) == 0;
}

/* Find @p handle's pin. 1 found, 0 absent, -1 bad file. */
static int find_pin(FILE *f, const char *path, const char *handle, struct pubkeys *out)
{
	char line[LINE_MAX_LEN];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!parse_line(line, out)) {
			log_msg(PL_LOG_ERR, "%s:%d: malformed line", path, lineno);
			return -1;
		}
		if (!strcmp(out->handle, handle))
			return 1;
	}
	return 0;
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

int cp_pin_check(const char *keydir, const struct pubkeys *pk)
{
	char path[PATH_MAX], fa[ID_FPR_BUF], fb[ID_FPR_BUF];
	struct pubkeys pinned = {0};
	FILE *f;
	int found = 0;

	if (!keydir)
		return CP_OK;
	if ((size_t)snprintf(path, sizeof(path), "%s/known_identities", keydir) >= sizeof(path))
		return CP_E_CONFIG;
	f = fopen(path, "re");
	if (f) {
		found = find_pin(f, path, pk->handle, &pinned);
		fclose(f);
		if (found < 0)
			return CP_E_CONFIG;
	} else if (errno != ENOENT) {
		log_msg_errno(PL_LOG_ERR, errno, "%s", path);
		return CP_E_CONFIG;
	}
	if (found) {
		if (pubkeys_equal(&pinned, pk))
			return CP_OK;
		identity_fingerprint(&pinned, fa);
		identity_fingerprint(pk, fb);
		log_msg(PL_LOG_ERR,
			"WARNING: THE KEYS OF %s HAVE CHANGED! pinned %s, now offered %s. Someone "
			"may be impersonating %s, or it was re-enrolled. Refusing. If the change is "
			"legitimate (check the fingerprint out of band), delete its line in %s.",
			pk->handle, fa, fb, pk->handle, path);
		return CP_E_KEY_CHANGED;
	}
	if (append_pin(path, pk) < 0) {
		log_msg(PL_LOG_ERR, "%s: cannot pin the keys of %s", path, pk->handle);
		return CP_E_CONFIG;
	}
	identity_fingerprint(pk, fa);
	log_msg(PL_LOG_INFO, "pinned the keys of %s (%s) on first use", pk->handle, fa);
	return CP_OK;
}
