#!/usr/bin/env bash
# `portless ssh` run as root with no portlessd on the client: it runs the
# client role itself (a private one-shot daemon on a private socket), the
# command works, and when ssh exits the private daemon, its TUN and its
# files are gone.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_find_build || exit 1
pl_tmp
trap pl_cleanup EXIT
PL_USER=pl$$u
pl_topology_up
pl_world
pl_user "$PL_USER"
pl_device "$PL_USER"

out=$(ip netns exec "$PL_NS_CLI" env -u PORTLESS_SOCKET PORTLESS_KEYS="$PL_TMP/alice" \
	timeout 60 "$PL_BIN/portless" ssh "$PL_USER@@device" --sr @relay -- 'echo private-ok' \
	2>"$PL_TMP/private.err")
rc=$?
cat "$PL_TMP/private.err"
pl_check "the command ran on the device (rc $rc)" test "$out" = "private-ok"
pl_check "it said it runs the client role itself" grep -q "running the client role myself" "$PL_TMP/private.err"
for _ in $(seq 1 50); do
	[ -z "$(ls -d /run/portless/private-* 2>/dev/null)" ] && [ "$(pl_tun_count "$PL_NS_CLI")" -eq 0 ] && break
	sleep 0.1
done
pl_check "the private daemon's directory is gone" test -z "$(ls -d /run/portless/private-* 2>/dev/null)"
pl_check "no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0
pl_check "no key line left on the device" test "$(pl_key_lines "$PL_USER")" -eq 0
pl_finish
