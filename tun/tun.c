/* SPDX-License-Identifier: MIT */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

struct tun_dev {
	const struct tun_ops *ops;
	int fd;
	char name[TUN_NAME_MAX];
	struct tun_stats st;
};

static int kernel_open(const struct tun_open_opts *o, char name_out[TUN_NAME_MAX])
{
	struct ifreq ifr;
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	snprintf(name_out, TUN_NAME_MAX, "%s", ifr.ifr_name);
	return fd;
}

static ssize_t kernel_read(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t kernel_write(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	return n < 0 ? -errno : n;
}

static void kernel_close(int fd)
{
	close(fd);
}

const struct tun_ops tun_ops_kernel = {
    .open = kernel_open,
    .read = kernel_read,
    .write = kernel_write,
    .close = kernel_close,
};

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < TUN_NAME_MAX && !strchr(name, '/') && !strpbrk(name, " \t\n:");
}

int tun_open_ex(const struct tun_ops *ops, const struct tun_open_opts *o, struct tun_dev **out)
{
	struct tun_open_opts opts = o ? *o : (struct tun_open_opts){0};
	struct tun_dev *dev = NULL;
	int fd, err = 0;

	*out = NULL;
	if (!opts.name)
		opts.name = "pl%d";
	if (!name_ok(opts.name) || opts.flags) {
		err = -EINVAL;
		goto out;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		err = -ENOMEM;
		goto out;
	}
	dev->ops = ops;
	fd = ops->open(&opts, dev->name);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	dev->fd = fd;
	log_msg(PL_LOG_DEBUG, "tun: opened %s (fd %d)", dev->name, fd);
	*out = dev;
	dev = NULL;
out:
	free(dev);
	return err;
}

int tun_open(const char *name, struct tun_dev **out)
{
	struct tun_open_opts o = {.name = name};

	return tun_open_ex(&tun_ops_kernel, &o, out);
}

int tun_fd(const struct tun_dev *dev)
{
	return dev->fd;
}

const char *tun_name(const struct tun_dev *dev)
{
	return dev->name;
}

ssize_t tun_read(struct tun_dev *dev, struct pkt *p)
{
	size_t room = p->cap - p->off;
	ssize_t n;

	p->len = 0;
	n = dev->ops->read(dev->fd, pkt_data(p), room);
	if (n < 0)
		return n;
	/* A read that fills the whole buffer may have been truncated. */
	if ((size_t)n >= room && room < TUN_MAX_PACKET) {
		dev->st.rx_oversize++;
		return -EMSGSIZE;
	}
	p->len = (size_t)n;
	dev->st.rx_packets++;
	dev->st.rx_bytes += (size_t)n;
	return n;
}

int tun_read_batch(struct tun_dev *dev, struct pkt **pkts, int n)
{
	int got = 0;

	if (n > TUN_BATCH_MAX)
		n = TUN_BATCH_MAX;
	while (got < n) {
		ssize_t r = tun_read(dev, pkts[got]);

		if (r == -EMSGSIZE)
			continue;
		if (r < 0)
			return got ? got : (r == -EAGAIN ? 0 : (int)r);
		got++;
	}
	return got;
}

int tun_write_buf(struct tun_dev *dev, const void *buf, size_t len)
{
	ssize_t n = dev->ops->write(dev->fd, buf, len);

	if (n < 0) {
		if (n != -EAGAIN)
			dev->st.tx_errors++;
		return (int)n;
	}
	if ((size_t)n != len) {
		dev->st.tx_errors++;
		return -EIO;
	}
	dev->st.tx_packets++;
	dev->st.tx_bytes += len;
	return 0;
}

int tun_write(struct tun_dev *dev, const struct pkt *p)
{
	return tun_write_buf(dev, pkt_data(p), p->len);
}

int tun_write_batch(struct tun_dev *dev, struct pkt *const *pkts, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		int r = tun_write(dev, pkts[i]);

		if (r == -EAGAIN)
			break;
		if (r < 0 && i == 0)
			return r;
	}
	return i;
}

void tun_get_stats(const struct tun_dev *dev, struct tun_stats *st)
{
	*st = dev->st;
}

void tun_close(struct tun_dev *dev)
{
	if (!dev)
		return;
	log_msg(PL_LOG_DEBUG, "tun: closing %s", dev->name);
	dev->ops->close(dev->fd);
	free(dev);
}

const struct tun_ops *tun_get_ops(const struct tun_dev *dev)
{
	return dev->ops;
}
