/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/<name>/)
 * from the real encoders: small valid samples plus a few edge cases. Run once
 * by hand when a format changes:  corpus_gen tests/fuzz/corpus
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cp_frame.h"
#include "cp_hs.h"
#include "cp_rot.h"
#include "ctl.h"
#include "dp_seal.h"
#include "sess.h"
#include "sr_side.h"
#include "ticket.h"
#include "wire.h"

static const char *root;

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- cp_msg: byte 0 = 1, then u16-prefixed plaintext messages ---------- */
static uint8_t big[CP_FRAME_MAX * 2];

static void cp_msgs(void)
{
	static const uint8_t rec[] = "v=1 dev";
	uint8_t env[64], acks[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2};
	struct cp_msg m;
	struct cp_sess s = {0};
	size_t off;
	int n;

	memset(env, 0x5a, sizeof(env));
	struct cp_msg ms[] = {
	    {.type = CP_T_AUTH, .req = 1, .handle = "@alice"},
	    {.type = CP_T_ENROLL, .req = 2, .handle = "@bob", .code = "ABCDEFGH"},
	    {.type = CP_T_LOOKUP, .req = 3, .handle = "@bob"},
	    {.type = CP_T_GET_KEYS, .req = 4, .handle = "@bob"},
	    {.type = CP_T_PUT_RECORD, .req = 5, .name = "device", .data = rec, .data_len = 7},
	    {.type = CP_T_GET_RECORD, .req = 6, .handle = "@bob", .name = "device"},
	    {.type = CP_T_DEL_RECORD, .req = 7, .name = "device"},
	    {.type = CP_T_NOTIFY, .req = 8, .expiry = 1000, .data = env, .data_len = sizeof(env)},
	    {.type = CP_T_MONITOR, .req = 9},
	    {.type = CP_T_ACK, .nack = 2, .acks = acks},
	    {.type = CP_T_PING, .req = 10},
	    {.type = CP_T_CHALLENGE},
	    {.type = CP_T_R_OK, .req = 1},
	    {.type = CP_T_R_ERR, .req = 1, .err = CP_E_AUTH, .errmsg = "nope"},
	    {.type = CP_T_R_LOOKUP, .req = 3, .handle = "@bob", .hostport = "127.0.0.1:7400"},
	    {.type = CP_T_R_KEYS, .req = 4, .handle = "@bob"},
	    {.type = CP_T_R_RECORD, .req = 6, .data = rec, .data_len = 7},
	    {.type = CP_T_R_NOTIFIED, .req = 8, .seq = 5, .flags = CP_NOTIFIED_ONLINE},
	    {.type = CP_T_PUSH, .seq = 5, .expiry = 1000, .data = env, .data_len = sizeof(env)},
	    {.type = CP_T_ROTATE, .req = 11, .data = env, .data_len = sizeof(env)},
	    {.type = CP_T_R_KEYS, .req = 12, .handle = "@bob", .data = env, .data_len = 40},
	};
	big[0] = 1;
	off = 1;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		char name[32];
		uint8_t one[512];

		n = cp_msg_encode(&ms[i], big + off + 2, sizeof(big) - off - 2);
		if (n < 0) {
			fprintf(stderr, "encode type %#x: %d\n", ms[i].type, n);
			exit(1);
		}
		put_be16(big + off, (uint16_t)n);
		/* each message alone too */
		one[0] = 1;
		memcpy(one + 1, big + off, (size_t)n + 2);
		snprintf(name, sizeof(name), "msg-%02x", ms[i].type);
		put("cp_msg", name, one, (size_t)n + 3);
		if (cp_msg_decode(big + off + 2, (size_t)n, &m) != 0) {
			fprintf(stderr, "decode type %#x\n", ms[i].type);
			exit(1);
		}
		off += 2 + (size_t)n;
	}
	put("cp_msg", "all", big, off);
	/* raw mode: a frame sealed with the harness's fixed key (7s) opens */
	memset(s.tx, 7, sizeof(s.tx));
	n = cp_msg_encode(&ms[0], big + 1 + CP_FRAME_HDR, sizeof(big));
	big[0] = 0;
	n = cp_sess_seal(&s, big + 1 + CP_FRAME_HDR, (size_t)n, big + 1, sizeof(big) - 1);
	put("cp_msg", "raw-frame", big, 1 + (size_t)n);
	put("cp_msg", "raw-short", "\0\0\0\0\x0f", 5);
	put("cp_msg", "raw-huge", "\0\xff\xff\xff\xff", 5);
}

/* ---- cp_hs: client hello | server hello | frames ----------------------- */
static void cp_hs(void)
{
	uint8_t sk[32], pk[32], seed[32], b[37 + 32 + 64];
	struct cp_sess s;
	struct cp_hs hs;

	memset(seed, 1, sizeof(seed));
	crypto_box_seed_keypair(pk, sk, seed);
	cp_hs_client_start(&hs, pk, b);
	if (cp_hs_server(sk, pk, b, b + 37, &s) != 0)
		exit(1);
	struct cp_msg m = {.type = CP_T_CHALLENGE};
	int n = cp_msg_encode(&m, b + 37 + 32 + CP_FRAME_HDR, 64);
	n = cp_sess_seal(&s, b + 37 + 32 + CP_FRAME_HDR, (size_t)n, b + 37 + 32, sizeof(b) - 69);
	put("cp_hs", "hello-shello-challenge", b, 69 + (size_t)n);
	memcpy(b, "PLCP\x02", 5);
	put("cp_hs", "bad-version", b, 37);
	memset(b + 5, 0, 32);
	put("cp_hs", "zero-key", b, 69);
}

/* ---- sr_side ---------------------------------------------------------- */
static void sr_side(void)
{
	static const uint8_t types[] = {SR_MSG_HELLO,   SR_MSG_CHALLENGE, SR_MSG_AUTH,
					SR_MSG_WELCOME, SR_MSG_ERROR,     SR_MSG_ROAM};
	uint8_t b[SR_SIDE_MSG_MAX];

	for (size_t i = 0; i < sizeof(types); i++) {
		char name[16];

		memset(b, 0, sizeof(b));
		b[0] = types[i];
		b[1] = SR_VERSION;
		b[2] = (uint8_t)(i & 1);
		randombytes_buf(b + 4, sizeof(b) - 4);
		snprintf(name, sizeof(name), "type-%02x", types[i]);
		put("sr_side", name, b, sr_side_len(types[i]));
	}
	put("sr_side", "data", "\x10\x01\x00\x00", 4);
}

/* ---- tickets ---------------------------------------------------------- */
static void tickets(void)
{
	struct sr_issuer *iss = sr_issuer_new();
	uint8_t b[SR_TICKET_MAX];
	struct sr_side_ticket st;
	struct sr_request rq = {.flags = 0, .peer = "@dev"};
	struct sr_ticket t;
	size_t n;

	if (!iss || sr_issuer_issue(iss, 1000, 60, "sr.example", 7500, 7501, &t) != 0)
		exit(1);
	memset(t.request_id, 3, sizeof(t.request_id));
	if (sr_ticket_encode(&t, b, sizeof(b), &n) != 0)
		exit(1);
	put("ticket", "ticket", b, n);
	sr_ticket_side(&t, SR_SIDE_B, &st);
	if (sr_side_ticket_encode(&st, b, sizeof(b), &n) != 0)
		exit(1);
	put("ticket", "side-ticket", b, n);
	if (sr_request_encode(&rq, b, sizeof(b), &n) != 0)
		exit(1);
	put("ticket", "request", b, n);
	t.status = SR_TK_DENIED;
	snprintf(t.reason, sizeof(t.reason), "denied");
	if (sr_ticket_encode(&t, b, sizeof(b), &n) == 0)
		put("ticket", "ticket-denied", b, n);
	sr_ticket_wipe(&t);
	sr_issuer_free(iss);
}

/* ---- session payloads ------------------------------------------------- */
static void sessions(void)
{
	static uint8_t b[SESS_ANSWER_MAX + SESS_REQUEST_MAX];
	static struct sess_answer a;
	struct sr_issuer *iss = sr_issuer_new();
	struct sess_request r = {.aead_mask = 6, .user = "alice"};
	struct sess_end e = {.reason = SESS_END_CLOSED};
	struct sr_ticket t;
	size_t n;

	if (!iss || sr_issuer_issue(iss, 1000, 60, "sr.example", 7500, 7501, &t) != 0)
		exit(1);
	sr_ticket_side(&t, SR_SIDE_B, &r.ticket);
	randombytes_buf(r.session_id, sizeof(r.session_id));
	randombytes_buf(r.client_pk, sizeof(r.client_pk));
	if (sess_request_encode(&r, b, sizeof(b), &n) != 0)
		exit(1);
	put("sess", "request", b, n);
	a.status = SESS_OK;
	a.aead = DP_AEAD_CHACHA20POLY1305;
	a.mtu = 1280;
	a.expiry = 2000;
	a.device_v4.s_addr = htonl(0x64460102);
	a.client_v4.s_addr = htonl(0x647f0001);
	snprintf(a.user, sizeof(a.user), "alice");
	snprintf(a.sshkey, sizeof(a.sshkey),
		 "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
	snprintf(a.hostkeys, sizeof(a.hostkeys), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n");
	uint8_t chain[DP_KEY_LEN] = {1};
	if (sess_answer_seal(&a, chain) != 0 || sess_answer_encode(&a, b, sizeof(b), &n) != 0)
		exit(1);
	put("sess", "answer-ok", b, n);
	memset(&a, 0, sizeof(a));
	a.status = SESS_FAILED;
	snprintf(a.reason, sizeof(a.reason), "no such user");
	if (sess_answer_encode(&a, b, sizeof(b), &n) == 0)
		put("sess", "answer-failed", b, n);
	if (sess_end_encode(&e, b, sizeof(b), &n) != 0)
		exit(1);
	put("sess", "end", b, n);
	struct sess_resume rs = {.aead_mask = 6};
	struct sess_resumed rd = {.status = SESS_OK, .aead = DP_AEAD_CHACHA20POLY1305};

	sr_ticket_side(&t, SR_SIDE_B, &rs.ticket);
	randombytes_buf(rs.session_id, sizeof(rs.session_id));
	randombytes_buf(rs.client_pk, sizeof(rs.client_pk));
	if (sess_resume_encode(&rs, b, sizeof(b), &n) != 0)
		exit(1);
	put("sess", "resume", b, n);
	memcpy(rd.session_id, rs.session_id, sizeof(rd.session_id));
	randombytes_buf(rd.device_pk, sizeof(rd.device_pk));
	if (sess_resumed_encode(&rd, b, sizeof(b), &n) != 0)
		exit(1);
	put("sess", "resumed", b, n);
	sr_ticket_wipe(&t);
	sr_issuer_free(iss);
}

/* ---- IP packets for the filter (byte 0: direction/session) ------------ */
static size_t ip4_tcp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
		      uint8_t flags)
{
	memset(b, 0, 40);
	b[0] = 0x45;
	put_be16(b + 2, 40);
	b[8] = 64;
	b[9] = 6;
	put_be32(b + 12, src);
	put_be32(b + 16, dst);
	put_be16(b + 20, sp);
	put_be16(b + 22, dp);
	b[32] = 0x50;
	b[33] = flags;
	return 40;
}

static void filter(void)
{
	uint8_t b[1 + 80];
	size_t n;

	b[0] = 1; /* inbound, session 1 */
	n = ip4_tcp(b + 1, 0x647f0001, 0x64460102, 40000, 22, 0x02);
	put("filter", "in-v4-syn", b, 1 + n);
	b[0] = 4; /* outbound */
	n = ip4_tcp(b + 1, 0x64460102, 0x647f0001, 22, 40000, 0x12);
	put("filter", "out-v4-synack", b, 1 + n);
	b[0] = 4;
	n = ip4_tcp(b + 1, 0x64460102, 0x647f0001, 40000, 80, 0x02);
	put("filter", "out-v4-syn", b, 1 + n);
	/* ICMP echo, session 2 (echo denied) */
	b[0] = 2;
	memset(b + 1, 0, 28);
	b[1] = 0x45;
	put_be16(b + 3, 28);
	b[10] = 1;
	put_be32(b + 13, 0x647f0002);
	put_be32(b + 17, 0x64460102);
	b[21] = 8;
	put("filter", "in-v4-echo", b, 29);
	/* a non-first fragment */
	b[0] = 3;
	n = ip4_tcp(b + 1, 0x647f0001, 0x64460102, 40000, 22, 0x02);
	put_be16(b + 1 + 6, 0x0010);
	put("filter", "in-v4-frag", b, 1 + n);
	/* IPv6 TCP SYN from client 1 */
	static const uint8_t c6[16] = {0xfd, 0x70, 0x6c, 0x73, 0x73, 0, 0xff, 0xff,
				       0,    0,    0,    0,    0,    0, 0,    1};
	static const uint8_t d6[16] = {0xfd, 0x70, 0x6c, 0x73, 0x73, 0, 0, 1,
				       0,    0,    0,    0,    0,    0, 0, 2};
	memset(b, 0, sizeof(b));
	b[0] = 1;
	b[1] = 0x60;
	put_be16(b + 1 + 4, 20);
	b[1 + 6] = 6;
	b[1 + 7] = 64;
	memcpy(b + 1 + 8, c6, 16);
	memcpy(b + 1 + 24, d6, 16);
	put_be16(b + 1 + 40, 40000);
	put_be16(b + 1 + 42, 22);
	b[1 + 52] = 0x50;
	b[1 + 53] = 0x02;
	put("filter", "in-v6-syn", b, 1 + 60);
	/* IPv6 with a hop-by-hop header in front of TCP */
	b[1 + 6] = 0;
	put("filter", "in-v6-hbh", b, 1 + 60);
}

/* ---- netlink messages for nlmon ---------------------------------------- */
static void nlmon(void)
{
	uint32_t buf[64];
	uint8_t *b = (uint8_t *)buf;
	struct nlmsghdr *h = (struct nlmsghdr *)buf;

	memset(buf, 0, sizeof(buf));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)) + 8;
	h->nlmsg_type = RTM_NEWADDR;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	ifa->ifa_family = AF_INET;
	ifa->ifa_index = 2;
	struct rtattr *rta = (struct rtattr *)(b + NLMSG_LENGTH(sizeof(*ifa)));
	rta->rta_len = 8;
	rta->rta_type = IFA_LOCAL;
	memcpy(RTA_DATA(rta), "\xc0\x00\x02\x07", 4);
	put("nlmon", "newaddr", buf, h->nlmsg_len);
	memset(buf, 0, sizeof(buf));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)) + 8;
	h->nlmsg_type = RTM_NEWROUTE;
	struct rtmsg *rt = NLMSG_DATA(h);
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rta = (struct rtattr *)(b + NLMSG_LENGTH(sizeof(*rt)));
	rta->rta_len = 8;
	rta->rta_type = RTA_OIF;
	memcpy(RTA_DATA(rta), "\x02\0\0\0", 4);
	put("nlmon", "newroute", buf, h->nlmsg_len);
	memset(buf, 0, sizeof(buf));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	h->nlmsg_type = RTM_DELLINK;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	ifi->ifi_index = 1;
	put("nlmon", "dellink-lo", buf, h->nlmsg_len);
	memset(buf, 0xef, 16);
	b[16] = '\n';
	put("nlmon", "regress-negative-len", buf, 17);
}

/* ---- rotation proofs ------------------------------------------------- */
static void rot(void)
{
	struct identity *a = identity_generate("@bob"), *b = identity_generate("@bob");
	uint8_t p[CP_ROT_MAX];
	int n;

	if (!a || !b || (n = cp_rot_make(a, &b->pub, 1000, p, sizeof(p))) < 0)
		exit(1);
	put("cp_rot", "proof", p, (size_t)n);
	p[0] = 2;
	put("cp_rot", "bad-version", p, (size_t)n);
	identity_free(a);
	identity_free(b);
}

/* ---- control socket frames (portlessd) -------------------------------- */
static void ctl(void)
{
	static uint8_t b[CTL_FRAME_MAX];
	struct ctl_msg ms[5];
	const char *names[] = {"up", "down", "status", "ready", "error"};
	int n;

	memset(ms, 0, sizeof(ms));
	ms[0].type = CTL_UP;
	snprintf(ms[0].up.device, sizeof(ms[0].up.device), "@device");
	snprintf(ms[0].up.user, sizeof(ms[0].up.user), "alice");
	ms[0].up.flags = CTL_UP_DETACH | CTL_UP_FOLLOW_PID;
	ms[1].type = CTL_DOWN;
	snprintf(ms[1].down.target, sizeof(ms[1].down.target), "@device");
	ms[2].type = CTL_STATUS;
	ms[3].type = CTL_READY;
	snprintf(ms[3].ready.device, sizeof(ms[3].ready.device), "@device");
	snprintf(ms[3].ready.device_ip, sizeof(ms[3].ready.device_ip), "100.96.1.2");
	snprintf(ms[3].ready.client_ip, sizeof(ms[3].ready.client_ip), "100.127.0.1");
	snprintf(ms[3].ready.user, sizeof(ms[3].ready.user), "alice");
	snprintf(ms[3].ready.key_path, sizeof(ms[3].ready.key_path), "/run/portless/u1000/a.key");
	snprintf(ms[3].ready.known_hosts_path, sizeof(ms[3].ready.known_hosts_path),
		 "/run/portless/u1000/a.known_hosts");
	snprintf(ms[3].ready.host_alias, sizeof(ms[3].ready.host_alias), "@device");
	ms[4].type = CTL_ERROR;
	ms[4].error.hop = CTL_HOP_SR;
	snprintf(ms[4].error.text, sizeof(ms[4].error.text), "ticket refused");
	for (int i = 0; i < 5; i++) {
		n = ctl_encode(&ms[i], b, sizeof(b));
		if (n > 0)
			put("ctl", names[i], b, (size_t)n);
		else
			fprintf(stderr, "ctl %s: %d (skipped)\n", names[i], n);
	}
}

/* ---- dp: operation lists -------------------------------------------- */
static void dp(void)
{
	static const uint8_t data[] = {1, 8, 'p', 'o', 'r', 't', 'l', 'e', 's', 's'};
	static const uint8_t ka[] = {5, 1, DPC_KEEPALIVE};
	static const uint8_t rekey[] = {2, 0, 1, 4, 'd', 'a', 't', 'a'};
	static const uint8_t tamper[] = {1 | 8 | 0x30, 4, 'a', 'b', 'c', 'd'};
	static const uint8_t close_[] = {3, 2, DPC_CLOSE, 0};
	static const uint8_t raw[] = {0, 32, 0x10, 0,  0,  0,  0,  0,  0,  42, 0, 0,
				      0, 0,  0,    0,  0,  1,  1,  2,  3,  4,  5, 6,
				      7, 8,  9,    10, 11, 12, 13, 14, 15, 16};

	put("dp", "data", data, sizeof(data));
	put("dp", "keepalive", ka, sizeof(ka));
	put("dp", "rekey-then-data", rekey, sizeof(rekey));
	put("dp", "tamper", tamper, sizeof(tamper));
	put("dp", "close", close_, sizeof(close_));
	put("dp", "raw", raw, sizeof(raw));
}

int main(int argc, char **argv)
{
	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	cp_msgs();
	cp_hs();
	sr_side();
	tickets();
	sessions();
	filter();
	nlmon();
	dp();
	rot();
	ctl();
	return 0;
}
