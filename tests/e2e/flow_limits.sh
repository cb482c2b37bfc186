#!/usr/bin/env bash
# The device's session limits end sessions and clean up after them: a held
# tunnel with no traffic ends at idle-timeout, a busy one at max-duration;
# each time the key line is removed, the client's `portless up` ends naming
# the reason (carried by the relay path's CLOSE and the control plane's END,
# whichever comes first) and its TUN goes; `portless status` shows the
# bytes and age of a live session first.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
PL_IDLE=3s PL_MAXDUR=6s pl_e2e_setup

ended() { # PID SECONDS: wait for it to exit
	for _ in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# ---- idle: nothing crosses the tunnel
pl_up idle
UP=$PL_UP_PID
pl_check "idle: the session is up with its key line" test "$(pl_key_lines "$PL_USER")" -eq 1
t0=$(date +%s)
ended "$UP" 15
t1=$(date +%s)
wait "$UP" 2>/dev/null
# The reason comes with the relay path's CLOSE and with the control plane's END,
# whichever arrives first.
ENDED='session ended: @device ended the session \(%s\)'
pl_check "idle: 'portless up' ended after ~3 s ($((t1 - t0)) s) saying why" \
	grep -Eq "$(printf "$ENDED" idle)" "$PL_TMP/idle.err"
pl_check "idle: the device logged it" grep -q "session .* end: .*, idle, " "$PL_TMP/portlessd-dev.log"
pl_check "idle: no key line left" test "$(pl_key_lines "$PL_USER")" -eq 0
for _ in $(seq 30); do [ "$(pl_tun_count "$PL_NS_CLI")" -eq 0 ] && break; sleep 0.1; done
pl_check "idle: no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0

# ---- max-duration: traffic all along (a ping a second keeps idle away)
pl_up busy
UP=$PL_UP_PID
dip=$(sed -n 's/^ssh .* [^ ]*@\([0-9.]*\)$/\1/p' "$PL_TMP/busy.out" | head -1)
ip netns exec "$PL_NS_CLI" ping -q -i 0.5 -c 40 "$dip" >/dev/null 2>&1 &
PING=$!
PL_PIDS+=("$PING")
sleep 2
st=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" status)
echo "$st"
row=$(grep -E "client +@device" <<<"$st")
pl_check "status: the live session shows bytes both ways and its age" \
	grep -Eq " [1-9][0-9.]* [KMG]?i?B +[1-9][0-9.]* [KMG]?i?B +[1-9][0-9]*s +[0-9]+ +[@-][^ ]*$" <<<"$row"
ended "$UP" 20
wait "$UP" 2>/dev/null
pl_check "max-duration: 'portless up' ended saying why" \
	grep -Eq "$(printf "$ENDED" "maximum duration")" "$PL_TMP/busy.err"
pl_check "max-duration: the device logged it" \
	grep -q "session .* end: .*, maximum duration, " "$PL_TMP/portlessd-dev.log"
pl_check "max-duration: no key line left" test "$(pl_key_lines "$PL_USER")" -eq 0
kill "$PING" 2>/dev/null
pl_finish
