/* SPDX-License-Identifier: MIT */
#include "cp_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_client.h"
#include "net.h"
#include "text.h"

/* Strip leading/trailing blanks in place. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int conf_line(char *line, char server[CP_HOSTPORT_BUF], uint8_t pk[CP_KEY_LEN],
		     unsigned *seen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char *eq = strchr(line, '='), *k, *v;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	k = trim(line);
	v = trim(eq + 1);
	if (!strcmp(k, "server")) {
		if (strlen(v) > CP_HOSTPORT_MAX || net_parse_hostport(v, &ss, &sl) < 0)
			return -EINVAL;
		snprintf(server, CP_HOSTPORT_BUF, "%s", v);
		*seen |= 1;
		return 0;
	}
	if (!strcmp(k, "server_key")) {
		if (text_from_b64_exact(pk, CP_KEY_LEN, v) < 0)
			return -EINVAL;
		*seen |= 2;
		return 0;
	}
	return -EINVAL;
}

int cp_conf_load(const char *keydir, char server[CP_HOSTPORT_BUF], uint8_t pk[CP_KEY_LEN],
		 char *err, size_t errlen)
{
	char path[PATH_MAX], line[512], copy[512];
	unsigned seen = 0;
	int lineno = 0;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/cp.conf", keydir) >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s (run 'portless enroll' first)", path,
			 strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *t;

		lineno++;
		snprintf(copy, sizeof(copy), "%s", trim(line));
		t = trim(line);
		if (!*t || *t == '#')
			continue;
		if (conf_line(t, server, pk, &seen) < 0) {
			snprintf(err, errlen, "%s:%d: bad line '%s'", path, lineno, copy);
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	if (seen != 3) {
		snprintf(err, errlen, "%s: needs both 'server' and 'server_key'", path);
		return -EINVAL;
	}
	return 0;
}

int cp_conf_save(const char *keydir, const char *server, const uint8_t server_pk[CP_KEY_LEN],
		 char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], b64[64], text[512];
	int fd, n, ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/cp.conf", keydir) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.cp.conf.tmp", keydir) >= sizeof(tmp) ||
	    text_to_b64(b64, sizeof(b64), server_pk, CP_KEY_LEN) < 0)
		return -ENAMETOOLONG;
	n = snprintf(text, sizeof(text),
		     "# portless control plane (written by 'portless enroll')\n"
		     "server = %s\nserver_key = %s\n",
		     server, b64);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -errno;
	}
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0)
		ret = -EIO;
	close(fd);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0) {
		snprintf(err, errlen, "%s: cannot write", path);
		unlink(tmp);
	}
	return ret;
}
