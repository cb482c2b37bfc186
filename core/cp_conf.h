/* SPDX-License-Identifier: MIT */
/**
 * @file cp_conf.h  "<keydir>/cp.conf": where the control plane is, and its pinned key.
 *
 * Written by `portless enroll`, read by every program through
 * cp_client_cfg_load(). Strict format (unknown keys are errors):
 *   # comment
 *   server = 127.0.0.1:7000
 *   server_key = <base64 X25519 public key>
 */
#ifndef PORTLESS_CP_CONF_H
#define PORTLESS_CP_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "cp_proto.h"

/** Read cp.conf from @p keydir. 0 or -errno with a reason (line quoted) in @p err. */
int cp_conf_load(const char *keydir, char server[CP_HOSTPORT_BUF], uint8_t pk[CP_KEY_LEN],
		 char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
