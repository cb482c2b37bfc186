/* SPDX-License-Identifier: MIT */
/**
 * @file udp_gso.h  UDP segmentation offload socket options and cmsg types.
 *
 * UDP_SEGMENT (send: one sendmsg carries a train of equal-size datagrams)
 * and UDP_GRO (receive: a train arrives in one read, its segment size in a
 * cmsg), both at level SOL_UDP / IPPROTO_UDP. Values from linux/udp.h, for
 * C libraries whose netinet/udp.h predates them.
 */
#ifndef PORTLESS_UDP_GSO_H
#define PORTLESS_UDP_GSO_H

#include <netinet/udp.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#endif
