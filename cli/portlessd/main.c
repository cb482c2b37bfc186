/* SPDX-License-Identifier: MIT */
/* portlessd: the endpoint service (device and client roles). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

int main(int argc, char **argv)
{
	const char *config = NULL;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			log_set_level(PL_LOG_DEBUG);
		} else {
			fprintf(stderr, "usage: portlessd [-c CONFIG] [-v]\n"
					"  CONFIG defaults to /etc/portless/portlessd.conf\n");
			return 2;
		}
	}
	if (sodium_init() < 0 || log_init(argv[0]) < 0)
		return 1;
	return daemon_run(config);
}
