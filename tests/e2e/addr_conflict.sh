#!/usr/bin/env bash
# The device's stable address against the host: when another interface
# already carries the derived address, portlessd refuses to start and says
# which object conflicts and what to set; with [device] address-alternative
# it derives another stable address, and virtual-prefix6 moves the IPv6 one.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

kill "$PL_DEV_PID"
wait "$PL_DEV_PID" 2>/dev/null
# another interface with the derived address (a veth pair: dummy may be missing)
ip -n "$PL_NS_DEV" link add plt-other type veth peer name plt-other2
ip -n "$PL_NS_DEV" addr add "$PL_DEV_VIP/32" dev plt-other
ip -n "$PL_NS_DEV" link set plt-other up
err=$(ip netns exec "$PL_NS_DEV" timeout 20 "$PL_BIN/portlessd" -c "$PL_TMP/device.conf" 2>&1)
rc=$?
echo "$err" | tail -5
pl_check "a conflicting address stops portlessd at once (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
pl_check "...naming the address, the interface and the way out" \
	grep -q "virtual address conflict: address $PL_DEV_VIP.* already on plt-other.*address-alternative = 1" <<<"$err"
pl_check "...and leaves no TUN behind" test "$(pl_tun_count "$PL_NS_DEV")" -eq 0

sed -i '/^\[device\]$/a address-alternative = 1\nvirtual-prefix6 = fd12:3456::/32' "$PL_TMP/device.conf"
pl_start portlessd-alt "$PL_NS_DEV" "$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
PL_DEV_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-alt.log" "ready" 15
alt=$(sed -n 's/.*device role: @device is \([0-9.]*\) on .*/\1/p' "$PL_TMP/portlessd-alt.log" | head -1)
pl_check "address-alternative = 1 gives another stable address ($alt, not $PL_DEV_VIP)" \
	test -n "$alt" -a "$alt" != "$PL_DEV_VIP"
tun=$(ip -n "$PL_NS_DEV" -o link show | sed -n 's/^[0-9]*: \(pl[0-9]*\):.*/\1/p' | head -1)
pl_check "the TUN carries it" bash -c "ip -n $PL_NS_DEV -4 -o addr show dev $tun | grep -q ' $alt/'"
pl_check "its IPv6 address is inside virtual-prefix6" \
	bash -c "ip -n $PL_NS_DEV -6 -o addr show dev $tun | grep -q ' fd12:3456:'"
kill "$PL_DEV_PID"
wait "$PL_DEV_PID" 2>/dev/null
pl_start portlessd-alt2 "$PL_NS_DEV" "$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
PL_DEV_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-alt2.log" "ready" 15
pl_check "...and it is stable across restarts" grep -q "@device is $alt on" "$PL_TMP/portlessd-alt2.log"
pl_finish
