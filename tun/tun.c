/* SPDX-License-Identifier: MIT */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

struct tun_dev {
	const struct tun_ops *ops;
	int fd;
	bool vnet, offload;
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | ((o->flags & TUN_OPEN_VNET) ? IFF_VNET_HDR : 0);
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

static ssize_t kernel_readv(int fd, const struct iovec *iov, int n)
{
	ssize_t r = readv(fd, iov, n);

	return r < 0 ? -errno : r;
}

static ssize_t kernel_writev(int fd, const struct iovec *iov, int n)
{
	ssize_t r = writev(fd, iov, n);

	return r < 0 ? -errno : r;
}

static int kernel_offload(int fd, unsigned f)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)f) < 0 ? -errno : 0;
}

const struct tun_ops tun_ops_kernel = {
    .open = kernel_open,
    .read = kernel_read,
    .write = kernel_write,
    .close = kernel_close,
    .readv = kernel_readv,
    .writev = kernel_writev,
    .offload = kernel_offload,
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
	if (!name_ok(opts.name) || (opts.flags & ~(unsigned)TUN_OPEN_VNET) ||
	    ((opts.flags & TUN_OPEN_VNET) && (!ops->readv || !ops->writev))) {
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
	dev->vnet = opts.flags & TUN_OPEN_VNET;
	log_msg(PL_LOG_DEBUG, "tun: opened %s (fd %d)", dev->name, fd);
	*out = dev;
	dev = NULL;
out:
	free(dev);
	return err;
}

int tun_open(const char *name, struct tun_dev **out)
{
	struct tun_open_opts o = {.name = name, .flags = TUN_OPEN_VNET};

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

int tun_set_offload(struct tun_dev *dev)
{
	int r;

	if (dev->offload)
		return 0;
	const char *env = getenv("PORTLESS_TUN_OFFLOAD"); /* "0": off, for A/B benchmarks */

	if (!dev->vnet || !dev->ops->offload || (env && !strcmp(env, "0")))
		return -EOPNOTSUPP;
	r = dev->ops->offload(dev->fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	if (r == 0)
		dev->offload = true;
	return r;
}

bool tun_offloading(const struct tun_dev *dev)
{
	return dev->offload;
}

static void gso_from_vnet(const struct virtio_net_hdr *h, struct tun_gso *g)
{
	g->needs_csum = (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
	switch (h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		g->type = GSO_TCP4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		g->type = GSO_TCP6;
		break;
	default:
		g->type = GSO_NONE;
	}
	g->size = h->gso_size;
	g->csum_start = h->csum_start;
	g->csum_offset = h->csum_offset;
}

ssize_t tun_read_gso(struct tun_dev *dev, struct pkt *p, struct tun_gso *g)
{
	size_t room = p->cap - p->off;
	struct virtio_net_hdr h;
	ssize_t n;

	p->len = 0;
	memset(g, 0, sizeof(*g));
	if (dev->vnet) {
		struct iovec iov[2] = {{&h, sizeof(h)}, {pkt_data(p), room}};

		n = dev->ops->readv(dev->fd, iov, 2);
		if (n >= 0 && (size_t)n < sizeof(h))
			return -EIO;
		if (n >= 0) {
			n -= (ssize_t)sizeof(h);
			gso_from_vnet(&h, g);
		}
	} else {
		n = dev->ops->read(dev->fd, pkt_data(p), room);
	}
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
	if (g->type == GSO_NONE && g->needs_csum) {
		if (gso_csum_finish(pkt_data(p), p->len, g->csum_start, g->csum_offset) < 0)
			return -EINVAL;
		g->needs_csum = 0;
	}
	return n;
}

ssize_t tun_read(struct tun_dev *dev, struct pkt *p)
{
	struct tun_gso g;
	ssize_t n = tun_read_gso(dev, p, &g);

	if (n > 0 && g.type != GSO_NONE && g.needs_csum &&
	    gso_csum_finish(pkt_data(p), p->len, g.csum_start, g.csum_offset) < 0)
		return -EINVAL;
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
	struct virtio_net_hdr h = {0};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)buf, len}};
	ssize_t n =
	    dev->vnet ? dev->ops->writev(dev->fd, iov, 2) : dev->ops->write(dev->fd, buf, len);

	if (dev->vnet && n >= (ssize_t)sizeof(h))
		n -= (ssize_t)sizeof(h);

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
