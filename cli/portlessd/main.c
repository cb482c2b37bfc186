/* SPDX-License-Identifier: MIT */
/* portlessd: the endpoint service (device and client roles). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cliutil.h"
#include "daemon.h"
#include "log.h"

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
	return daemon_run(config);
}
