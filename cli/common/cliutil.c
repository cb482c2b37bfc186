/* SPDX-License-Identifier: MIT */
#include "cliutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "text.h"
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

int cli_keys_dir(const char *opt, char *out, size_t cap)
{
	if (opt) {
		if (strlen(opt) >= cap) {
			fprintf(stderr, "error: --keys path too long\n");
			return -1;
		}
		strcpy(out, opt);
		return 0;
	}
	if (identity_default_dir(out, cap) < 0) {
		fprintf(stderr, "error: cannot work out the key directory (set --keys or HOME)\n");
		return -1;
	}
	return 0;
}

int cli_make_keys_dir(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p)) {
		fprintf(stderr, "error: key directory path too long\n");
		return -1;
	}
	memcpy(p, dir, n + 1);
	for (char *s = p + 1;; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "error: cannot make %s: %s\n", p, strerror(errno));
			return -1;
		}
		if (last)
			return 0;
		*s = '/';
	}
}

struct identity *cli_load_identity(const char *dir)
{
	char path[4096], err[256];
	struct identity *id = NULL;
	int r;

	if (identity_path(path, sizeof(path), dir) < 0) {
		fprintf(stderr, "error: key directory path too long\n");
		return NULL;
	}
	r = identity_load(path, &id, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err);
		return NULL;
	}
	return id;
}

int cli_parse_key32(const char *s, unsigned char out[32])
{
	return text_from_b64_exact(out, 32, s);
}

static int find(const char *const *list, const char *s)
{
	for (int i = 0; list && list[i]; i++)
		if (!strcmp(list[i], s))
			return i;
	return -1;
}

int cli_take_opts(int argc, char **argv, const char *const *names, const char **vals,
		  const char *const *flags, bool *flagvals)
{
	int out = 0;

	for (int i = 0; i < argc; i++) {
		int k;

		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if ((k = find(names, argv[i])) >= 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "error: %s needs a value\n", argv[i]);
				return -1;
			}
			vals[k] = argv[++i];
		} else if ((k = find(flags, argv[i])) >= 0) {
			flagvals[k] = true;
		} else if (!strncmp(argv[i], "--", 2)) {
			fprintf(stderr, "error: unknown option %s\n", argv[i]);
			return -1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

void cli_notify_ready(const char *status)
{
#ifdef HAVE_SYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#else
	(void)status;
#endif
}

int cli_version(const char *prog)
{
	printf("%s %s\n", prog, PORTLESS_VERSION);
	return CLI_OK;
}

bool cli_std_opts(int argc, char **argv, const char *prog, const char *help)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return true;
		}
		if (!strcmp(argv[i], "--version")) {
			cli_version(prog);
			return true;
		}
	}
	return false;
}
