#!/usr/bin/env bash
# Failures name the hop, fast: an unknown device (the directory says so at
# once), a device that is not connected to its home (its home says so; the
# client waits a short grace, then "device offline"), an unknown relay. The
# same device, back online, works again.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

elapsed() { echo $(($(date +%s%N) / 1000000 - $1)); }

t0=$(($(date +%s%N) / 1000000))
out=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
	"$PL_BIN/portless" ssh "$PL_USER@@nosuchdevice" -- true 2>&1)
rc=$?
ms=$(elapsed "$t0")
echo "$out" | tail -1
pl_check "unknown device: fails (rc $rc) naming the directory hop" \
	grep -q "portless: directory: @nosuchdevice: unknown identity" <<<"$out"
pl_check "unknown device: at once, not after a timeout ($ms ms)" test "$ms" -lt 8000

kill "$PL_DEV_PID"
wait "$PL_DEV_PID" 2>/dev/null
t0=$(($(date +%s%N) / 1000000))
out=$(pl_ssh "$PL_USER" true 2>&1)
rc=$?
ms=$(elapsed "$t0")
echo "$out" | tail -2
pl_check "device down: progress says its home has it offline" \
	grep -q "\[device offline\] the device is not connected to its home" <<<"$out"
pl_check "device down: fails (rc $rc) naming the hop" \
	grep -q "portless: device offline: @device is offline: not connected to its home" <<<"$out"
pl_check "device down: after the short grace, not the 15 s answer timeout ($ms ms)" test "$ms" -lt 13000

# Back online: the request queued while it was away is stale and ended; a new one works.
pl_start portlessd-dev2 "$PL_NS_DEV" "$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
PL_DEV_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-dev2.log" "ready" 15
out=$(pl_ssh "$PL_USER" 'echo back' 2>"$PL_TMP/ssh3.err")
pl_check "the device back online serves a new session" test "$out" = back
for _ in $(seq 50); do [ "$(pl_key_lines "$PL_USER")" -eq 0 ] && break; sleep 0.1; done
pl_check "no key line left from the request made while it was offline" \
	test "$(pl_key_lines "$PL_USER")" -eq 0

# A client whose configured relay is no identity at all.
sed 's/^sr = @relay$/sr = @nosuchrelay/' "$PL_TMP/client-alice.conf" >"$PL_TMP/client-bad.conf"
sed -i "s|^socket = .*|socket = $PL_TMP/run-bad/portlessd.sock|" "$PL_TMP/client-bad.conf"
pl_start portlessd-bad "$PL_NS_CLI" "$PL_BIN/portlessd" -c "$PL_TMP/client-bad.conf"
pl_wait_log "$PL_TMP/portlessd-bad.log" "ready" 15
out=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_TMP/run-bad/portlessd.sock" timeout 60 \
	"$PL_BIN/portless" ssh "$PL_USER@@device" -- true 2>&1)
pl_check "unknown relay: fails naming the socket rendezvous hop" \
	grep -q "portless: socket rendezvous: unknown relay @nosuchrelay" <<<"$out"
pl_finish
