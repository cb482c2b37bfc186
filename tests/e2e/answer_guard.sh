#!/usr/bin/env bash
# The client checks what a device answers before it routes anything: the
# device's and the session's addresses must lie in the client's overlay
# networks ([client] overlay) and clash with no address or route of the
# client host. A route the client already has to the device's address, or
# an overlay that doesn't hold it, ends the session with a reason naming
# the address, and nothing is configured; with both fixed the same login
# works. (A lying device's SYN, unsolicited UDP and pings into the client
# are dropped and counted: tests/unit/test_roles.c drives that attack.)
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup
VETH=$(ip -n "$PL_NS_CLI" -o link show | sed -n 's/^[0-9]*: \([^:@]*\)@.*/\1/p' | head -1)

# the client host already routes the device's address elsewhere
ip -n "$PL_NS_CLI" route add "${PL_DEV_VIP%.*}.0/24" dev "$VETH"
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "a device address this host routes elsewhere is refused" \
	grep -q "answer from @device refused: the device's answer clashes with this host" <<<"$out"
pl_check "...naming the route" grep -q "${PL_DEV_VIP%.*}.0/24" <<<"$out"
pl_check "nothing was configured on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0
for _ in $(seq 50); do [ "$(pl_key_lines "$PL_USER")" -eq 0 ] && break; sleep 0.1; done
pl_check "the device removed the session's key line" test "$(pl_key_lines "$PL_USER")" -eq 0
ip -n "$PL_NS_CLI" route del "${PL_DEV_VIP%.*}.0/24" dev "$VETH"

# an overlay that does not hold the device's address
kill "$PL_CLI_PID"
for _ in $(seq 50); do kill -0 "$PL_CLI_PID" 2>/dev/null || break; sleep 0.1; done
PL_CONF_EXTRA="overlay = 100.127.0.0/16, fd70:6c73:7300::/48" pl_client
out=$(pl_ssh "$PL_USER" true 2>&1)
pl_check "an address outside [client] overlay is refused" \
	grep -q "names $PL_DEV_VIP, outside the overlay networks" <<<"$out"
kill "$PL_CLI_PID"
for _ in $(seq 50); do kill -0 "$PL_CLI_PID" 2>/dev/null || break; sleep 0.1; done
pl_client
out=$(pl_ssh "$PL_USER" 'echo fine' 2>/dev/null)
pl_check "with the clash gone and the default overlay the login works" test "$out" = fine
st=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" status)
pl_check "status has a DROPPED column" grep -q "DROPPED" <<<"$st"
pl_finish
