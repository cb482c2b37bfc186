/* SPDX-License-Identifier: MIT */
#include "ifscript.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum {
	ENV_VARS = 11,
	ENV_LEN = 160,
	POLL_NS = 5 * 1000 * 1000,
};

static const char *nz(const char *s)
{
	return s ? s : "";
}

static void build_env(const struct ifscript_env *e, char buf[ENV_VARS][ENV_LEN],
		      char *envp[ENV_VARS + 1])
{
	int i = 0;

	snprintf(buf[i++], ENV_LEN,
		 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	snprintf(buf[i++], ENV_LEN, "PORTLESS_IFNAME=%s", nz(e->ifname));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_ROLE=%s", nz(e->role));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_SESSION=%s", nz(e->session));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_ADDR4=%s", nz(e->addr4));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_ADDR6=%s", nz(e->addr6));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_PEER4=%s", nz(e->peer4));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_PEER6=%s", nz(e->peer6));
	snprintf(buf[i++], ENV_LEN, "PORTLESS_MTU=%u", e->mtu);
	snprintf(buf[i++], ENV_LEN, "PORTLESS_PHASE=%s", nz(e->phase));
	snprintf(buf[i++], ENV_LEN, "LANG=C");
	for (int k = 0; k < ENV_VARS; k++)
		envp[k] = buf[k];
	envp[ENV_VARS] = NULL;
}

static int spawn(const char *path, char *const envp[], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *argv[] = {(char *)path, NULL};
	sigset_t none;
	int err;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&at);
	/* Own process group (so a timeout kills its children too), default signal mask. */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	{
		sigset_t all;

		sigfillset(&all);
		posix_spawnattr_setsigdefault(&at, &all);
	}
	err = posix_spawn(pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -err;
}

/* Wait for @p pid at most @p ms; -ETIMEDOUT after killing its group. */
static int wait_bounded(pid_t pid, unsigned ms, int *status)
{
	struct timespec t = {0, POLL_NS};
	unsigned long waited_ns = 0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited_ns >= (unsigned long)ms * 1000000ul)
			break;
		nanosleep(&t, NULL);
		waited_ns += POLL_NS;
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return -ETIMEDOUT;
}

__attribute__((format(printf, 4, 5))) static int report(char *err, size_t errlen, int rc,
							const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	log_msg(PL_LOG_DEBUG, "ifscript: rc %d", rc);
	return rc;
}

int ifscript_run(const char *path, const struct ifscript_env *env, unsigned timeout_ms, char *err,
		 size_t errlen)
{
	char buf[ENV_VARS][ENV_LEN], *envp[ENV_VARS + 1];
	struct stat st;
	pid_t pid;
	int status = 0, rc;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path)
		return 0;
	if (stat(path, &st) < 0 && errno == ENOENT) {
		log_msg(PL_LOG_DEBUG, "ifscript: %s not present, skipped", path);
		return 0;
	}
	build_env(env, buf, envp);
	rc = spawn(path, envp, &pid);
	if (rc)
		return report(err, errlen, rc, "script %s could not be started (errno %d)", path,
			      -rc);
	rc = wait_bounded(pid, timeout_ms ? timeout_ms : IFSCRIPT_TIMEOUT_MS, &status);
	if (rc == -ETIMEDOUT)
		return report(err, errlen, rc, "script %s timed out after %d ms and was killed",
			      path, (int)(timeout_ms ? timeout_ms : IFSCRIPT_TIMEOUT_MS));
	if (rc)
		return report(err, errlen, rc, "script %s: waiting failed (errno %d)", path, -rc);
	if (WIFSIGNALED(status))
		return report(err, errlen, -EIO, "script %s killed by signal %d", path,
			      WTERMSIG(status));
	if (WEXITSTATUS(status))
		return report(err, errlen, -EIO, "script %s exited with status %d", path,
			      WEXITSTATUS(status));
	return 0;
}
