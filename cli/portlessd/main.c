/* SPDX-License-Identifier: MIT */
/* portlessd: the endpoint service (device and client roles). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cliutil.h"
#include "daemon.h"
#include "log.h"
#include "pdconf.h"

#define USAGE "usage: portlessd [-c CONFIG] [-v]\n       portlessd --help | --version\n"

static const char help_text[] =
    USAGE "\n"
	  "The endpoint service: the device role (accepts sessions from the identities\n"
	  "in [allow]) and the client role (sessions for local users, asked for through\n"
	  "its control socket by `portless ssh`).\n"
	  "  -c, --config CONFIG  configuration (default /etc/portless/portlessd.conf;\n"
	  "                       see portlessd.conf(5))\n"
	  "  -v, --verbose        log at debug level (else $PORTLESS_LOG, default info)\n"
	  "More: man portlessd(8).\n";

/*
 * One device portlessd per identity (a second client role with its own socket
 * is fine): an exclusive lock on KEYS/portlessd.lock, held
 * (fd left open) for the process's life. A second daemon would otherwise
 * find the first one's interface holding its virtual address and blame an
 * address conflict. Returns -1 (message printed) when another one holds it;
 * a key directory it cannot open is left for the daemon to report.
 */
static int single_instance(const char *config)
{
	struct pdconf *c = calloc(1, sizeof(*c));
	char err[PDCONF_ERR_BUF], path[PDCONF_PATH_MAX + 32];
	int fd, r = 0;

	if (!c || pdconf_load(c, config, err, sizeof(err)) < 0 || !c->device_enabled) {
		free(c);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/portlessd.lock", c->keys_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		fprintf(stderr,
			"portlessd: another portlessd already runs with the identity in %s "
			"(%s is locked); stop it first (systemctl stop portlessd)\n",
			c->keys_dir, path);
		close(fd);
		r = -1;
	}
	free(c);
	return r;
}

int main(int argc, char **argv)
{
	const char *config = NULL;

	if (cli_std_opts(argc, argv, "portlessd", help_text))
		return CLI_OK;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_set_level(PL_LOG_DEBUG);
		} else {
			fprintf(stderr,
				USAGE "  CONFIG defaults to /etc/portless/portlessd.conf\n");
			return CLI_USAGE;
		}
	}
	if (sodium_init() < 0 || log_init(argv[0]) < 0)
		return CLI_FAIL;
	if (single_instance(config) < 0)
		return CLI_FAIL;
	return daemon_run(config);
}
