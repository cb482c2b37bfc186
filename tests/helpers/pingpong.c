/* SPDX-License-Identifier: MIT */
/*
 * pingpong: small-message TCP round trips, for scripts/bench.sh.
 *
 *   pingpong server IP PORT [SECONDS]   echo every message back, one client
 *                                       at a time, exit after SECONDS (300)
 *   pingpong client IP PORT COUNT [SIZE] send SIZE bytes (64), wait for the
 *                                       echo, COUNT times; print the median
 *                                       and mean round trip in microseconds
 *
 * TCP_NODELAY on both ends; every wait is bounded (10 s per message).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PP_MAX = 4096, PP_WAIT_MS = 10000 };

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int addr(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* Read exactly n bytes, waiting at most PP_WAIT_MS per read. */
static int read_full(int fd, char *b, size_t n)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (n) {
		if (poll(&p, 1, PP_WAIT_MS) <= 0)
			return -1;
		ssize_t r = read(fd, b, n);

		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t r = write(fd, b, n);

		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int server(const struct sockaddr_in *sa, int secs)
{
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	double end = now_us() + secs * 1e6;
	char buf[PP_MAX];

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(lfd, 4) < 0) {
		perror("pingpong: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (now_us() < end) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};

		if (poll(&p, 1, 1000) <= 0)
			continue;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (;;) {
			struct pollfd q = {.fd = fd, .events = POLLIN};

			if (poll(&q, 1, PP_WAIT_MS) <= 0)
				break;
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0 || write_full(fd, buf, (size_t)r) < 0)
				break;
		}
		close(fd);
	}
	close(lfd);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int client(const struct sockaddr_in *sa, int count, size_t size)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	char buf[PP_MAX];
	double *t, sum = 0;

	if (count < 1 || size < 1 || size > PP_MAX || !(t = calloc((size_t)count, sizeof(*t))))
		return 2;
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		perror("pingpong: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 'x', size);
	for (int i = 0; i < count; i++) {
		double t0 = now_us();

		if (write_full(fd, buf, size) < 0 || read_full(fd, buf, size) < 0) {
			fprintf(stderr, "pingpong: round trip %d failed\n", i);
			return 1;
		}
		t[i] = now_us() - t0;
		sum += t[i];
	}
	qsort(t, (size_t)count, sizeof(*t), cmp);
	printf("median_us %.1f mean_us %.1f\n", t[count / 2], sum / count);
	free(t);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;

	if (argc >= 4 && !strcmp(argv[1], "server") && addr(argv[2], argv[3], &sa) == 0)
		return server(&sa, argc > 4 ? atoi(argv[4]) : 300);
	if (argc >= 5 && !strcmp(argv[1], "client") && addr(argv[2], argv[3], &sa) == 0)
		return client(&sa, atoi(argv[4]), argc > 5 ? (size_t)atoi(argv[5]) : 64);
	fprintf(stderr, "usage: pingpong server IP PORT [SECONDS] | client IP PORT COUNT [SIZE]\n");
	return 2;
}
