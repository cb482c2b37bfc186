/* SPDX-License-Identifier: MIT */
/* authkeys: line format, atomic install/remove in a temporary home, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authkeys.h"

static const char KEY[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
static const uint8_t SID1[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				 0,    1,    2,    3,    4,    5,    6,    7};
static const uint8_t SID2[16] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
				 7,    6,    5,    4,    3,    2,    1,    0};

struct fx {
	char home[64];
	char path[128]; /* home/.ssh/authorized_keys */
	char line1[AUTHKEYS_LINE_BUF], line2[AUTHKEYS_LINE_BUF];
};

static void make_line(const uint8_t *sid, const char *from, char *out)
{
	struct authkeys_entry e = {
	    .from = from, .expiry = 1735787045, .key = KEY, .sid = sid, .sid_len = 16};

	assert_int_equal(authkeys_format_line(&e, out, AUTHKEYS_LINE_BUF), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->home, "/tmp/pl-authkeys-XXXXXX");
	if (!mkdtemp(f->home))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/.ssh/authorized_keys", f->home);
	make_line(SID1, "100.64.0.2", f->line1);
	make_line(SID2, "100.64.0.3", f->line2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void mkssh(struct fx *f)
{
	char d[96];

	snprintf(d, sizeof(d), "%s/.ssh", f->home);
	assert_int_equal(mkdir(d, 0700), 0);
}

static void test_format(void **state)
{
	char out[AUTHKEYS_LINE_BUF];
	struct authkeys_entry e = {
	    .from = "100.64.0.2", .expiry = 1735787045, .key = KEY, .sid = SID1, .sid_len = 16};

	assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), 0);
	/* 1735787045 = 2025-01-02 03:04:05 UTC */
	assert_string_equal(out,
			    "restrict,pty,from=\"100.64.0.2\",expiry-time=\"20250102030405Z\" "
			    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2"
			    "qYjJa8CGmj3B1Ea portless-session:0123456789abcdef0001020304050607");
	e.expiry = 0;
	e.from = "fd7a::2/128";
	e.flags = AUTHKEYS_PORT_FORWARDING;
	assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), 0);
	assert_non_null(
	    strstr(out, "restrict,pty,port-forwarding,from=\"fd7a::2/128\" ssh-ed25519"));
	assert_null(strstr(out, "expiry-time"));
	assert_int_equal(authkeys_format_line(&e, out, 40), -ENOSPC);
}

static void test_format_rejects(void **state)
{
	static const char *const froms[] = {
	    "",        "host.example", "1.2.3.4\",command=\"x", "1.2.3.4/33",
	    "::1/129", "1.2.3.4/",     "1.2.3.4,5.6.7.8",       "1.2.3.4/-1"};
	static const char *const keys[] = {
	    "", "ssh-ed25519",
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea c",
	    "ssh-ed25519 AAAA\nx",
	    "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"};
	char out[AUTHKEYS_LINE_BUF];
	struct authkeys_entry e = {.from = "1.2.3.4", .key = KEY, .sid = SID1, .sid_len = 16};

	for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
		e.from = froms[i];
		assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), -EINVAL);
	}
	e.from = "1.2.3.4";
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		e.key = keys[i];
		assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), -EINVAL);
	}
	e.key = KEY;
	e.sid_len = 0;
	assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), -EINVAL);
	e.sid_len = AUTHKEYS_SID_MAX + 1;
	assert_int_equal(authkeys_format_line(&e, out, sizeof(out)), -EINVAL);
}

static void test_install_creates(void **state)
{
	struct fx *f = *state;
	char want[2 * AUTHKEYS_LINE_BUF + 8], d[96];
	struct stat st;

	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), 0);
	snprintf(d, sizeof(d), "%s/.ssh", f->home);
	assert_int_equal(lstat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	snprintf(want, sizeof(want), "%s\n", f->line1);
	assert_string_equal(slurp(f->path), want);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line2), 0);
	snprintf(want, sizeof(want), "%s\n%s\n", f->line1, f->line2);
	assert_string_equal(slurp(f->path), want);
	/* no temporary file left behind */
	assert_int_equal(
	    system("test -z \"$(ls -A /tmp/pl-authkeys-*/.ssh | grep -v '^authorized_keys$')\""),
	    0);
}

/* Other lines survive byte for byte: comments, CRLF, blanks, options, no final newline. */
static const char OTHERS[] =
    "# my keys\r\n"
    "\n"
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3ec2nrpX2bt4aFEfJHaCBTvg8GUeMT3h2e8ffRf6Hu me@laptop\n"
    "  command=\"/bin/true\" ssh-rsa AAAAB3Nza== backup  \r\n"
    "ssh-ed25519 AAAA portless-session-not-ours";

/*
 * Lost updates: two writers (two processes, as a daemon and `portless` or
 * two daemons) install 40 lines each at the same time; every line is there
 * afterwards, and a removal racing them removes only its own.
 */
static void test_concurrent_writers(void **state)
{
	struct fx *f = *state;
	enum { N = 40 };
	char line[AUTHKEYS_LINE_BUF];
	pid_t pid[2];

	mkssh(f);
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] > 0)
			continue;
		for (int i = 0; i < N; i++) {
			uint8_t sid[16] = {(uint8_t)w, (uint8_t)i};

			make_line(sid, w ? "100.64.1.1" : "100.64.2.2", line);
			if (authkeys_install_home(f->home, getuid(), getgid(), line) < 0)
				_exit(1);
		}
		_exit(0);
	}
	for (int w = 0; w < 2; w++) {
		int st;

		assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	FILE *fp = fopen(f->path, "r");
	char buf[AUTHKEYS_LINE_BUF + 2];
	int n = 0;

	assert_non_null(fp);
	while (fgets(buf, sizeof(buf), fp))
		n += strstr(buf, "portless-session:") != NULL;
	fclose(fp);
	assert_int_equal(n, 2 * N);
}

static void test_install_remove_keeps_others(void **state)
{
	struct fx *f = *state;
	char want[4096];
	unsigned n = 99;

	mkssh(f);
	put(f->path, OTHERS, 0600);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line2), 0);
	/* the missing final newline was added before our line, nothing else changed */
	snprintf(want, sizeof(want), "%s\n%s\n%s\n", OTHERS, f->line1, f->line2);
	assert_string_equal(slurp(f->path), want);

	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), SID1, 16, &n), 0);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%s\n%s\n", OTHERS, f->line2);
	assert_string_equal(slurp(f->path), want);
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), SID2, 16, &n), 0);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%s\n", OTHERS);
	assert_string_equal(slurp(f->path), want);
}

static void test_remove_untouched_when_absent(void **state)
{
	struct fx *f = *state;
	struct stat a, b;
	unsigned n = 99;

	/* no .ssh at all */
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), SID1, 16, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), 0);
	assert_int_equal(stat(f->path, &a), 0);
	/* another session's id: the file is not rewritten (same inode) */
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), SID2, 16, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(stat(f->path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* a prefix of the session id does not match */
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), SID1, 8, &n), 0);
	assert_int_equal(n, 0);
}

static void test_remove_all(void **state)
{
	struct fx *f = *state;
	char want[4096];
	unsigned n = 0;

	mkssh(f);
	snprintf(want, sizeof(want), "%s\nssh-ed25519 AAAA x\n%s\n", f->line1, f->line2);
	put(f->path, want, 0600);
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), NULL, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(slurp(f->path), "ssh-ed25519 AAAA x\n");
}

static void test_refuses_symlinks(void **state)
{
	struct fx *f = *state;
	char target[256], d[96], link[128];
	unsigned n;

	/* authorized_keys -> a file elsewhere: refused, the target untouched */
	mkssh(f);
	snprintf(target, sizeof(target), "%s/victim", f->home);
	put(target, "secret\n", 0600);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), -ELOOP);
	assert_int_equal(authkeys_remove_home(f->home, getuid(), getgid(), NULL, 0, &n), -ELOOP);
	assert_string_equal(slurp(target), "secret\n");
	/* .ssh -> another directory: refused, nothing created there */
	snprintf(d, sizeof(d), "%s/.ssh", f->home);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(rmdir(d), 0);
	snprintf(link, sizeof(link), "%s/elsewhere", f->home);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(symlink(link, d), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), -ELOOP);
	snprintf(target, sizeof(target), "%s/authorized_keys", link);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_refuses_bad_files(void **state)
{
	struct fx *f = *state;
	char d[96], other[128];

	mkssh(f);
	/* a hard link (nlink 2) */
	snprintf(other, sizeof(other), "%s/hardlink", f->home);
	put(other, "x\n", 0600);
	assert_int_equal(link(other, f->path), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), -EPERM);
	assert_string_equal(slurp(other), "x\n");
	/* a FIFO: refused at once, no hang */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), -EPERM);
	/* a group-writable .ssh */
	assert_int_equal(unlink(f->path), 0);
	snprintf(d, sizeof(d), "%s/.ssh", f->home);
	assert_int_equal(chmod(d, 0770), 0);
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), f->line1), -EPERM);
	assert_int_equal(chmod(d, 0700), 0);
	/* a line with a newline in it */
	assert_int_equal(authkeys_install_home(f->home, getuid(), getgid(), "a\nb"), -EINVAL);
}

/* As root: files are created for another uid; a file owned by someone else is refused. */
static void test_owner(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char d[96];

	if (geteuid() != 0) {
		skip();
		return;
	}
	assert_int_equal(chown(f->home, 65534, 65534), 0);
	assert_int_equal(authkeys_install_home(f->home, 65534, 65534, f->line1), 0);
	snprintf(d, sizeof(d), "%s/.ssh", f->home);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the file now belongs to root: refused for user 65534 */
	assert_int_equal(chown(f->path, 0, 0), 0);
	assert_int_equal(authkeys_install_home(f->home, 65534, 65534, f->line2), -EPERM);
	/* .ssh owned by someone else: refused */
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(chown(d, 0, 0), 0);
	assert_int_equal(authkeys_install_home(f->home, 65534, 65534, f->line2), -EPERM);
	/* a home owned by another user: refused */
	assert_int_equal(chown(d, 65534, 65534), 0);
	assert_int_equal(chown(f->home, 1234, 1234), 0);
	assert_int_equal(authkeys_install_home(f->home, 65534, 65534, f->line2), -EPERM);
}

static void test_unknown_user(void **state)
{
	static const char *const users[] = {"portless-no-such-user-x", NULL};
	unsigned n = 7;

	assert_int_equal(authkeys_install("portless-no-such-user-x", "x"), -ENOENT);
	assert_int_equal(authkeys_remove_all(users, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_rejects),
	    cmocka_unit_test_setup_teardown(test_install_creates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_remove_keeps_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_untouched_when_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_bad_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
	    cmocka_unit_test(test_unknown_user),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
