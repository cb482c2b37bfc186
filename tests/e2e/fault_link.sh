#!/usr/bin/env bash
# Fault: the client's underlay link goes away and comes back.
#  1. an ssh transfer (4 MiB, paced over ~20 s) runs through the tunnel; the
#     client's veth is set down for PORTLESS_LINK_DOWN seconds (default 10)
#     and up again: the transfer completes and its sha256 matches;
#  2. the client's underlay address changes (192.0.2.2 -> 192.0.2.3) during
#     a second paced transfer: the endpoint roams and the transfer completes.
#  3. the same on the TCP underlay (client portlessd with PORTLESS_TRANSPORT=tcp):
#     the SR client notices its connection's local address is gone, the
#     endpoints re-rendezvous (session resume) and the transfer completes.
# PORTLESS_LINK_PHASES picks phases (default "down addr tcp").
# Prints the stall (the longest gap in the received bytes).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
PL_IDLE=5m
DOWN=${PORTLESS_LINK_DOWN:-10}
pl_e2e_setup

home=$(getent passwd "$PL_USER" | cut -d: -f6)
head -c $((4 * 1024 * 1024)) /dev/urandom >"$home/blob"
chown "$PL_USER" "$home/blob"
want=$(sha256sum <"$home/blob" | cut -d' ' -f1)
# 40 chunks of 100 KiB, 0.5 s apart: about 20 s on the wire.
PACED='for i in $(seq 0 40); do dd if=blob bs=102400 skip=$i count=1 status=none; sleep 0.5; done'

# paced_transfer NAME: background ssh; output in $PL_TMP/NAME.bin, rc in NAME.rc,
# byte count sampled every 0.2 s into NAME.prog.
paced_transfer() {
	local n=$1
	( pl_ssh "$PL_USER" "$PACED" >"$PL_TMP/$n.bin" 2>"$PL_TMP/$n.err"; echo $? >"$PL_TMP/$n.rc" ) &
	PL_PIDS+=($!)
	( for _ in $(seq 1 900); do
		[ -f "$PL_TMP/$n.rc" ] && break
		echo "$(date +%s.%N) $(stat -c %s "$PL_TMP/$n.bin" 2>/dev/null || echo 0)"
		sleep 0.2
	done >"$PL_TMP/$n.prog" ) &
	PL_PIDS+=($!)
	pl_wait_log "$PL_TMP/$n.err" "tunnel to @device ready" 30
	for _ in $(seq 1 100); do [ "$(stat -c %s "$PL_TMP/$n.bin")" -gt 0 ] && break; sleep 0.1; done
}

# finish NAME LABEL: wait (bounded) and check the result.
finish() {
	local n=$1 label=$2 got rc gap
	for _ in $(seq 1 900); do [ -f "$PL_TMP/$n.rc" ] && break; sleep 0.1; done
	rc=$(cat "$PL_TMP/$n.rc" 2>/dev/null || echo none)
	got=$(sha256sum <"$PL_TMP/$n.bin" | cut -d' ' -f1)
	gap=$(awk 'NR>1 && $2>last {g=$1-t; if (g>max) max=g} $2>last {t=$1; last=$2} NR==1{t=$1; last=$2} END{printf "%.1f", max}' "$PL_TMP/$n.prog")
	echo "$label: rc=$rc bytes=$(stat -c %s "$PL_TMP/$n.bin") longest stall=${gap}s"
	pl_check "$label: the ssh transfer completed (rc $rc)" test "$rc" = 0
	pl_check "$label: sha256 of the transfer matches" test "$got" = "$want"
}

PHASES=${PORTLESS_LINK_PHASES:-down addr tcp}
# 1. link down for $DOWN s
if [[ $PHASES == *down* ]]; then
paced_transfer t1
sleep 2
pl_log "client link down for ${DOWN}s"
ip -n "$PL_NS_CLI" link set "${PL_ID}c" down
sleep "$DOWN"
ip -n "$PL_NS_CLI" link set "${PL_ID}c" up
ip -n "$PL_NS_CLI" route replace default via "$PL_PUB_CLI_IP" 2>/dev/null
pl_log "client link up"
finish t1 "link down ${DOWN}s"
fi

# 2. address change
paced_transfer t2
sleep 2
pl_log "client address 192.0.2.2 -> 192.0.2.3"
ip -n "$PL_NS_CLI" addr del "$PL_CLI_IP/24" dev "${PL_ID}c"
ip -n "$PL_NS_CLI" addr add 192.0.2.3/24 dev "${PL_ID}c"
ip -n "$PL_NS_CLI" route replace default via "$PL_PUB_CLI_IP"
ip -n "$PL_NS_CLI" -4 addr show dev "${PL_ID}c" | grep inet
finish t2 "address change"
grep -E "roamed|relay path|reconnect|keepalive" "$PL_TMP/sr.log" "$PL_TMP/portlessd-alice.log" \
	"$PL_TMP/portlessd-dev.log" | tail -10

# 3. address change with the client on the TCP underlay (PORTLESS_TRANSPORT=tcp):
# a TCP connection cannot move, so the SR client reports it broken as soon as
# its local address is gone and the endpoints re-rendezvous (session resume).
if [[ $PHASES == *tcp* ]]; then
	kill "$PL_CLI_PID"; wait "$PL_CLI_PID" 2>/dev/null
	pl_start portlessd-alice-tcp "$PL_NS_CLI" env PORTLESS_TRANSPORT=tcp "$PL_BIN/portlessd" \
		-c "$PL_TMP/client-alice.conf"
	PL_CLI_PID=$PL_LAST_PID
	pl_wait_log "$PL_TMP/portlessd-alice-tcp.log" "ready" 15
	paced_transfer t3
	grep -q "over TCP" "$PL_TMP/portlessd-alice-tcp.log" && pl_ok "client on the TCP underlay" ||
		pl_fail "client not on TCP: $(grep ' up: ' "$PL_TMP/portlessd-alice-tcp.log")"
	sleep 2
	cur=$(ip -n "$PL_NS_CLI" -4 -o addr show dev "${PL_ID}c" | awk '{print $4}' | head -1)
	pl_log "client address $cur -> 192.0.2.4 (TCP underlay)"
	ip -n "$PL_NS_CLI" addr del "$cur" dev "${PL_ID}c"
	ip -n "$PL_NS_CLI" addr add 192.0.2.4/24 dev "${PL_ID}c"
	ip -n "$PL_NS_CLI" route replace default via "$PL_PUB_CLI_IP"
	finish t3 "address change (TCP underlay)"
	grep -E "local address|relay path|resum|re-establish" "$PL_TMP/portlessd-alice-tcp.log" | tail -5
fi

# A new session: the control plane connection was made from the old address
# and must be noticed dead and re-made (a request unanswered in 15 s).
t0=$(date +%s)
for try in 1 2 3 4; do
	out=$(pl_ssh "$PL_USER" 'echo still-fine' 2>>"$PL_TMP/ssh-new.err")
	grep -q still-fine <<<"$out" && break
	sleep 2
done
echo "new session after the address change: attempt $try, $(($(date +%s) - t0)) s"
pl_check "a new session from the new address works" grep -q still-fine <<<"$out"
pl_finish
