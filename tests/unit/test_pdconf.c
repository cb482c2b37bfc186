/* SPDX-License-Identifier: MIT */
/* pdconf: a full good config, defaults, and bad configs rejected with the line named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdconf.h"

#define CP                                                                                         \
	"[controlplane]\naddress = 192.0.2.1:7443\nserver-key = "                                  \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

static const char GOOD[] =
    "; portlessd test config\n"
    "# comment\n"
    "[identity]\n"
    "keys = /var/lib/portless-test\n"
    "\n" CP "[device]\n"
    "enabled = yes\n"
    "virtual-prefix = 100.96.0.0/12\n"
    "virtual-prefix6 = fd12:3456::/32\n"
    "address-alternative = 2\n"
    "allowed-ports = 22, 2222\n"
    "max-sessions = 4\n"
    "idle-timeout = 5m\n"
    "max-duration = 12h\n"
    "sshd-host-keys = /etc/ssh/ssh_host_ed25519_key.pub,/etc/ssh/ssh_host_rsa_key.pub\n"
    "[allow @alice]\n"
    "users = alice , bob\n"
    "[allow @ops-team]\n"
    "users = deploy ; inline comment\n"
    "[client]\n"
    "enabled = on\n"
    "socket = /run/pl/test.sock\n"
    "group = portless\n"
    "sr = @relay,@relay2\n"
    "[interface]\n"
    "ifup = /usr/local/lib/portless/portless-ifup\n"
    "ifdown = /usr/local/lib/portless/portless-ifdown\n"
    "script-timeout = 10s\n"
    "[session]\n"
    "rekey-after = 10m\n"
    "rekey-packets = 100000\n";

static struct pdconf *parse(const char *text, int want, char *err)
{
	struct pdconf *c = malloc(sizeof(*c));

	assert_non_null(c);
	assert_int_equal(pdconf_parse(c, "portlessd.conf", text, strlen(text), err, PDCONF_ERR_BUF),
			 want);
	return c;
}

static void test_good(void **state)
{
	char err[PDCONF_ERR_BUF];
	struct pdconf *c = parse(GOOD, 0, err);

	assert_string_equal(err, "");
	assert_string_equal(c->keys_dir, "/var/lib/portless-test");
	assert_string_equal(c->cp_address, "192.0.2.1:7443");
	for (int i = 0; i < 32; i++)
		assert_int_equal(c->cp_server_key[i], i);
	assert_true(c->device_enabled);
	assert_int_equal(c->prefix_addr, 0x64600000);
	assert_int_equal(c->prefix_len, 12);
	assert_int_equal(c->prefix6_len, 32);
	assert_int_equal(c->prefix6[0], 0xfd);
	assert_int_equal(c->prefix6[3], 0x56);
	assert_int_equal(c->addr_alt, 2);
	assert_int_equal(c->n_ports, 2);
	assert_int_equal(c->ports[1], 2222);
	assert_int_equal(c->max_sessions, 4);
	assert_int_equal(c->idle_timeout, 300);
	assert_int_equal(c->max_duration, 43200);
	assert_int_equal(c->n_host_keys, 2);
	assert_string_equal(c->host_keys[1], "/etc/ssh/ssh_host_rsa_key.pub");
	assert_int_equal(c->n_allow, 2);
	assert_true(pdconf_user_allowed(c, "@alice", "bob"));
	assert_true(pdconf_user_allowed(c, "@ops-team", "deploy"));
	assert_false(pdconf_user_allowed(c, "@ops-team", "alice"));
	assert_false(pdconf_user_allowed(c, "@mallory", "alice"));
	assert_null(pdconf_find_allow(c, "@mallory"));
	assert_true(pdconf_port_allowed(c, 2222));
	assert_false(pdconf_port_allowed(c, 80));
	/* authorized-keys-users defaults to every allowed user, once */
	assert_int_equal(c->n_ak_users, 3);
	assert_string_equal(c->ak_users[0], "alice");
	assert_string_equal(c->ak_users[2], "deploy");
	assert_true(c->client_enabled);
	assert_string_equal(c->socket_path, "/run/pl/test.sock");
	assert_string_equal(c->socket_group, "portless");
	assert_int_equal(c->n_sr, 2);
	assert_string_equal(c->sr[1], "@relay2");
	assert_string_equal(c->ifup, "/usr/local/lib/portless/portless-ifup");
	assert_string_equal(c->ifdown, "/usr/local/lib/portless/portless-ifdown");
	assert_int_equal(c->script_timeout, 10);
	assert_int_equal(c->rekey_after, 600);
	assert_int_equal(c->rekey_packets, 100000);
	free(c);
}

static void test_defaults(void **state)
{
	char err[PDCONF_ERR_BUF];
	struct pdconf *c = parse(CP "[client]\nenabled = yes\nsr = @relay\n", 0, err);

	assert_string_equal(c->keys_dir, "/var/lib/portless");
	assert_false(c->device_enabled);
	assert_int_equal(c->prefix_addr, 0x64400000);
	assert_int_equal(c->prefix_len, 10);
	assert_int_equal(c->n_ports, 1);
	assert_int_equal(c->ports[0], 22);
	assert_int_equal(c->max_sessions, 16);
	assert_int_equal(c->idle_timeout, 1800);
	assert_int_equal(c->max_duration, 43200);
	assert_string_equal(c->host_keys[0], "/etc/ssh/ssh_host_ed25519_key.pub");
	assert_string_equal(c->socket_path, "/run/portless/portlessd.sock");
	assert_string_equal(c->socket_group, "");
	assert_string_equal(c->ifup, "");
	assert_string_equal(c->ifdown, "");
	assert_int_equal(c->script_timeout, 5);
	assert_int_equal(c->rekey_after, 120);
	assert_true(c->rekey_packets == 1ull << 32);
	free(c);
}

static void test_durations(void **state)
{
	unsigned v;

	assert_true(pdconf_parse_duration("90", &v) && v == 90);
	assert_true(pdconf_parse_duration("30s", &v) && v == 30);
	assert_true(pdconf_parse_duration("5m", &v) && v == 300);
	assert_true(pdconf_parse_duration("12h", &v) && v == 43200);
	assert_true(pdconf_parse_duration("30d", &v) && v == 2592000);
	assert_false(pdconf_parse_duration("31d", &v));
	assert_false(pdconf_parse_duration("0s", &v));
	assert_false(pdconf_parse_duration("-5m", &v));
	assert_false(pdconf_parse_duration("5x", &v));
	assert_false(pdconf_parse_duration("m", &v));
	assert_false(pdconf_parse_duration("", &v));
	assert_false(pdconf_parse_duration("1 h", &v));
	assert_false(pdconf_parse_duration("99999999999999s", &v));
}

/* Each bad config and the exact error it must give. */
static const struct {
	const char *text, *err;
} BAD[] = {
    {CP "[device]\nvirtual-prefix6 = 2001:db8::/48\n",
     "portlessd.conf:5: virtual-prefix6 '2001:db8::/48' is not a unique local (fc00::/7) prefix: "
     "\"virtual-prefix6 = 2001:db8::/48\""},
    {CP "[device]\nvirtual-prefix6 = fd00::1/64\n",
     "portlessd.conf:5: virtual-prefix6 'fd00::1/64' has host bits set: \"virtual-prefix6 = "
     "fd00::1/64\""},
    {CP "[device]\naddress-alternative = 16\n",
     "portlessd.conf:5: address-alternative must be 0..15: \"address-alternative = 16\""},
    {CP "[session]\nrekey-packets = 10\n",
     "portlessd.conf:5: rekey-packets must be 1000..4294967296: \"rekey-packets = 10\""},
    {CP "[session]\nrekey-after = 2d\n",
     "portlessd.conf:5: rekey-after must be 5s..1d: \"rekey-after = 2d\""},
    {CP "[device]\nenabled = yes\nfoo = 1\n",
     "portlessd.conf:6: unknown key 'foo' in [device]: \"foo = 1\""},
    {CP "[devices]\nenabled = yes\n",
     "portlessd.conf:5: unknown section [devices]: \"enabled = yes\""},
    {"keys = /x\n" CP, "portlessd.conf:1: key 'keys' outside any section: \"keys = /x\""},
    {CP "[client]\nenabled = yes\nsr = relay\n",
     "portlessd.conf:6: invalid SR handle 'relay': \"sr = relay\""},
    {CP "[device]\nallowed-ports = 22,70000\n",
     "portlessd.conf:5: invalid port '70000' (1..65535): \"allowed-ports = 22,70000\""},
    {CP "[device]\nallowed-ports = 22,,23\n",
     "portlessd.conf:5: empty item in 'allowed-ports': \"allowed-ports = 22,,23\""},
    {CP "[device]\nidle-timeout = 5 minutes\n",
     "portlessd.conf:5: invalid duration '5 minutes' for 'idle-timeout' (e.g. 30s, 5m, 12h, 1d; "
     "at most 30d): \"idle-timeout = 5 minutes\""},
    {CP "[device]\nenabled = maybe\n",
     "portlessd.conf:5: 'enabled' must be yes or no, not 'maybe': \"enabled = maybe\""},
    {CP "[device]\nenabled = yes\nenabled = no\n",
     "portlessd.conf:6: duplicate key 'enabled' in [device]: \"enabled = no\""},
    {CP "[allow @Alice]\nusers = alice\n",
     "portlessd.conf:5: invalid client handle '@Alice' in [allow @Alice]: \"users = alice\""},
    {CP "[allow @alice]\nusers = alice,root;x\n",
     "portlessd.conf:5: invalid user name 'root;x' in 'users': \"users = alice,root;x\""},
    {CP "[allow @alice]\nusers = alice\n[allow @alice]\nusers = bob\n",
     "portlessd.conf:7: duplicate key 'users' for [allow @alice]: \"users = bob\""},
    {CP "[allow @alice]\nshell = /bin/sh\n",
     "portlessd.conf:5: unknown key 'shell' in [allow @alice]: \"shell = /bin/sh\""},
    {CP "[device]\nvirtual-prefix = 100.64.0.1/10\n",
     "portlessd.conf:5: virtual-prefix '100.64.0.1/10' has host bits set: \"virtual-prefix = "
     "100.64.0.1/10\""},
    {CP "[identity]\nkeys = relative/dir\n",
     "portlessd.conf:5: 'relative/dir' is not an absolute path: \"keys = relative/dir\""},
    {"[controlplane]\naddress = example.com:443\n",
     "portlessd.conf:2: address 'example.com:443' is not host:port (numeric host): \"address = "
     "example.com:443\""},
    {"[controlplane]\nserver-key = AAAA\n",
     "portlessd.conf:2: server-key must be 32 bytes in base64: \"server-key = AAAA\""},
    {CP "[device\nenabled = yes\n",
     "portlessd.conf:4: expected 'key = value' or '[section]': \"[device\""},
    {CP "[device]\njust words\n",
     "portlessd.conf:5: expected 'key = value' or '[section]': \"just words\""},
    {CP "[device]\nmax-sessions = 0\n",
     "portlessd.conf:5: max-sessions must be 1..1024: \"max-sessions = 0\""},
    {CP "[interface]\nifup = portless-ifup\n",
     "portlessd.conf:5: 'portless-ifup' is not an absolute path: \"ifup = portless-ifup\""},
    {CP "[interface]\nscript-timeout = 2m\n",
     "portlessd.conf:5: script-timeout 120s is above 60s (the daemon waits for it): "
     "\"script-timeout = 2m\""},
    {CP "[interface]\nifup = /a\nifup = /b\n",
     "portlessd.conf:6: duplicate key 'ifup' in [interface]: \"ifup = /b\""},
    /* a continuation line is not a second value */
    {CP "[allow @alice]\nusers = alice\n  bob\n",
     "portlessd.conf:6: duplicate key 'users' for [allow @alice]: \"  bob\""},
    /* cross-field checks */
    {"[controlplane]\naddress = 192.0.2.1:7443\n[client]\nenabled = yes\nsr = @r\n",
     "portlessd.conf: [controlplane] needs both 'address' and 'server-key'"},
    {CP, "portlessd.conf: neither [device] nor [client] is enabled"},
    {CP "[device]\nenabled = yes\n",
     "portlessd.conf: [device] is enabled but no [allow @handle] section names a client"},
    {CP "[client]\nenabled = yes\n",
     "portlessd.conf: [client] is enabled but 'sr' names no socket rendezvous"},
    {CP "[device]\nenabled = yes\nidle-timeout = 2h\nmax-duration = 1h\n[allow @a]\nusers = a\n",
     "portlessd.conf: idle-timeout is longer than max-duration"},
    {CP "[device]\nenabled = yes\nauthorized-keys-users = alice\n[allow @a]\nusers = alice,bob\n",
     "portlessd.conf: user 'bob' of [allow @a] is missing from authorized-keys-users in [device]"},
};

static void test_bad(void **state)
{
	char err[PDCONF_ERR_BUF];

	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		struct pdconf *c = parse(BAD[i].text, -EINVAL, err);

		if (strcmp(err, BAD[i].err) != 0)
			fail_msg("bad config %zu:\n got: %s\nwant: %s", i, err, BAD[i].err);
		free(c);
	}
}

/* [local] rules: who on this client may ask for what (the default, users, groups, root). */
static void test_local_rules(void **state)
{
	static const char TEXT[] =
	    CP "[client]\nenabled = yes\nsr = @relay\n"
	       "[local alice]\ndevices = @web, @db\nas = %self, deploy\n"
	       "[local %ops]\nas = *\n"
	       "[local carol]\nas = root\ndevices = @db\n"
	       "[allow @alice]\nusers = alice\nkey = PL:0123-4567-89ab-cdef-0123-4567-89AB-cdef\n";
	const char *ops[] = {"users", "ops"}, *none[] = {"users"};
	char err[PDCONF_ERR_BUF], why[256];
	struct pdconf *c = parse(TEXT, 0, err);

	assert_string_equal(c->allow[0].key, "pl:0123-4567-89ab-cdef-0123-4567-89ab-cdef");
	/* no rule: own name only, never root; local root any name but root */
	assert_true(pdconf_local_allowed(c, "bob", none, 1, "@web", "bob", why, sizeof(why)));
	assert_false(pdconf_local_allowed(c, "bob", none, 1, "@web", "alice", why, sizeof(why)));
	assert_non_null(strstr(why, "[local bob] with as = alice"));
	assert_false(pdconf_local_allowed(c, "bob", none, 1, "@web", "root", why, sizeof(why)));
	assert_true(pdconf_local_allowed(c, "root", none, 1, "@web", "bob", why, sizeof(why)));
	assert_false(pdconf_local_allowed(c, "root", none, 1, "@web", "root", why, sizeof(why)));
	/* a user rule: its devices and names only (its own name included via %self) */
	assert_true(pdconf_local_allowed(c, "alice", none, 1, "@db", "deploy", why, sizeof(why)));
	assert_true(pdconf_local_allowed(c, "alice", none, 1, "@web", "alice", why, sizeof(why)));
	assert_false(
	    pdconf_local_allowed(c, "alice", none, 1, "@other", "alice", why, sizeof(why)));
	assert_false(pdconf_local_allowed(c, "alice", none, 1, "@db", "root", why, sizeof(why)));
	/* a group rule: '*' is any name but root */
	assert_true(pdconf_local_allowed(c, "dave", ops, 2, "@x", "deploy", why, sizeof(why)));
	assert_false(pdconf_local_allowed(c, "dave", ops, 2, "@x", "root", why, sizeof(why)));
	/* root only where a rule names it */
	assert_true(pdconf_local_allowed(c, "carol", none, 1, "@db", "root", why, sizeof(why)));
	assert_false(pdconf_local_allowed(c, "carol", none, 1, "@web", "root", why, sizeof(why)));
	free(c);
	c = parse(CP "[client]\nenabled = yes\nsr = @r\n[local x]\ndevices = *\n", -EINVAL, err);
	assert_string_equal(err, "portlessd.conf: [local x] has no 'as'");
	free(c);
	c = parse(CP "[client]\nenabled = yes\nsr = @r\n[local x]\nas = y\nfoo = 1\n", -EINVAL,
		  err);
	assert_non_null(strstr(err, "unknown key 'foo' in [local x]"));
	free(c);
	c = parse(CP "[device]\nenabled = yes\n[allow @a]\nusers = a\nkey = pl:1234\n", -EINVAL,
		  err);
	assert_non_null(strstr(err, "invalid key fingerprint 'pl:1234' in [allow @a]"));
	free(c);
	c = parse(CP "[device]\nenabled = yes\n[allow @a]\nkey = "
		     "pl:0123-4567-89ab-cdef-0123-4567-89ab-cdef\n",
		  -EINVAL, err);
	assert_string_equal(err, "portlessd.conf: [allow @a] has no 'users'");
	free(c);
}

/* A handle longer than inih's section buffer must not be truncated into another handle. */
static void test_long_section(void **state)
{
	char text[1024], err[PDCONF_ERR_BUF];
	struct pdconf *c;

	snprintf(text, sizeof(text), CP "[allow @%s]\nusers = alice\n",
		 "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee1234");
	c = parse(text, -EINVAL, err);
	assert_non_null(strstr(err, "portlessd.conf:5: section name too long or malformed"));
	assert_int_equal(c->n_allow, 0);
	free(c);
}

static void test_long_line_and_nul(void **state)
{
	char text[1024], err[PDCONF_ERR_BUF];
	struct pdconf *c = malloc(sizeof(*c));

	memset(text, 0, sizeof(text));
	snprintf(text, sizeof(text), CP "[device]\nsshd-host-keys = /%0200d\n", 0);
	assert_int_equal(pdconf_parse(c, "x.conf", text, strlen(text), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "x.conf:5: line longer than 190 characters"));
	memcpy(text, "[device]\nenabled = y\0es\n", 24);
	assert_int_equal(pdconf_parse(c, "x.conf", text, 24, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "x.conf:2: NUL byte in the file"));
	free(c);
}

static void test_load(void **state)
{
	char path[] = "/tmp/pl-pdconf-XXXXXX", err[PDCONF_ERR_BUF];
	struct pdconf *c = malloc(sizeof(*c));
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, GOOD, strlen(GOOD)), (ssize_t)strlen(GOOD));
	close(fd);
	assert_int_equal(pdconf_load(c, path, err, sizeof(err)), 0);
	assert_int_equal(c->n_allow, 2);
	unlink(path);
	assert_int_equal(pdconf_load(c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
	assert_int_equal(pdconf_load(c, "/tmp", err, sizeof(err)), -EINVAL);
	free(c);
}

/* Text without a final NUL or newline (as from a file): regressions found by fuzz_pdconf. */
static void test_unterminated(void **state)
{
	static const char *const texts[] = {"[identity]\n ", "\xfe", "[device]\nenabled = yes", "[",
					    "x"};
	char err[PDCONF_ERR_BUF];
	struct pdconf *c = malloc(sizeof(*c));

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);
		char *t = malloc(n); /* exact size: ASan catches a read past it */

		memcpy(t, texts[i], n);
		assert_int_equal(pdconf_parse(c, "u.conf", t, n, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "u.conf"));
		free(t);
	}
	free(c);
}

/* The shipped example must stay valid. */
static void test_example(void **state)
{
	const char *src = __FILE__, *cut = strstr(src, "tests/unit/");
	char path[4096], err[PDCONF_ERR_BUF];
	struct pdconf *c = malloc(sizeof(*c));

	/* the source tree from this file's own (absolute, as CMake compiles it) path */
	snprintf(path, sizeof(path), "%.*sscripts/portlessd.conf.example",
		 cut ? (int)(cut - src) : 0, src);
	if (pdconf_load(c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(c->device_enabled && c->client_enabled);
	assert_true(pdconf_user_allowed(c, "@ops", "deploy"));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),         cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_durations),    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_long_section), cmocka_unit_test(test_long_line_and_nul),
	    cmocka_unit_test(test_load),         cmocka_unit_test(test_example),
	    cmocka_unit_test(test_unterminated), cmocka_unit_test(test_local_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
