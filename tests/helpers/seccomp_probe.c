/* SPDX-License-Identifier: MIT */
/*
 * Test helper: install a server's seccomp filter (privdrop_seccomp), show
 * that allowed calls still work, then make a call outside the list.
 *   seccomp_probe cp|sr|ep allowed -> prints "ok", exits 0
 *   seccomp_probe cp|sr denied    -> must die by SIGSYS after the log line
 *   seccomp_probe cp|sr store     -> ftruncate() a temporary file, as sqlite
 *                                    does (the store, every replay cache): "ok"
 *   seccomp_probe cp|sr mkdir     -> mkdirat(): "ok" under cp, SIGSYS under sr
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

int main(int argc, char **argv)
{
	int fd;

	if (argc != 3 || log_init("seccomp_probe") < 0)
		return 2;
	int tmp = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600); /* before the filter */

	if (privdrop_seccomp(!strcmp(argv[1], "cp")   ? PRIVDROP_CP
			     : !strcmp(argv[1], "ep") ? PRIVDROP_EP
						      : PRIVDROP_SR) < 0)
		return 1;
	fd = socket(AF_INET, SOCK_DGRAM, 0); /* allowed */
	if (fd < 0)
		return 1;
	close(fd);
	if (!strcmp(argv[2], "mkdir")) { /* portless-cp's own: the relay's list lacks it */
		if (mkdirat(AT_FDCWD, "/nonexistent/x", 0700) < 0 && errno != ENOENT)
			return 1;
		printf("ok\n");
		return 0;
	}
	if (!strcmp(argv[2], "store")) {
		if (tmp < 0 || ftruncate(tmp, 4096) < 0)
			return 1;
		close(tmp);
		printf("ok\n");
		return 0;
	}
	if (!strcmp(argv[2], "denied")) {
		/* ptrace-free and harmless when allowed: but it is not on any list */
		syscall(SYS_setuid, getuid());
		fprintf(stderr, "still alive after a denied call\n");
		return 3;
	}
	printf("ok\n");
	return 0;
}
