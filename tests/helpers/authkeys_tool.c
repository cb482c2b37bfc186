/* SPDX-License-Identifier: MIT */
/*
 * authkeys_tool: drive the authkeys module for a real local user (e2e tests).
 *   authkeys_tool install USER FROM EXPIRY SIDHEX PUBFILE   prints the line installed
 *   authkeys_tool remove USER SIDHEX                         prints how many lines went
 *   authkeys_tool remove-all USER...                         prints how many lines went
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authkeys.h"
#include "sshkey.h"
#include "text.h"

static int sid_parse(const char *hex, uint8_t *sid, size_t *len)
{
	*len = strlen(hex) / 2;
	if (*len == 0 || *len > AUTHKEYS_SID_MAX || text_from_hex_exact(sid, *len, hex) < 0) {
		fprintf(stderr, "authkeys_tool: bad session id %s\n", hex);
		return -1;
	}
	return 0;
}

static int install(char **argv)
{
	char key[SSHKEY_LINE_BUF], line[AUTHKEYS_LINE_BUF];
	uint8_t sid[AUTHKEYS_SID_MAX];
	struct authkeys_entry e = {.from = argv[1], .expiry = strtoull(argv[2], NULL, 10)};
	struct sshkey_pub pub;

	if (sid_parse(argv[3], sid, &e.sid_len) < 0 || sshkey_pub_load(argv[4], &pub) < 0 ||
	    sshkey_pub_format(&pub, 0, key, sizeof(key)) < 0)
		return 1;
	e.key = key;
	e.sid = sid;
	if (authkeys_format_line(&e, line, sizeof(line)) < 0 || authkeys_install(argv[0], line) < 0)
		return 1;
	printf("%s\n", line);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t sid[AUTHKEYS_SID_MAX];
	size_t sl;
	unsigned n = 0;

	if (sodium_init() < 0)
		return 1;
	if (argc == 7 && !strcmp(argv[1], "install"))
		return install(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "remove")) {
		if (sid_parse(argv[3], sid, &sl) < 0 || authkeys_remove(argv[2], sid, sl, &n) < 0)
			return 1;
		printf("%u\n", n);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "remove-all")) {
		if (authkeys_remove_all((const char *const *)argv + 2, &n) < 0)
			return 1;
		printf("%u\n", n);
		return 0;
	}
	fprintf(stderr, "usage: authkeys_tool install USER FROM EXPIRY SIDHEX PUBFILE | "
			"remove USER SIDHEX | remove-all USER...\n");
	return 2;
}
