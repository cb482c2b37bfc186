/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the host-key lines a device sends in its signed answer
 * (what the client turns into a known_hosts file): one OpenSSH public key
 * line per line, parsed with sshkey_pub_parse. Whatever parses must format
 * back and parse again to the same key (else abort), and the known_hosts
 * text for the parsed keys must build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knownhosts.h"
#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshkey_pub keys[KNOWNHOSTS_MAX_KEYS], again;
	char text[4096], line[SSHKEY_LINE_BUF], out[SSHKEY_LINE_BUF], kh[8192];
	size_t n = 0, off = 0;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	while (off < size && text[off] && n < KNOWNHOSTS_MAX_KEYS) {
		const char *l = text + off, *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		off += len + (nl ? 1 : 0);
		if (len >= sizeof(line))
			continue;
		memcpy(line, l, len);
		line[len] = '\0';
		if (sshkey_pub_parse(line, &keys[n]) != 0)
			continue;
		if (sshkey_pub_format(&keys[n], 1, out, sizeof(out)) != 0 ||
		    sshkey_pub_parse(out, &again) != 0 || again.blob_len != keys[n].blob_len ||
		    memcmp(again.blob, keys[n].blob, again.blob_len) != 0 ||
		    strcmp(again.type, keys[n].type) != 0 ||
		    strcmp(again.comment, keys[n].comment) != 0)
			abort(); /* a key that does not survive its own round trip */
		n++;
	}
	if (n)
		(void)!knownhosts_format("@device", keys, n, kh, sizeof(kh));
	return 0;
}
