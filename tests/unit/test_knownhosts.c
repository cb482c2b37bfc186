/* SPDX-License-Identifier: MIT */
/* knownhosts: exact text, the '@' marker pitfall, and ssh-keygen -F finding the alias. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knownhosts.h"

static const char ED[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea root@dev";
static const char ED2[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3ec2nrpX2bt4aFEfJHaCBTvg8GUeMT3h2e8ffRf6Hu";

static void test_host_field(void **state)
{
	char out[KNOWNHOSTS_HOST_BUF];

	assert_int_equal(knownhosts_host_field("@dev", out, sizeof(out)), 0);
	assert_string_equal(out, "[@dev]:0,@dev");
	assert_int_equal(knownhosts_host_field("dev.portless", out, sizeof(out)), 0);
	assert_string_equal(out, "dev.portless");
	assert_int_equal(knownhosts_host_field("@Dev", out, sizeof(out)), -EINVAL);
	assert_int_equal(knownhosts_host_field("a b", out, sizeof(out)), -EINVAL);
	assert_int_equal(knownhosts_host_field("a,b", out, sizeof(out)), -EINVAL);
	assert_int_equal(knownhosts_host_field("", out, sizeof(out)), -EINVAL);
	assert_int_equal(knownhosts_host_field("@dev", out, 5), -ENOSPC);
}

static void test_format(void **state)
{
	struct sshkey_pub k[2];
	char out[4096];

	assert_int_equal(sshkey_pub_parse(ED, &k[0]), 0);
	assert_int_equal(sshkey_pub_parse(ED2, &k[1]), 0);
	assert_int_equal(knownhosts_format("@dev", k, 2, out, sizeof(out)), 0);
	assert_string_equal(
	    out, "# portless: host keys of @dev (signed device record)\n"
		 "[@dev]:0,@dev ssh-ed25519 "
		 "AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea\n"
		 "[@dev]:0,@dev ssh-ed25519 "
		 "AAAAC3NzaC1lZDI1NTE5AAAAIB3ec2nrpX2bt4aFEfJHaCBTvg8GUeMT3h2e8ffRf6Hu\n");
	/* no line may start with '@' (a known_hosts marker) */
	for (const char *p = out; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		assert_true(*p != '@');
	assert_int_equal(knownhosts_format("@dev", k, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(knownhosts_format("@dev", k, 2, out, 100), -ENOSPC);
}

/* OpenSSH itself finds the alias in our file (and would not in the naive '@dev key' form). */
static void test_ssh_keygen_finds_alias(void **state)
{
	char dir[] = "/tmp/pl-kh-XXXXXX", path[256], cmd[1024];
	struct sshkey_pub k;
	struct stat st;

	if (system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sshkey_pub_parse(ED, &k), 0);
	assert_int_equal(knownhosts_write_user(getuid(), getgid(), dir, "s.known_hosts", "@dev", &k,
					       1, path, sizeof(path)),
			 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -F @dev -f %s | grep -q 'Host @dev found'", path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -F @devx -f %s | grep -q found", path);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -F dev -f %s | grep -q found", path);
	assert_int_not_equal(system(cmd), 0);
	/* the naive form is invisible to OpenSSH: the reason for the pattern list */
	snprintf(cmd, sizeof(cmd),
		 "echo '@dev %s' > %s.naive && ssh-keygen -F @dev -f %s.naive | grep -q found", ED2,
		 path, path);
	assert_int_not_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_field),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_ssh_keygen_finds_alias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
