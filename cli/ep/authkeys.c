/* SPDX-License-Identifier: MIT */
#include "authkeys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sshkey.h"

static const char AK[] = "authorized_keys";

/* "1.2.3.4", "fd00::1", optionally "/prefix" within the family's width. */
static bool addr_valid(const char *s)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char buf[16];
	long max, v;
	char *end;

	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, ip, buf) == 1)
		max = 128;
	else
		return false;
	if (!slash)
		return true;
	if (slash[1] < '0' || slash[1] > '9')
		return false;
	errno = 0;
	v = strtol(slash + 1, &end, 10);
	return !errno && *end == '\0' && v >= 0 && v <= max;
}

/* "<type> <base64>" with no comment, parseable as a public key. */
static bool key_valid(const char *key)
{
	struct sshkey_pub pub;

	if (strchr(key, '\n') || strchr(key, '\r') || strchr(key, '\t'))
		return false;
	return sshkey_pub_parse(key, &pub) == 0 && pub.comment[0] == '\0';
}

int authkeys_format_line(const struct authkeys_entry *e, char *out, size_t cap)
{
	char hex[2 * AUTHKEYS_SID_MAX + 1], exp[40] = "";
	time_t t;
	struct tm tm;
	int n;

	if (!e->from || !e->key || !e->sid || !addr_valid(e->from) ||
	    (e->from2 && !addr_valid(e->from2)) || !key_valid(e->key) || e->sid_len == 0 ||
	    e->sid_len > AUTHKEYS_SID_MAX)
		return -EINVAL;
	sodium_bin2hex(hex, sizeof(hex), e->sid, e->sid_len);
	if (e->expiry) {
		t = (time_t)e->expiry;
		if ((uint64_t)t != e->expiry || !gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
			return -EINVAL;
		strftime(exp, sizeof(exp), ",expiry-time=\"%Y%m%d%H%M%SZ\"", &tm);
	}
	n = snprintf(out, cap, "restrict,pty%s,from=\"%s%s%s\"%s %s " AUTHKEYS_MARK "%s",
		     (e->flags & AUTHKEYS_PORT_FORWARDING) ? ",port-forwarding" : "", e->from,
		     e->from2 ? "," : "", e->from2 ? e->from2 : "", exp, e->key, hex);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return 0;
}

/* The home itself: a directory owned by the user or root, not world-writable. */
static int open_home(const char *home, uid_t uid)
{
	struct stat st;
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (st.st_uid != uid && st.st_uid != 0) || (st.st_mode & S_IWOTH)) {
		log_msg(PL_LOG_WARN, "authkeys: refusing home %s (owner or mode)", home);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* <home>/.ssh without following links; made 0700 for the user when missing. */
static int open_ssh_dir(int homefd, uid_t uid, gid_t gid, bool create)
{
	const int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	bool made = false;
	struct stat st;
	int fd;

	fd = openat(homefd, ".ssh", fl);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(homefd, ".ssh", 0700) == 0)
			made = true;
		else if (errno != EEXIST)
			return -errno;
		fd = openat(homefd, ".ssh", fl);
	}
	if (fd < 0)
		return (errno == ENOTDIR) ? -ELOOP : -errno;
	if (made && (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0))
		goto eperm;
	if (fstat(fd, &st) < 0 || st.st_uid != uid || (st.st_mode & (S_IWGRP | S_IWOTH)))
		goto eperm;
	return fd;
eperm:
	log_msg(PL_LOG_WARN, "authkeys: refusing .ssh (owner or mode)");
	close(fd);
	return -EPERM;
}

static int read_all(int fd, char *buf, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		r = read(fd, buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (size_t)r;
	}
	return 0;
}

/*
 * The current authorized_keys (NULL/0 when missing): a regular file owned by
 * the user with one link, never through a symlink, never blocking on a FIFO.
 */
/* What authorized_keys was when we read it: changed before our rename means start again. */
struct seen {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static void seen_of(const struct stat *st, struct seen *sn)
{
	*sn = (struct seen){true, st->st_dev, st->st_ino, st->st_size, st->st_mtim};
}

static bool unchanged(int sshfd, const struct seen *sn)
{
	struct stat st;
	struct seen now = {0};

	if (fstatat(sshfd, AK, &st, AT_SYMLINK_NOFOLLOW) == 0)
		seen_of(&st, &now);
	else if (errno != ENOENT)
		return false;
	return now.exists == sn->exists &&
	       (!now.exists ||
		(now.dev == sn->dev && now.ino == sn->ino && now.size == sn->size &&
		 now.mtime.tv_sec == sn->mtime.tv_sec && now.mtime.tv_nsec == sn->mtime.tv_nsec));
}

static int read_keys(int sshfd, uid_t uid, char **data, size_t *len, struct seen *sn)
{
	struct stat st;
	int fd, r = 0;

	*data = NULL;
	*len = 0;
	*sn = (struct seen){0};
	fd = openat(sshfd, AK, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != uid || st.st_nlink != 1) {
		log_msg(PL_LOG_WARN, "authkeys: refusing authorized_keys (type, owner or links)");
		r = -EPERM;
		goto out;
	}
	if (st.st_size > AUTHKEYS_FILE_MAX) {
		r = -EFBIG;
		goto out;
	}
	seen_of(&st, sn);
	*len = (size_t)st.st_size;
	*data = malloc(*len + 1);
	if (!*data) {
		r = -ENOMEM;
		goto out;
	}
	r = read_all(fd, *data, *len);
out:
	close(fd);
	if (r < 0) {
		free(*data);
		*data = NULL;
		*len = 0;
	}
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Temp file in .ssh (O_EXCL|O_NOFOLLOW), owned by the user, 0600, fsync, rename, fsync dir. */
/*
 * The new content to a temporary file, then renamed over authorized_keys,
 * but only if the file is still what was read (-EAGAIN otherwise: the
 * caller reads again; a user's own edit in between is never lost).
 */
static int write_keys(int sshfd, uid_t uid, gid_t gid, const char *data, size_t len,
		      const struct seen *sn)
{
	char tmp[64];
	int fd, r;

	snprintf(tmp, sizeof(tmp), ".authorized_keys.portless.%08x%08x", randombytes_random(),
		 randombytes_random());
	fd = openat(sshfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = 0;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0600) < 0)
		r = -errno;
	if (!r)
		r = write_all(fd, data, len);
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && !unchanged(sshfd, sn))
		r = -EAGAIN;
	if (!r && renameat(sshfd, tmp, sshfd, AK) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(sshfd, tmp, 0);
		return r;
	}
	fsync(sshfd);
	return 0;
}

/*
 * Open home and .ssh, lock .ssh (flock: every portless writer, daemon or
 * tool, takes turns), read the file: the common first half of every change.
 */
static int begin(const char *home, uid_t uid, gid_t gid, bool create, int *sshfd, char **data,
		 size_t *len, struct seen *sn)
{
	int hfd, r;

	*sshfd = -1;
	hfd = open_home(home, uid);
	if (hfd < 0)
		return hfd;
	r = open_ssh_dir(hfd, uid, gid, create);
	close(hfd);
	if (r < 0)
		return r;
	*sshfd = r;
	r = flock(*sshfd, LOCK_EX) < 0 ? -errno : 0;
	if (r == 0)
		r = read_keys(*sshfd, uid, data, len, sn);
	if (r < 0) {
		close(*sshfd);
		*sshfd = -1;
	}
	return r;
}

enum { AK_TRIES = 5 }; /* a file changing under us this often: give up, say so */

static int install_once(const char *home, uid_t uid, gid_t gid, const char *line)
{
	size_t ll = strlen(line), len = 0, nl;
	char *data = NULL, *out = NULL;
	struct seen sn;
	int sfd = -1, r;

	r = begin(home, uid, gid, true, &sfd, &data, &len, &sn);
	if (r < 0)
		goto out;
	nl = (len > 0 && data[len - 1] != '\n') ? 1 : 0;
	r = -ENOMEM;
	out = malloc(len + nl + ll + 1);
	if (!out)
		goto out;
	if (len)
		memcpy(out, data, len);
	if (nl)
		out[len] = '\n';
	memcpy(out + len + nl, line, ll);
	out[len + nl + ll] = '\n';
	r = write_keys(sfd, uid, gid, out, len + nl + ll + 1, &sn);
out:
	if (sfd >= 0)
		close(sfd);
	free(data);
	free(out);
	return r;
}

/* The last whitespace-separated word of line [p, p+n) (a trailing '\r' is not part of it). */
static void last_word(const char *p, size_t n, const char **w, size_t *wl)
{
	size_t e = n, s;

	while (e > 0 && (p[e - 1] == ' ' || p[e - 1] == '\t' || p[e - 1] == '\r'))
		e--;
	s = e;
	while (s > 0 && p[s - 1] != ' ' && p[s - 1] != '\t')
		s--;
	*w = p + s;
	*wl = e - s;
}

/* True when the line is ours: the whole mark for one session, or any mark when @p want is "". */
static bool line_matches(const char *p, size_t n, const char *want)
{
	const char *w;
	size_t wl, ml = sizeof(AUTHKEYS_MARK) - 1;

	last_word(p, n, &w, &wl);
	if (wl < ml || memcmp(w, AUTHKEYS_MARK, ml) != 0)
		return false;
	return want[0] == '\0' || (wl - ml == strlen(want) && memcmp(w + ml, want, wl - ml) == 0);
}

/* Copy every line that does not match into @p out; returns how many went. */
static unsigned filter(const char *data, size_t len, const char *want, char *out, size_t *olen)
{
	size_t off = 0, n;
	unsigned gone = 0;
	const char *nl;

	*olen = 0;
	while (off < len) {
		nl = memchr(data + off, '\n', len - off);
		n = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
		if (line_matches(data + off, nl ? n - 1 : n, want)) {
			gone++;
		} else {
			memcpy(out + *olen, data + off, n);
			*olen += n;
		}
		off += n;
	}
	return gone;
}

int authkeys_install_home(const char *home, uid_t uid, gid_t gid, const char *line)
{
	int r = -EAGAIN;

	if (strlen(line) == 0 || strpbrk(line, "\r\n"))
		return -EINVAL;
	for (int i = 0; i < AK_TRIES && r == -EAGAIN; i++)
		r = install_once(home, uid, gid, line);
	return r;
}

static int remove_once(const char *home, uid_t uid, gid_t gid, const char *want, unsigned *removed)
{
	char *data = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	unsigned gone = 0;
	struct seen sn;
	int sfd = -1, r;

	r = begin(home, uid, gid, false, &sfd, &data, &len, &sn);
	if (r == -ENOENT)
		return 0; /* no .ssh: nothing of ours */
	if (r < 0 || len == 0)
		goto out;
	r = -ENOMEM;
	out = malloc(len);
	if (!out)
		goto out;
	gone = filter(data, len, want, out, &olen);
	r = gone ? write_keys(sfd, uid, gid, out, olen, &sn) : 0;
	if (!r && removed)
		*removed = gone;
out:
	if (sfd >= 0)
		close(sfd);
	free(data);
	free(out);
	return r;
}

int authkeys_remove_home(const char *home, uid_t uid, gid_t gid, const uint8_t *sid, size_t sid_len,
			 unsigned *removed)
{
	char want[2 * AUTHKEYS_SID_MAX + 1] = "";
	int r = -EAGAIN;

	if (removed)
		*removed = 0;
	if (sid && (sid_len == 0 || sid_len > AUTHKEYS_SID_MAX))
		return -EINVAL;
	if (sid)
		sodium_bin2hex(want, sizeof(want), sid, sid_len);
	for (int i = 0; i < AK_TRIES && r == -EAGAIN; i++)
		r = remove_once(home, uid, gid, want, removed);
	return r;
}

/* Resolve @p user to home, uid and gid. */
static int lookup(const char *user, char **home, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int r;

	r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res || !pw.pw_dir || pw.pw_dir[0] != '/')
		return -ENOENT;
	*home = strdup(pw.pw_dir);
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return *home ? 0 : -ENOMEM;
}

int authkeys_install(const char *user, const char *line)
{
	char *home = NULL;
	uid_t uid;
	gid_t gid;
	int r = lookup(user, &home, &uid, &gid);

	if (r == 0)
		r = authkeys_install_home(home, uid, gid, line);
	if (r < 0)
		log_msg_errno(PL_LOG_ERR, -r, "authkeys: cannot install a key for user %s", user);
	free(home);
	return r;
}

int authkeys_remove(const char *user, const uint8_t *sid, size_t sid_len, unsigned *removed)
{
	char *home = NULL;
	uid_t uid;
	gid_t gid;
	int r;

	if (removed)
		*removed = 0;
	if (!sid)
		return -EINVAL;
	r = lookup(user, &home, &uid, &gid);
	if (r == 0)
		r = authkeys_remove_home(home, uid, gid, sid, sid_len, removed);
	if (r < 0)
		log_msg_errno(PL_LOG_ERR, -r, "authkeys: cannot remove a key line of user %s",
			      user);
	free(home);
	return r;
}

int authkeys_remove_all(const char *const *users, unsigned *removed)
{
	unsigned total = 0, n;
	char *home;
	uid_t uid;
	gid_t gid;
	int first = 0, r;

	for (size_t i = 0; users[i]; i++) {
		home = NULL;
		n = 0;
		r = lookup(users[i], &home, &uid, &gid);
		if (r == -ENOENT) {
			log_msg(PL_LOG_WARN, "authkeys: no local user %s to clean up", users[i]);
			continue;
		}
		if (r == 0)
			r = authkeys_remove_home(home, uid, gid, NULL, 0, &n);
		free(home);
		if (r < 0) {
			log_msg_errno(PL_LOG_ERR, -r, "authkeys: clean-up of user %s failed",
				      users[i]);
			if (!first)
				first = r;
			continue;
		}
		if (n)
			log_msg(PL_LOG_INFO, "authkeys: removed %u stale portless line(s) of %s", n,
				users[i]);
		total += n;
	}
	if (removed)
		*removed = total;
	return first;
}
