#!/usr/bin/env bash
# The client's relay list is honoured (sr = @relay, @relay2):
#  - with @relay gone, a new `portless ssh` gets its ticket from @relay2 at
#    once (the home says @relay is not connected) and logs in;
#  - a session on @relay whose relay dies for good moves to @relay2: a new
#    ticket, the same virtual addresses, and the ssh connection inside it
#    survives;
#  - `portless ssh --sr @x` with a daemon running is honoured when @x is in
#    the list, refused with a clear message when it is not;
#  - `portless status` shows the relay each session uses.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_find_build || exit 1
pl_tmp
trap pl_cleanup EXIT
trap 'exit 130' INT TERM
PL_USER=pl$$u
pl_topology_up
pl_world @relay2
pl_user "$PL_USER"
pl_device "$PL_USER"
sr2_start() {
	pl_start sr2 "$PL_NS_PUB" "$PL_BIN/portless-sr" --keys "$PL_TMP/relay2" \
		--tcp "$PL_PUB_CLI_IP:7445" --udp "$PL_PUB_CLI_IP:7445" --advertise "$PL_PUB_CLI_IP"
	SR2_PID=$PL_LAST_PID
	pl_wait_log "$PL_TMP/sr2.log" "connected to the home" 15
}
sr2_start
PL_SOCK=$PL_TMP/run-fleet/portlessd.sock
mkdir -p "$PL_TMP/run-fleet"
printf '[identity]\nkeys = %s\n[client]\nenabled = yes\nsocket = %s\nsr = @relay, @relay2\n' \
	"$PL_TMP/alice" "$PL_SOCK" >"$PL_TMP/client-fleet.conf"
pl_start portlessd-fleet "$PL_NS_CLI" "$PL_BIN/portlessd" -c "$PL_TMP/client-fleet.conf"
FLEET_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-fleet.log" "ready" 15
client() { ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 90 "$PL_BIN/portless" "$@"; }

# --sr outside the list: refused; inside it: honoured
client ssh "$PL_USER@@device" --sr @nowhere -- true 2>"$PL_TMP/sr-bad.err"
pl_check "--sr naming a relay not in [client] sr is refused clearly" \
	grep -q "names a relay this daemon's \[client\] sr does not list" "$PL_TMP/sr-bad.err"
out=$(client ssh "$PL_USER@@device" --sr @relay2 -- 'echo via2' 2>/dev/null)
pl_check "--sr @relay2 is honoured with a daemon running" test "$out" = via2
pl_check "...the session went through @relay2" grep -q "start @alice -> @device" "$PL_TMP/sr2.log"

# a session on @relay, an ssh inside it; @relay dies for good
pl_up up
cmd=$(cat "$PL_TMP/up.out")
st=$(client status)
pl_check "status shows the session's relay (@relay)" grep -Eq "client +@device .* @relay$" <<<"$st"
ip netns exec "$PL_NS_CLI" timeout 120 $cmd 'for i in $(seq 1 40); do sleep 0.5; done; echo survived' \
	>"$PL_TMP/long.out" 2>"$PL_TMP/long.err" &
LONG=$!
sleep 2
kill "$PL_SR_PID"
t0=$(date +%s)
wait "$LONG"
pl_check "the ssh connection inside survived the relay's death" grep -q survived "$PL_TMP/long.out"
pl_check "the device resumed the same session through a new relay session" \
	grep -q "resuming through a new relay session" "$PL_TMP/portlessd-dev.log"
pl_check "...which @relay2 carried" test "$(grep -c "start @alice -> @device" "$PL_TMP/sr2.log")" -ge 2
st=$(client status)
pl_check "status now shows @relay2" grep -Eq "client +@device .* @relay2$" <<<"$st"
pl_check "the same virtual addresses" grep -q "$(sed -n 's/.* -b \([0-9.]*\) .*/\1/p' "$PL_TMP/up.out")" <<<"$st"
client down @device >/dev/null

# @relay gone: a new session goes through @relay2 at once (asked first now that
# @relay failed, or handed over when @relay's home says it is not connected)
n2=$(grep -c "start @alice -> @device" "$PL_TMP/sr2.log")
t0=$(date +%s%N)
out=$(client ssh "$PL_USER@@device" -- 'echo fallback' 2>"$PL_TMP/fb.err")
t1=$(date +%s%N)
pl_check "with @relay gone a new portless ssh logs in" test "$out" = fallback
pl_check "...through @relay2" test "$(grep -c "start @alice -> @device" "$PL_TMP/sr2.log")" -gt "$n2"
pl_check "...without waiting out the ticket timeout ($(((t1 - t0) / 1000000)) ms)" \
	test $(((t1 - t0) / 1000000)) -lt 5000

# a fresh daemon (nothing measured), @relay still gone: the home's "not connected"
# hands the set-up to @relay2 at once, and the user is told
pkill_fleet() { kill "$FLEET_PID" 2>/dev/null; for _ in $(seq 30); do kill -0 "$FLEET_PID" 2>/dev/null || break; sleep 0.1; done; }
pkill_fleet
pl_start portlessd-fleet "$PL_NS_CLI" "$PL_BIN/portlessd" -c "$PL_TMP/client-fleet.conf"
FLEET_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-fleet.log" "ready" 15
out=$(client ssh "$PL_USER@@device" -- 'echo handed' 2>"$PL_TMP/fb2.err")
pl_check "a fresh daemon logs in through @relay2" test "$out" = handed
pl_check "...saying @relay is not connected" \
	grep -q "relay @relay is not connected to its home; asking @relay2" "$PL_TMP/fb2.err"
pl_finish
