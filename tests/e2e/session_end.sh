#!/usr/bin/env bash
# Sessions end cleanly and each identity has its own cap:
#  - 50 runs of `portless ssh @device -- echo OK` each print OK and leave no
#    sshd session process on the device 5 s after they return (the client
#    sends what its TUN still holds, ssh's FIN among it, before the CLOSE);
#  - one allowed identity past its cap ([allow] max-sessions, default half
#    of [device] max-sessions) is refused with a reason while another
#    identity still gets in;
#  - the device writes one JSON audit record per session start, end and
#    refusal (ids matching, identities, user, addresses, relay, UTC times,
#    bytes, reason).
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

# the device's audit records: one start and one end per session, matched by id
audit_check() { # PYTHON-EXPRESSION over recs (the parsed records); prints True/False
	python3 - "$PL_TMP/portlessd-dev.log" "$1" <<'PY'
import json, sys
recs = [json.loads(l.split("audit: ", 1)[1]) for l in open(sys.argv[1]) if "audit: {" in l]
print(eval(sys.argv[2]))
PY
}
pl_check "50 start and 50 end audit records, every one JSON" \
	test "$(audit_check 'sum(r["event"]=="start" for r in recs)==50 and sum(r["event"]=="end" for r in recs)==50')" = True
pl_check "...each end matches a start by session id, with both identities and the user" \
	test "$(audit_check '{r["session"] for r in recs if r["event"]=="start"}=={r["session"] for r in recs if r["event"]=="end"} and all(r["peer"]=="@alice" and r["device"]=="@device" and r["user"]=="'"$PL_USER"'" for r in recs)')" = True
pl_check "...with UTC times, the client addresses, the relay, bytes and the reason" \
	test "$(audit_check 'all(r["start"].endswith("Z") and r["end"].endswith("Z") and r["client4"].startswith("100.") and r["client6"].startswith("fd") and r["relay"].startswith("'"$PL_PUB_CLI_IP"':") and r["bytes_in"]>0 and r["reason"]=="closed" for r in recs if r["event"]=="end")')" = True

# @alice's cap is 2 (half of 4): two held sessions, the third refused, @bob still in
pl_up up1
U1=$PL_UP_PID
pl_up up2
U2=$PL_UP_PID
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "a third session of @alice is refused (cap 2 of 4)" \
	grep -q "too many sessions for this identity" <<<"$out"
pl_check "the device logged the cap" grep -q "its cap of 2 sessions is reached" "$PL_TMP/portlessd-dev.log"
pl_check "...and wrote a refusal audit record" \
	test "$(audit_check 'any(r["event"]=="refused" and r["reason"]=="too many sessions for this identity" for r in recs)')" = True
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
