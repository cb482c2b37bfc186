#!/usr/bin/env bash
# Sessions end cleanly and each identity has its own cap:
#  - 50 runs of `portless ssh @device -- echo OK` each print OK and leave no
#    sshd session process on the device 5 s after they return (the client
#    sends what its TUN still holds, ssh's FIN among it, before the CLOSE);
#  - one allowed identity past its cap ([allow] max-sessions, default half
#    of [device] max-sessions) is refused with a reason while another
#    identity still gets in.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_find_build || exit 1
pl_tmp
NS2=${PL_ID}-cli2
trap 'pl_cleanup; ip netns del "$NS2" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
PL_USER=pl$$u
pl_topology_up
pl_world @bob
pl_user "$PL_USER"
PL_DEV_EXTRA="max-sessions = 4" PL_CONF_EXTRA="[allow @bob]
users = $PL_USER" pl_device "$PL_USER"
pl_client
children() { pgrep -P "$PL_SSHD_PID" | wc -l; }

left=0 ok=0
for i in $(seq 1 50); do
	[ "$(pl_ssh "$PL_USER" echo OK 2>/dev/null)" = OK ] && ok=$((ok + 1))
	for _ in $(seq 50); do [ "$(children)" -eq 0 ] && break; sleep 0.1; done
	[ "$(children)" -eq 0 ] || left=$((left + 1))
done
pl_check "50 runs of portless ssh -- echo OK all print OK ($ok)" test "$ok" -eq 50
pl_check "no sshd session process outlived its session by 5 s ($left of 50 did)" test "$left" -eq 0

# @alice's cap is 2 (half of 4): two held sessions, the third refused, @bob still in
pl_up up1
U1=$PL_UP_PID
pl_up up2
U2=$PL_UP_PID
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "a third session of @alice is refused (cap 2 of 4)" \
	grep -q "too many sessions for this identity" <<<"$out"
pl_check "the device logged the cap" grep -q "its cap of 2 sessions is reached" "$PL_TMP/portlessd-dev.log"
# @bob on a second client host (203.0.113.2, routed through pub like the first)
ip netns add "$NS2"
ip -n "$NS2" link set lo up
ip link add "${PL_ID}e" netns "$NS2" type veth peer name "${PL_ID}pe" netns "$PL_NS_PUB"
ip -n "$NS2" addr add 203.0.113.2/24 dev "${PL_ID}e"
ip -n "$PL_NS_PUB" addr add 203.0.113.1/24 dev "${PL_ID}pe"
ip -n "$NS2" link set "${PL_ID}e" up
ip -n "$PL_NS_PUB" link set "${PL_ID}pe" up
ip -n "$NS2" route add default via 203.0.113.1
mkdir -p "$PL_TMP/run-bob2"
printf '[identity]\nkeys = %s\n[client]\nenabled = yes\nsocket = %s\nsr = @relay\n' \
	"$PL_TMP/bob" "$PL_TMP/run-bob2/s.sock" >"$PL_TMP/client-bob2.conf"
pl_start portlessd-bob2 "$NS2" "$PL_BIN/portlessd" -c "$PL_TMP/client-bob2.conf"
pl_wait_log "$PL_TMP/portlessd-bob2.log" "ready" 15
out=$(ip netns exec "$NS2" env PORTLESS_SOCKET="$PL_TMP/run-bob2/s.sock" timeout 60 \
	"$PL_BIN/portless" ssh "$PL_USER@@device" -- echo bob-in 2>"$PL_TMP/bob.err")
[ "$out" = bob-in ] || cat "$PL_TMP/bob.err"
pl_check "another identity still gets in" test "$out" = bob-in
kill "$U1" "$U2" 2>/dev/null
pl_finish
