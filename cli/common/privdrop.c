/* SPDX-License-Identifier: MIT */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif
#ifdef HAVE_CAPNG
#include <cap-ng.h>
#endif

#include "log.h"

/* ---- user ---------------------------------------------------------------- */

/* Key files (identity.key, server.key) are read before the drop and never after. */
static bool is_key_file(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".key")) ||
	       (n > 8 && !strcmp(name + n - 8, ".key.new"));
}

/*
 * Give @p dir and the entries directly inside it to uid/gid (no links
 * followed), except key files: they stay with their owner, so a later start
 * as root still accepts them (identity_load insists on its own files).
 */
static int give_dir(const char *dir, uid_t uid, gid_t gid)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err = 0;
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, gid) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || is_key_file(e->d_name))
			continue;
		if (fchownat(dirfd(d), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && !err)
			err = -errno;
	}
	closedir(d);
	return err;
}

/* Can @p uid/@p gid reach @p dir (search permission on every ancestor)? */
static bool reachable(const char *dir, uid_t uid, gid_t gid)
{
	int fd;

	setfsgid(gid);
	setfsuid(uid); /* open() checks the filesystem ids */
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	setfsuid(0);
	setfsgid(0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static const struct passwd *pick_user(const char *user)
{
	const struct passwd *pw;

	if (user)
		return getpwnam(user);
	pw = getpwnam(PRIVDROP_DEFAULT_USER);
	return pw ? pw : getpwnam("nobody");
}

/* Switch ids; with @p net_admin, CAP_NET_ADMIN alone survives (libcap-ng), bounding cleared. */
static int switch_ids(uid_t uid, gid_t gid, bool net_admin)
{
#ifdef HAVE_CAPNG
	if (net_admin) {
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN, -1) <
			0 ||
		    capng_change_id((int)uid, (int)gid,
				    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) < 0)
			return -EPERM;
		return 0;
	}
#else
	if (net_admin)
		return -ENOTSUP;
#endif
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

static int drop_to(const char *user, const char *const *dirs, bool net_admin);

int privdrop_user(const char *user, const char *const *dirs)
{
	return drop_to(user, dirs, false);
}

int privdrop_user_net_admin(const char *user, const char *const *dirs)
{
	return drop_to(user, dirs, true);
}

static int drop_to(const char *user, const char *const *dirs, bool net_admin)
{
	const struct passwd *pw;
	uid_t uid;
	gid_t gid;
	char name[64];

	if (geteuid() != 0)
		return 0;
	pw = pick_user(user);
	if (!pw) {
		log_msg(PL_LOG_ERR, "privdrop: no user '%s'", user ? user : "nobody");
		return -ENOENT;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	snprintf(name, sizeof(name), "%s", pw->pw_name);
	if (uid == 0) {
		log_msg(PL_LOG_WARN, "privdrop: --user %s is root: staying root", name);
		return 0;
	}
	for (size_t i = 0; dirs && dirs[i]; i++) {
		if (reachable(dirs[i], uid, gid))
			continue;
		if (user) {
			log_msg(
			    PL_LOG_ERR,
			    "privdrop: %s is not reachable by user %s (a parent directory lacks "
			    "search permission)",
			    dirs[i], name);
			return -EACCES;
		}
		log_msg(PL_LOG_WARN,
			"privdrop: %s is not reachable by user %s: staying root (give its parents "
			"search permission or pass --user)",
			dirs[i], name);
		return 0;
	}
	for (size_t i = 0; dirs && dirs[i]; i++) {
		int e = give_dir(dirs[i], uid, gid);

		if (e < 0) {
			log_msg_errno(PL_LOG_ERR, -e, "privdrop: giving %s to %s", dirs[i], name);
			return e;
		}
	}
	int e = switch_ids(uid, gid, net_admin);

	if (e < 0) {
		log_msg_errno(PL_LOG_ERR, -e, "privdrop: switching to user %s", name);
		return e;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) { /* must be impossible now */
		log_msg(PL_LOG_ERR, "privdrop: could regain root after dropping");
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	log_msg(PL_LOG_INFO, "privdrop: running as user %s (uid %u, gid %u)%s", name, (unsigned)uid,
		(unsigned)gid, net_admin ? " with CAP_NET_ADMIN only" : "");
	return 0;
}

/* ---- seccomp -------------------------------------------------------------- */

#ifdef HAVE_SECCOMP
/*
 * Both servers: event loop, sockets, whole-file reads and atomic replaces
 * (key pins: write a temporary file, fsync, rename), memory (sodium_malloc),
 * time, signals.
 */
static const char *const common_calls[] = {
    "read",
    "readv",
    "write",
    "writev",
    "close",
    "lseek",
    "fcntl",
    "ioctl",
    "dup",
    "dup2",
    "dup3",
    "pipe2",
    "openat",
    "open",
    "newfstatat",
    "fstat",
    "stat",
    "lstat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "fsync",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "fchmod",
    "umask",
    "getcwd",
    "socket",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "shutdown",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "splice",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "eventfd2",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "brk",
    "mlock",
    "munlock",
    "mlock2",
    "getrandom",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "restart_syscall",
    "futex",
    "sched_yield",
    "getpid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getppid",
    "uname",
    "prlimit64",
    "getrlimit",
    "tgkill",
    "exit",
    "exit_group",
    "rseq",
    "set_robust_list",
    "sched_getaffinity",
};

/*
 * Sanitizer builds (tests only): LeakSanitizer stops the world at exit with a
 * ptrace'ing helper thread, and the runtimes read /proc; let them.
 */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVDROP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIVDROP_SANITIZER 1
#endif
#endif
#ifdef PRIVDROP_SANITIZER
static const char *const sanitizer_calls[] = {
    "clone",
    "clone3",
    "ptrace",
    "wait4",
    "waitid",
    "prctl",
    "kill",
    "rt_sigtimedwait",
    "getdents",
    "process_vm_readv",
    "sched_setaffinity",
};
#endif

/* Die loudly on a denied call: one line on stderr, then SIGSYS's default action. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char buf[200], num[16];
	int n = si->si_syscall, i = (int)sizeof(num);
	size_t len = 0;
	const char *a = "seccomp: system call ", *b = " denied; killing the process (run with "
						      "--no-seccomp to debug)\n";

	(void)ctx;
	do {
		num[--i] = (char)('0' + (n < 0 ? 0 : n % 10));
		n /= 10;
	} while (n > 0 && i > 0);
	len = strnlen(program_invocation_short_name, 40);
	memcpy(buf, program_invocation_short_name, len);
	buf[len++] = ':';
	buf[len++] = ' ';
	memcpy(buf + len, a, strlen(a));
	len += strlen(a);
	memcpy(buf + len, num + i, sizeof(num) - (size_t)i);
	len += sizeof(num) - (size_t)i;
	memcpy(buf + len, b, strlen(b));
	len += strlen(b);
	if (write(STDERR_FILENO, buf, len) < 0) {
		/* nothing left to do */
	}
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

static int add_calls(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -EINVAL;
	}
	return 0;
}
#endif

int privdrop_seccomp(enum privdrop_profile profile)
{
#ifdef HAVE_SECCOMP
	/* sqlite (WAL, page I/O, locks): portless-cp's store, and every control-plane
	 * client's replay cache (<keys>/replay.db), the relay's and portlessd's too */
	static const char *const db_calls[] = {"pread64",   "pwrite64", "ftruncate",
					       "fallocate", "flock",    "fdatasync"};
	/* portless-cp only: making and handing over its data directory's files */
	static const char *const cp_calls[] = {"mkdir", "mkdirat", "fchown", "fchmodat",
					       "utimensat"};
	/* portlessd's device role: its interface scripts (fork, exec, wait, kill the group) */
	static const char *const ep_calls[] = {
	    "clone", "clone3", "fork", "vfork", "execve", "execveat", "wait4", "waitid", "kill",
	    "setpgid", "getpgid", "setsid", "close_range", "prctl", "pread64", "pwrite64",
	    "ftruncate", "fallocate", "flock", "fdatasync", "mkdir", "mkdirat", "fchown",
	    "fchmodat", "utimensat", "pidfd_open", "getrusage", "sysinfo",
	    /* libev's ev_stat on known_identities (inotify, statfs for the file system) */
	    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "statfs",
	    "fstatfs"};
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	scmp_filter_ctx ctx;
	int e;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		e = errno;
		log_msg_errno(PL_LOG_ERR, e, "seccomp: PR_SET_NO_NEW_PRIVS");
		return -e;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	e = add_calls(ctx, common_calls, sizeof(common_calls) / sizeof(common_calls[0]));
	if (!e)
		e = add_calls(ctx, db_calls, sizeof(db_calls) / sizeof(db_calls[0]));
	if (!e && profile == PRIVDROP_CP)
		e = add_calls(ctx, cp_calls, sizeof(cp_calls) / sizeof(cp_calls[0]));
	if (!e && profile == PRIVDROP_EP)
		e = add_calls(ctx, ep_calls, sizeof(ep_calls) / sizeof(ep_calls[0]));
#ifdef PRIVDROP_SANITIZER
	if (!e)
		e = add_calls(ctx, sanitizer_calls,
			      sizeof(sanitizer_calls) / sizeof(sanitizer_calls[0]));
#endif
	/* rt_sigaction may not take SIGSYS back from us */
	if (!e)
		e = seccomp_load(ctx);
	seccomp_release(ctx);
	if (e < 0) {
		log_msg_errno(PL_LOG_ERR, -e, "seccomp: cannot install the filter");
		return e;
	}
	log_msg(PL_LOG_INFO, "seccomp: filter installed (%s profile)",
		profile == PRIVDROP_CP   ? "portless-cp"
		: profile == PRIVDROP_EP ? "portlessd"
					 : "portless-sr");
	return 0;
#else
	(void)profile;
	log_msg(PL_LOG_WARN, "seccomp: built without libseccomp: no system-call filter");
	return 0;
#endif
}

/* ---- capabilities (portlessd) --------------------------------------------- */

int privdrop_keep_caps(void)
{
#ifdef HAVE_CAPNG
	int r;

	if (geteuid() != 0)
		return 0;
	capng_clear(CAPNG_SELECT_BOTH);
	r = capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			  CAP_NET_ADMIN, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, -1);
	if (r == 0)
		r = capng_apply(CAPNG_SELECT_BOTH);
	if (r != 0) {
		log_msg(PL_LOG_ERR,
			"capabilities: cannot drop to the needed set (capng %d); "
			"keeping what we have",
			r);
		return -EPERM;
	}
	log_msg(PL_LOG_INFO, "capabilities: kept CAP_NET_ADMIN CAP_CHOWN CAP_DAC_OVERRIDE "
			     "CAP_FOWNER only");
	return 0;
#else
	log_msg(PL_LOG_WARN, "capabilities: built without libcap-ng: keeping all");
	return 0;
#endif
}
