/* SPDX-License-Identifier: MIT */
/**
 * @file tun_fake.h  A fake TUN for unit tests: a SOCK_SEQPACKET socketpair.
 *
 * tun_open_ex(&tun_ops_fake, ...) gives a tun_dev whose fd is one end of a
 * socketpair (pollable by libev like the real one); the test holds the other
 * end and writes packets "from the kernel" or reads what the code wrote.
 * Names come out as given, with "%d" replaced by a counter. No root needed.
 */
#ifndef PORTLESS_TUN_FAKE_H
#define PORTLESS_TUN_FAKE_H

#include "tun.h"

/** The fake ops. */
extern const struct tun_ops tun_ops_fake;

/**
 * The test's end of the socketpair behind @p dev (opened with tun_ops_fake),
 * or -1 for a device from other ops. Owned by the device; closed by tun_close().
 */
int tun_fake_peer(const struct tun_dev *dev);

#endif
