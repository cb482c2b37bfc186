/* SPDX-License-Identifier: MIT */
/*
 * sshkey_gen: test helper for the sshkey module.
 *   sshkey_gen KEYFILE COMMENT   write KEYFILE (private, 0600) and KEYFILE.pub,
 *                                print the SHA256 fingerprint
 *   sshkey_gen --fpr PUBFILE     print the fingerprint of any .pub key file
 *   sshkey_gen --known-hosts ALIAS PUBFILE OUT   write a known_hosts file (knownhosts module)
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "knownhosts.h"
#include "sshkey.h"

static int write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int print_fpr(const struct sshkey_pub *pub)
{
	char fpr[SSHKEY_FPR_BUF];

	if (sshkey_fingerprint_sha256(pub, fpr, sizeof(fpr)) < 0)
		return 1;
	printf("%s\n", fpr);
	return 0;
}

static int gen(const char *path, const char *comment)
{
	static char priv[SSHKEY_PRIVATE_BUF], line[SSHKEY_LINE_BUF + 1], pubpath[4096];
	struct sshkey *k = NULL;
	struct sshkey_pub pub;
	size_t len;
	int r = 1;

	if (sshkey_generate(comment, &k) < 0 ||
	    sshkey_private_format(k, priv, sizeof(priv), &len) < 0)
		goto out;
	sshkey_get_pub(k, &pub);
	if (sshkey_pub_format(&pub, 1, line, sizeof(line) - 1) < 0)
		goto out;
	strcat(line, "\n");
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	if (write_file(path, priv, len, 0600) < 0 ||
	    write_file(pubpath, line, strlen(line), 0644) < 0)
		goto out;
	r = print_fpr(&pub);
out:
	sodium_memzero(priv, sizeof(priv));
	sshkey_free(k);
	return r;
}

int main(int argc, char **argv)
{
	struct sshkey_pub pub;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "--fpr")) {
		if (sshkey_pub_load(argv[2], &pub) < 0) {
			fprintf(stderr, "sshkey_gen: cannot parse %s\n", argv[2]);
			return 1;
		}
		return print_fpr(&pub);
	}
	if (argc == 5 && !strcmp(argv[1], "--known-hosts")) {
		static char text[8192];

		if (sshkey_pub_load(argv[3], &pub) < 0 ||
		    knownhosts_format(argv[2], &pub, 1, text, sizeof(text)) < 0 ||
		    write_file(argv[4], text, strlen(text), 0600) < 0) {
			fprintf(stderr, "sshkey_gen: cannot write known_hosts\n");
			return 1;
		}
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: sshkey_gen KEYFILE COMMENT | sshkey_gen --fpr PUBFILE\n");
		return 2;
	}
	return gen(argv[1], argv[2]);
}
