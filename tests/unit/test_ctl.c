/* SPDX-License-Identifier: MIT */
/* ctl: wire codec (known bytes, round trips, rejects), libev server over socketpair(), user files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

static const uint8_t SID[CTL_SID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_up_known_bytes(void **state)
{
	struct ctl_msg m = {.type = CTL_UP}, d;
	/* ... flags, then str8 relay ("" = the daemon's list) */
	static const uint8_t want[] = {0x00, 0x12, 1,   CTL_UP, 4,   '@', 'd', 'e', 'v', 5,
				       'a',  'l',  'i', 'c',    'e', 0,   0,   0,   1,   0};
	uint8_t buf[CTL_FRAME_MAX];
	size_t used;

	strcpy(m.up.device, "@dev");
	strcpy(m.up.user, "alice");
	m.up.flags = CTL_UP_DETACH;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* every strict prefix asks for more; the whole frame decodes */
	for (size_t i = 0; i < sizeof(want); i++)
		assert_int_equal(ctl_decode(want, i, &d, &used), 0);
	assert_int_equal(ctl_decode(want, sizeof(want), &d, &used), 1);
	assert_int_equal(used, sizeof(want));
	assert_string_equal(d.up.device, "@dev");
	assert_string_equal(d.up.user, "alice");
	assert_int_equal(d.up.flags, CTL_UP_DETACH);
	assert_int_equal(ctl_encode(&m, buf, 10), -ENOSPC);
}

static void roundtrip(const struct ctl_msg *m)
{
	uint8_t buf[CTL_FRAME_MAX + 8];
	struct ctl_msg d;
	size_t used;
	int n = ctl_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	buf[n] = 0xee; /* the next frame's first byte must not be consumed */
	assert_int_equal(ctl_decode(buf, (size_t)n + 1, &d, &used), 1);
	assert_int_equal(used, n);
	assert_memory_equal(&d, m, sizeof(d));
}

static void test_roundtrip_all(void **state)
{
	struct ctl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = CTL_STATUS;
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_DOWN;
	strcpy(m.down.target, "0102030405060708090a0b0c0d0e0f10");
	roundtrip(&m);
	memset(m.down.target, 0, sizeof(m.down.target));
	strcpy(m.down.target, "@device-1");
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_PROGRESS;
	m.progress.hop = CTL_HOP_SR;
	strcpy(m.progress.text, "waiting for a ticket from @relay");
	roundtrip(&m);
	m.type = CTL_ERROR;
	m.error.hop = CTL_HOP_DEVICE_ANSWER;
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_READY;
	memcpy(m.ready.sid, SID, sizeof(SID));
	strcpy(m.ready.device, "@dev");
	strcpy(m.ready.device_ip, "100.100.1.2");
	strcpy(m.ready.client_ip, "100.127.0.9");
	strcpy(m.ready.user, "alice");
	strcpy(m.ready.key_path, "/run/portless/u1000/0102.key");
	strcpy(m.ready.known_hosts_path, "/run/portless/u1000/0102.known_hosts");
	strcpy(m.ready.host_alias, "@dev");
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_STATUS_ROW;
	memcpy(m.row.sid, SID, sizeof(SID));
	m.row.role = CTL_ROLE_DEVICE;
	m.row.state = CTL_STATE_UP;
	m.row.transport = CTL_TRANSPORT_TCP;
	strcpy(m.row.peer, "@alice");
	strcpy(m.row.user, "alice");
	strcpy(m.row.device_ip, "fd00::1");
	strcpy(m.row.client_ip, "fd00::2");
	m.row.bytes_in = 0x0102030405060708ull;
	m.row.bytes_out = 99;
	m.row.age = 3600;
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_ENDED;
	memcpy(m.ended.sid, SID, sizeof(SID));
	m.ended.hop = CTL_HOP_TUNNEL;
	strcpy(m.ended.text, "idle");
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = CTL_STATUS_END;
	m.count = 513;
	roundtrip(&m);
	m.type = CTL_DOWN_OK;
	roundtrip(&m);
}

/* Patch one byte of a good UP frame and expect @p err. */
static void expect_bad(size_t off, uint8_t v, int err)
{
	struct ctl_msg m = {.type = CTL_UP}, d;
	uint8_t buf[64];
	size_t used = 7;
	int n;

	strcpy(m.up.device, "@dev");
	n = ctl_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	buf[off] = v;
	assert_int_equal(ctl_decode(buf, (size_t)n, &d, &used), err);
	assert_int_equal(used, 0);
}

static void test_decode_rejects(void **state)
{
	uint8_t big[4] = {0xff, 0xff, 1, CTL_STATUS}, tiny[4] = {0, 1, 1, 0},
		trail[8] = {0, 3, 1, CTL_STATUS, 0};
	struct ctl_msg d;
	size_t used;

	expect_bad(2, 2, -EPROTO);    /* version */
	expect_bad(3, 99, -EBADMSG);  /* unknown type */
	expect_bad(5, 'D', -EBADMSG); /* "@Dev": not a handle */
	expect_bad(4, 40, -EBADMSG);  /* string longer than the frame */
	expect_bad(6, 0, -EBADMSG);   /* NUL inside a string */
	expect_bad(1, 7, -EBADMSG);   /* frame shorter than its fields */
	assert_int_equal(ctl_decode(big, sizeof(big), &d, &used), -EMSGSIZE);
	assert_int_equal(ctl_decode(tiny, sizeof(tiny), &d, &used), -EMSGSIZE);
	assert_int_equal(ctl_decode(trail, 5, &d, &used), -EBADMSG); /* trailing byte */
	/* hop out of range */
	uint8_t hop[] = {0, 5, 1, CTL_ERROR, CTL_HOP_MAX + 1, 0, 0};
	assert_int_equal(ctl_decode(hop, sizeof(hop), &d, &used), -EBADMSG);
	hop[4] = CTL_HOP_MAX;
	assert_int_equal(ctl_decode(hop, sizeof(hop), &d, &used), 1);
}

static void test_encode_rejects(void **state)
{
	struct ctl_msg m = {.type = CTL_UP};
	uint8_t buf[CTL_FRAME_MAX];

	strcpy(m.up.device, "dev");
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
	strcpy(m.up.device, "@dev");
	strcpy(m.up.user, "-rf");
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.up.user[0] = '\0';
	assert_true(ctl_encode(&m, buf, sizeof(buf)) > 0);
	memset(m.up.user, 'a', sizeof(m.up.user)); /* no NUL */
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CTL_DOWN;
	strcpy(m.down.target, "0102");
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = 77;
	assert_int_equal(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(ctl_hop_name(CTL_HOP_DEVICE_ANSWER), "device answer");
	assert_string_equal(ctl_hop_name(200), "unknown");
}

/* ---- server over socketpair() ---- */

struct srvfx {
	struct ev_loop *loop;
	struct ctl_server srv;
	struct ctl_peer *peer;
	struct ctl_client cl;
	int requests, closes;
	uint8_t last_type;
	bool close_in_request;
};

static int on_request(struct ctl_peer *p, const struct ctl_msg *m)
{
	struct srvfx *f = p->srv->ctx;
	struct ctl_msg r;

	f->requests++;
	f->last_type = m->type;
	if (f->close_in_request) {
		ctl_peer_close(p);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	if (m->type == CTL_UP) {
		r.type = CTL_PROGRESS;
		r.progress.hop = CTL_HOP_HOME;
		snprintf(r.progress.text, sizeof(r.progress.text), "uid %u asks for %s",
			 (unsigned)p->uid, m->up.device);
		assert_int_equal(ctl_peer_send(p, &r), 0);
		memset(&r, 0, sizeof(r));
		r.type = CTL_READY;
		strcpy(r.ready.device, m->up.device);
		strcpy(r.ready.device_ip, "100.64.0.1");
		assert_int_equal(ctl_peer_send(p, &r), 0);
	} else if (m->type == CTL_STATUS) {
		for (int i = 0; i < 3; i++) {
			memset(&r, 0, sizeof(r));
			r.type = CTL_STATUS_ROW;
			r.row.role = CTL_ROLE_CLIENT;
			r.row.state = CTL_STATE_UP;
			r.row.age = (uint32_t)i;
			strcpy(r.row.peer, "@dev");
			assert_int_equal(ctl_peer_send(p, &r), 0);
		}
		memset(&r, 0, sizeof(r));
		r.type = CTL_STATUS_END;
		r.count = 3;
		assert_int_equal(ctl_peer_send(p, &r), 0);
	}
	return 0;
}

static void on_close(struct ctl_peer *p)
{
	struct srvfx *f = p->srv->ctx;

	f->closes++;
}

static const struct ctl_server_ops OPS = {.on_request = on_request, .on_close = on_close};

static void pump(struct srvfx *f)
{
	for (int i = 0; i < 20; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
}

static int srv_setup(void **state)
{
	struct srvfx *f = calloc(1, sizeof(*f));
	int sv[2];

	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->srv.fd = -1;
	f->srv.loop = f->loop;
	f->srv.ops = &OPS;
	f->srv.ctx = f;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (ctl_server_adopt(&f->srv, sv[0], &f->peer) < 0)
		return -1;
	ctl_client_init_fd(&f->cl, sv[1]);
	*state = f;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srvfx *f = *state;

	ctl_server_close(&f->srv);
	ctl_client_close(&f->cl);
	ev_loop_destroy(f->loop);
	free(f);
	return 0;
}

static void send_up(struct srvfx *f)
{
	struct ctl_msg m = {.type = CTL_UP};

	strcpy(m.up.device, "@dev");
	assert_int_equal(ctl_client_send(&f->cl, &m), 0);
}

static void test_server_up(void **state)
{
	struct srvfx *f = *state;
	struct ctl_msg m;
	char want[64];

	assert_int_equal(f->peer->uid, getuid());
	assert_int_equal(f->peer->pid, getpid());
	send_up(f);
	pump(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), 0);
	assert_int_equal(m.type, CTL_PROGRESS);
	assert_int_equal(m.progress.hop, CTL_HOP_HOME);
	snprintf(want, sizeof(want), "uid %u asks for @dev", (unsigned)getuid());
	assert_string_equal(m.progress.text, want);
	assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), 0);
	assert_int_equal(m.type, CTL_READY);
	assert_string_equal(m.ready.device_ip, "100.64.0.1");
	assert_int_equal(ctl_client_recv(&f->cl, &m, 50), -ETIMEDOUT);
	assert_int_equal(f->closes, 0);
}

static void test_server_status_stream(void **state)
{
	struct srvfx *f = *state;
	struct ctl_msg m = {.type = CTL_STATUS};

	/* two requests in one write: both handled, replies in order */
	assert_int_equal(ctl_client_send(&f->cl, &m), 0);
	assert_int_equal(ctl_client_send(&f->cl, &m), 0);
	pump(f);
	assert_int_equal(f->requests, 2);
	for (int rep = 0; rep < 2; rep++) {
		for (uint32_t i = 0; i < 3; i++) {
			assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), 0);
			assert_int_equal(m.type, CTL_STATUS_ROW);
			assert_int_equal(m.row.age, i);
		}
		assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), 0);
		assert_int_equal(m.type, CTL_STATUS_END);
		assert_int_equal(m.count, 3);
	}
}

static void test_server_bad_frame_closes(void **state)
{
	struct srvfx *f = *state;
	static const uint8_t junk[] = {0, 2, 9, 9};
	struct ctl_msg m;

	assert_int_equal(write(f->cl.fd, junk, sizeof(junk)), sizeof(junk));
	pump(f);
	assert_int_equal(f->requests, 0);
	assert_int_equal(f->closes, 1);
	assert_null(f->srv.peers);
	assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), -ECONNRESET);
}

static void test_server_reply_as_request_closes(void **state)
{
	struct srvfx *f = *state;
	struct ctl_msg m = {.type = CTL_STATUS_END};

	assert_int_equal(ctl_client_send(&f->cl, &m), 0);
	pump(f);
	assert_int_equal(f->requests, 0);
	assert_int_equal(f->closes, 1);
}

static void test_server_close_inside_request(void **state)
{
	struct srvfx *f = *state;
	struct ctl_msg m;

	f->close_in_request = true;
	send_up(f);
	send_up(f); /* the second is never delivered: the peer is gone */
	pump(f);
	assert_int_equal(f->requests, 1);
	assert_int_equal(f->closes, 1);
	assert_null(f->srv.peers);
	assert_int_equal(ctl_client_recv(&f->cl, &m, 1000), -ECONNRESET);
}

static void test_server_client_hangs_up(void **state)
{
	struct srvfx *f = *state;

	ctl_client_close(&f->cl);
	pump(f);
	assert_int_equal(f->closes, 1);
	assert_null(f->srv.peers);
}

/* ---- a real listening socket ---- */

static void test_server_open(void **state)
{
	char dir[] = "/tmp/pl-ctl-XXXXXX", path[128];
	struct srvfx f = {0};
	struct ctl_msg m;
	struct stat st;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.sock", dir);
	f.loop = ev_loop_new(EVFLAG_AUTO);
	/* a regular file in the way is not replaced */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(ctl_server_open(&f.srv, f.loop, path, (gid_t)-1, &OPS, &f), -EEXIST);
	unlink(path);
	assert_int_equal(ctl_server_open(&f.srv, f.loop, path, (gid_t)-1, &OPS, &f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0666);
	assert_int_equal(ctl_client_open(&f.cl, path), 0);
	send_up(&f);
	pump(&f);
	assert_int_equal(ctl_client_recv(&f.cl, &m, 1000), 0);
	assert_int_equal(m.type, CTL_PROGRESS);
	ctl_server_close(&f.srv);
	assert_int_equal(f.closes, 1);
	assert_int_equal(access(path, F_OK), -1);
	ctl_client_close(&f.cl);
	/* a stale socket left by a crash is replaced; a group makes it 0660 */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(ctl_server_open(&f.srv, f.loop, path, getgid(), &OPS, &f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	ctl_server_close(&f.srv);
	ev_loop_destroy(f.loop);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- files handed to the caller ---- */

static void test_user_file(void **state)
{
	char dir[] = "/tmp/pl-ctlf-XXXXXX", path[256], sub[128], buf[16];
	uid_t uid = geteuid() == 0 ? 65534 : getuid();
	gid_t gid = geteuid() == 0 ? 65534 : getgid();
	struct stat st;
	int fd;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    ctl_write_user_file(uid, gid, dir, "k.key", "secret", 6, path, sizeof(path)), 0);
	snprintf(sub, sizeof(sub), "%s/u%u", dir, (unsigned)uid);
	snprintf(buf, sizeof(buf), "/u%u/k.key", (unsigned)uid);
	assert_non_null(strstr(path, buf));
	assert_int_equal(lstat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	assert_memory_equal(buf, "secret", 6);
	/* never overwritten, never through a symlink */
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "k.key", "x", 1, path, sizeof(path)),
			 -EEXIST);
	snprintf(path, sizeof(path), "%s/u%u/link", dir, (unsigned)uid);
	assert_int_equal(symlink("/tmp/pl-ctl-victim-nonexistent", path), 0);
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "link", "x", 1, path, sizeof(path)),
			 -EEXIST);
	assert_int_equal(access("/tmp/pl-ctl-victim-nonexistent", F_OK), -1);
	/* bad names */
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "../x", "x", 1, path, sizeof(path)),
			 -EINVAL);
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "..", "x", 1, path, sizeof(path)),
			 -EINVAL);
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "", "x", 1, path, sizeof(path)),
			 -EINVAL);
	/* removal */
	assert_int_equal(ctl_remove_user_file(uid, dir, "k.key"), 0);
	assert_int_equal(ctl_remove_user_file(uid, dir, "k.key"), 0);
	snprintf(path, sizeof(path), "%s/k.key", sub);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ctl_remove_user_file(uid, dir, "link"), 0);
	if (geteuid() == 0) {
		/* a directory that is not the user's is refused */
		assert_int_equal(chown(sub, 1234, 1234), 0);
		assert_int_equal(
		    ctl_write_user_file(uid, gid, dir, "y", "x", 1, path, sizeof(path)), -EPERM);
	}
	assert_int_equal(rmdir(sub), 0);
	/* u<uid> as a symlink to elsewhere is refused */
	assert_int_equal(symlink("/tmp", sub), 0);
	assert_int_equal(ctl_write_user_file(uid, gid, dir, "z", "x", 1, path, sizeof(path)),
			 -ELOOP);
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_up_known_bytes),
	    cmocka_unit_test(test_roundtrip_all),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_encode_rejects),
	    cmocka_unit_test_setup_teardown(test_server_up, srv_setup, srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_status_stream, srv_setup, srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_bad_frame_closes, srv_setup, srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_reply_as_request_closes, srv_setup,
					    srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_close_inside_request, srv_setup,
					    srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_client_hangs_up, srv_setup, srv_teardown),
	    cmocka_unit_test(test_server_open),
	    cmocka_unit_test(test_user_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
