#!/usr/bin/env bash
# Keys from policy and live revocation, with real daemons and OpenSSH:
#  - nothing is pinned for an identity the device's policy does not name
#    (a notification from @carol leaves no known_identities line);
#  - [allow @alice] key = <another fingerprint> (a substituted key, as a
#    control-plane operator would serve) refuses her request, pins nothing;
#    her own fingerprint lets her in;
#  - `portless revoke @alice` on the device ends her open session in the
#    running daemon at once (key line gone, client told why) and her next
#    request gets no session;
#  - `portless-cp revoke @bob` on the control plane ends his open session on
#    the device within 5 s (key line gone, client told why).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_find_build || exit 1
pl_tmp
trap pl_cleanup EXIT
trap 'exit 130' INT TERM
PL_USER=pl$$u
pl_topology_up
pl_world @bob @carol
pl_user "$PL_USER"
FPR_A=$("$PL_BIN/portless" whoami --keys "$PL_TMP/alice" | head -1 | awk '{print $2}')
OTHER=pl:0000-1111-2222-3333-4444-5555-6666-7777
PL_CONF_EXTRA="key = $OTHER
[allow @bob]
users = $PL_USER" pl_device "$PL_USER"
PINS=$PL_TMP/device/known_identities
pins_of() {
	local n
	n=$(grep -c "^$1 " "$PINS" 2>/dev/null)
	echo "${n:-0}"
}
pl_client
SOCK_A=$PL_SOCK
CLI_A=$PL_CLI_PID

# a stranger's notification pins nothing
ip netns exec "$PL_NS_CLI" "$PL_BIN/portless" notify @device 999 hello --keys "$PL_TMP/carol" \
	>/dev/null 2>"$PL_TMP/notify.err"
rc=$?
pl_check "@carol's notification reached the device's home (exit $rc)" test "$rc" -eq 0
sleep 1
pl_check "nothing pinned for @carol, whom no policy names" test "$(pins_of @carol)" -eq 0

# a key other than the expected one: refused, not pinned
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "a request signed by a key other than [allow] key = is refused" \
	grep -q "no answer from @device" <<<"$out"
pl_check "...the device says why, naming both fingerprints" \
	grep -q "$OTHER.*$FPR_A\|$FPR_A.*$OTHER" "$PL_TMP/portlessd-dev.log"
pl_check "...and pinned nothing for @alice" test "$(pins_of @alice)" -eq 0

# the right fingerprint: in
kill "$PL_DEV_PID"
for _ in $(seq 50); do kill -0 "$PL_DEV_PID" 2>/dev/null || break; sleep 0.1; done
PL_SSHD_PID=x PL_CONF_EXTRA="key = $FPR_A
[allow @bob]
users = $PL_USER" pl_device "$PL_USER"
out=$(pl_ssh "$PL_USER" 'echo in' 2>/dev/null)
pl_check "with her own fingerprint in [allow] key = she logs in" test "$out" = in

# a local revocation ends her open session at once
pl_up up
UP_PID=$PL_UP_PID
pl_check "her session is up (one key line)" test "$(pl_key_lines "$PL_USER")" -eq 1
t0=$(date +%s%N)
ip netns exec "$PL_NS_DEV" "$PL_BIN/portless" revoke @alice --keys "$PL_TMP/device" >/dev/null
for _ in $(seq 100); do [ "$(pl_key_lines "$PL_USER")" -eq 0 ] && break; sleep 0.1; done
t1=$(date +%s%N)
pl_check "portless revoke on the device ended her session ($(((t1 - t0) / 1000000)) ms)" \
	test "$(pl_key_lines "$PL_USER")" -eq 0
for _ in $(seq 50); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
pl_check "...and her client was told why" grep -q "session ended: .*revoked" "$PL_TMP/up.err"
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "her next request gets no session" grep -q "no answer from @device" <<<"$out"

# a control-plane revocation of @bob ends his open session within 5 s
pl_client "$PL_TMP/bob"
pl_up upbob
UPB=$PL_UP_PID
pl_check "his session is up" test "$(pl_key_lines "$PL_USER")" -eq 1
t0=$(date +%s%N)
"$PL_BIN/portless-cp" revoke @bob --data "$PL_TMP/cp" >/dev/null
for _ in $(seq 100); do [ "$(pl_key_lines "$PL_USER")" -eq 0 ] && break; sleep 0.1; done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
pl_check "portless-cp revoke @bob: his key line is gone in $ms ms (<= 5000)" \
	test "$(pl_key_lines "$PL_USER")" -eq 0 -a "$ms" -le 5000
for _ in $(seq 50); do kill -0 "$UPB" 2>/dev/null || break; sleep 0.1; done
pl_check "...his portless up ended" bash -c "! kill -0 $UPB 2>/dev/null"
pl_check "the device logged the revocation" grep -q "@bob was revoked" "$PL_TMP/portlessd-dev.log"
pl_check "alice's client daemon still runs" kill -0 "$CLI_A"
: "$SOCK_A"
pl_finish
