/* SPDX-License-Identifier: MIT */
#include "tun_fake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FAKE_MAX = 64 };

/* fd -> peer fd, for the few fake devices a test has open at once. */
static struct {
	int fd, peer;
} fakes[FAKE_MAX];
static unsigned fake_counter;

static int slot_find(int fd)
{
	for (int i = 0; i < FAKE_MAX; i++)
		if (fakes[i].peer > 0 && fakes[i].fd == fd)
			return i;
	return -1;
}

static void fake_name(const char *tmpl, char out[TUN_NAME_MAX])
{
	const char *pct = strstr(tmpl, "%d");

	if (!pct) {
		snprintf(out, TUN_NAME_MAX, "%s", tmpl);
		return;
	}
	snprintf(out, TUN_NAME_MAX, "%.*s%u%s", (int)(pct - tmpl), tmpl, fake_counter++, pct + 2);
}

static int fake_open(const struct tun_open_opts *o, char name_out[TUN_NAME_MAX])
{
	int sv[2], slot;

	for (slot = 0; slot < FAKE_MAX && fakes[slot].peer > 0; slot++)
		;
	if (slot == FAKE_MAX)
		return -EMFILE;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fakes[slot].fd = sv[0];
	fakes[slot].peer = sv[1];
	fake_name(o->name, name_out);
	return sv[0];
}

static ssize_t fake_read(int fd, void *buf, size_t len)
{
	/* MSG_TRUNC: report the real length like a TUN read that didn't fit. */
	ssize_t n = recv(fd, buf, len, MSG_TRUNC);

	return n < 0 ? -errno : n;
}

static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static void fake_close(int fd)
{
	int slot = slot_find(fd);

	if (slot >= 0) {
		close(fakes[slot].peer);
		fakes[slot].peer = 0;
	}
	close(fd);
}

const struct tun_ops tun_ops_fake = {
    .open = fake_open,
    .read = fake_read,
    .write = fake_write,
    .close = fake_close,
};

int tun_fake_peer(const struct tun_dev *dev)
{
	int slot;

	if (tun_get_ops(dev) != &tun_ops_fake)
		return -1;
	slot = slot_find(tun_fd(dev));
	return slot < 0 ? -1 : fakes[slot].peer;
}
