#!/usr/bin/env bash
# Least privilege on the device through sshd's AuthorizedKeysCommand:
# with [device] authorized-keys = command, portlessd keeps the session key
# lines itself and sshd asks for them (`portless authorized-keys %u`, as
# AuthorizedKeysCommandUser); nothing is written into the user's home. The
# device daemon then runs as an unprivileged user with CAP_NET_ADMIN only
# (bounding set empty), no_new_privs and a seccomp filter; a login works end
# to end with real OpenSSH, the line carries from= and expiry-time and is
# gone the moment the session ends; only root and keys-user may ask the
# keys socket; a call outside the filter kills (seccomp_probe ep).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_find_build || exit 1
pl_tmp
AKC=/run/pl$$-akc
trap 'pl_cleanup; rm -rf "$AKC"' EXIT
trap 'exit 130' INT TERM
PL_USER=pl$$u
RUNAS=pl$$r
pl_topology_up
pl_world
pl_user "$PL_USER"
pl_user "$RUNAS"
# sshd runs the command only from a root-owned path no one else can write
mkdir -m 0755 "$AKC"
install -m 0755 "$PL_BIN/portless" "$AKC/portless"
KS=$PL_TMP/keys.sock
PL_SSHD_EXTRA="AuthorizedKeysFile none
AuthorizedKeysCommand $AKC/portless authorized-keys %u --socket $KS
AuthorizedKeysCommandUser nobody" \
	PL_DEV_EXTRA="authorized-keys = command
keys-socket = $KS
keys-user = nobody
run-as = $RUNAS" pl_device "$PL_USER"
pl_client

st=$(cat "/proc/$PL_DEV_PID/status")
field() { awk -v f="$1:" '$1==f{print $2}' <<<"$st"; }
pl_check "the device daemon runs as $RUNAS (uid $(field Uid))" \
	test "$(field Uid)" = "$(id -u "$RUNAS")"
pl_check "with CAP_NET_ADMIN only (CapEff $(field CapEff))" test "$(field CapEff)" = 0000000000001000
pl_check "and permitted the same, bounding set empty" \
	test "$(field CapPrm):$(field CapBnd)" = 0000000000001000:0000000000000000
pl_check "under a seccomp filter with no_new_privs" test "$(field Seccomp):$(field NoNewPrivs)" = 2:1
pl_check "it logged the drop" grep -q "privdrop: running as user $RUNAS .*CAP_NET_ADMIN only" \
	"$PL_TMP/portlessd-dev.log"

out=$(pl_ssh "$PL_USER" 'id -un; exit 5' 2>"$PL_TMP/ssh.err")
rc=$?
pl_check "a login through AuthorizedKeysCommand works ($out, exit $rc)" test "$out:$rc" = "$PL_USER:5"
pl_check "sshd found the key through the command" grep -q "AuthorizedKeysCommand\|Accepted publickey" "$PL_TMP/sshd.log"

pl_up up
UP_PID=$PL_UP_PID
lines=$(ip netns exec "$PL_NS_DEV" runuser -u nobody -- "$AKC/portless" authorized-keys "$PL_USER" --socket "$KS")
pl_check "the command prints the live session line" grep -q "portless-session:" <<<"$lines"
pl_check "...bound to the session's addresses, with an expiry" \
	grep -Eq 'from="100\.[0-9.]+,fd[0-9a-f:]+",expiry-time="[0-9]{14}Z"' <<<"$lines"
pl_check "nothing was written into the user's home" test "$(pl_key_lines "$PL_USER")" -eq 0
ip netns exec "$PL_NS_DEV" runuser -u "$PL_USER" -- "$AKC/portless" authorized-keys "$PL_USER" \
	--socket "$KS" >"$PL_TMP/other.out" 2>&1
pl_check "another local user may not ask the keys socket" \
	bash -c "test \$(grep -c portless-session: '$PL_TMP/other.out') -eq 0"
cmd=$(cat "$PL_TMP/up.out")
pl_check "the printed ssh command logs in too" ip netns exec "$PL_NS_CLI" timeout 30 $cmd true
ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" down @device >/dev/null
wait "$UP_PID" 2>/dev/null
for _ in $(seq 50); do
	[ -z "$(ip netns exec "$PL_NS_DEV" runuser -u nobody -- "$AKC/portless" authorized-keys \
		"$PL_USER" --socket "$KS")" ] && break
	sleep 0.1
done
pl_check "the line is gone once the session ends" test -z "$(ip netns exec "$PL_NS_DEV" \
	runuser -u nobody -- "$AKC/portless" authorized-keys "$PL_USER" --socket "$KS")"
pl_check "the device daemon is alive (no system call outside its filter)" kill -0 "$PL_DEV_PID"

probe=$PL_BUILD/tests/seccomp_probe
pl_check "the device profile allows what the daemon does" test "$("$probe" ep allowed)" = ok
"$probe" ep denied 2>"$PL_TMP/probe.err"
pl_check "a call outside it kills (exit $?)" grep -q "seccomp: system call .* denied" "$PL_TMP/probe.err"
pl_finish
