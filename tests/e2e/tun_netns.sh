#!/bin/bash
# SPDX-License-Identifier: MIT
# tun_netns: two TUNs in two network namespaces, configured with libportless_tun
# (netcfg over libnl), relayed by tun_pump over a unix socket. Asserts the
# configuration with `ip -j`, pings and TCPs through (v4 and v6), checks the
# device-side filter (allowed port passes, others and UDP are dropped and
# counted, the device cannot open connections), the ifup/ifdown scripts, the
# address conflict check, the netlink monitor (underlay change, interface
# deleted from outside), and the DAD sysctl.
set -u
# shellcheck source=scripts/lib/topo.sh
. "$(dirname "$0")/../../scripts/lib/topo.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip jq nc ping; do command -v $t >/dev/null || skip "no $t"; done
PUMP=${PORTLESS_BUILD:?}/tests/tun_pump
SRC=${PORTLESS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$PUMP" ] || { echo "FAIL: $PUMP not built"; exit 1; }

A=pltunA$$
B=pltunB$$
pl_loop_setup
T=$PL_TMP
delns() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; }
PL_CLEANUP_HOOK=delns # after the processes stopped, before the temp dir goes
ip netns add "$A" || skip "cannot create network namespaces"
ip netns add "$B" || skip "cannot create network namespaces"
ip -n "$A" link set lo up
ip -n "$B" link set lo up

fail() {
	echo "FAIL: $*"
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
	exit 1
}
# wait_listen NS PORT: until something listens on TCP PORT in NS
wait_listen() {
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

DEV4=100.70.1.2 DEV6=fd70:6c73:7300:1::2
CLI4=100.127.0.1 CLI6=fd70:6c73:7300:ffff::1

cat >"$T/ifscript" <<EOS
#!/bin/sh
echo "\$PORTLESS_PHASE \$PORTLESS_IFNAME \$PORTLESS_ROLE \$PORTLESS_SESSION \$PORTLESS_ADDR4 \$PORTLESS_PEER4 \$PORTLESS_ADDR6 \$PORTLESS_MTU" >> "$T/ifscript.out"
EOS
chmod +x "$T/ifscript"

# ---- device (namespace A) and client (namespace B) ----
pl_start dev "$A" "$PUMP" --name pldev --addr $DEV4/32 --addr $DEV6/128 \
	--route $CLI4/32 --route $CLI6/128 --listen "$T/relay.sock" \
	--filter --client $CLI4 --client $CLI6 --port 22 \
	--role device --session 7 --ifup "$T/ifscript" --ifdown "$T/ifscript" \
	--nodad --timeout 240
DPID=$PL_LAST_PID
pl_wait_log "$T/dev.log" '^ready pldev' || fail "device side did not come up"
pl_start cli "$B" "$PUMP" --name plcli --addr $CLI4/32 --peer $DEV4/32 --addr $CLI6/128 \
	--route $DEV6/128 --connect "$T/relay.sock" --role client --session 7 \
	--ifup "$T/ifscript" --ifdown "$T/ifscript" --mtu 1400 --timeout 240
CPID=$PL_LAST_PID
pl_wait_log "$T/cli.log" '^ready plcli' || fail "client side did not come up"
pl_wait_log "$T/dev.log" 'relay-connected' || fail "relay not connected"
pl_ok "both TUNs up and relayed"

# ---- configuration, as ip(8) sees it ----
L=$(ip -j -n "$A" -d link show dev pldev)
[ "$(jq '.[0].mtu' <<<"$L")" = 1420 ] || fail "device MTU: $L"
jq -e '.[0].flags | index("UP")' <<<"$L" >/dev/null || fail "device not up: $L"
[ "$(jq -r '.[0].linkinfo.info_data.type' <<<"$L")" = tun ] || fail "not a tun: $L"
[ "$(jq -r '.[0].linkinfo.info_data.pi' <<<"$L")" = false ] || fail "packet info on: $L"
[ "$(jq -r '.[0].inet6_addr_gen_mode' <<<"$L")" = none ] || fail "addr_gen_mode: $L"
AD=$(ip -j -n "$A" addr show dev pldev)
jq -e ".[0].addr_info[] | select(.local==\"$DEV4\" and .prefixlen==32)" <<<"$AD" >/dev/null || fail "device v4: $AD"
jq -e ".[0].addr_info[] | select(.local==\"$DEV6\" and .prefixlen==128 and .nodad==true)" <<<"$AD" >/dev/null ||
	fail "device v6: $AD"
[ "$(jq '[.[0].addr_info[] | select(.scope=="link")] | length' <<<"$AD")" = 0 ] || fail "link-local on TUN: $AD"
R=$(ip -j -n "$A" route show dev pldev)
jq -e ".[] | select(.dst==\"$CLI4\" and .protocol==\"static\" and .prefsrc==\"$DEV4\")" <<<"$R" >/dev/null ||
	fail "device v4 route: $R"
R6=$(ip -j -n "$A" -6 route show dev pldev)
jq -e ".[] | select(.dst==\"$CLI6\")" <<<"$R6" >/dev/null || fail "device v6 route: $R6"
[ "$(ip netns exec "$A" cat /proc/sys/net/ipv6/conf/pldev/accept_dad)" = 0 ] || fail "accept_dad not 0"
AC=$(ip -j -n "$B" addr show dev plcli)
jq -e ".[0].addr_info[] | select(.local==\"$CLI4\" and .address==\"$DEV4\" and .prefixlen==32)" <<<"$AC" >/dev/null ||
	fail "client point-to-point address: $AC"
[ "$(ip -j -n "$B" link show dev plcli | jq '.[0].mtu')" = 1400 ] || fail "client MTU"
pl_ok "configuration verified with ip -j"

grep -q "^up pldev device 7 $DEV4/32 $CLI4/32 $DEV6/128 1420\$" "$T/ifscript.out" || fail "device ifup env: $(cat "$T/ifscript.out")"
grep -q "^up plcli client 7 $CLI4/32 $DEV4/32 $CLI6/128 1400\$" "$T/ifscript.out" || fail "client ifup env: $(cat "$T/ifscript.out")"
pl_ok "ifup scripts ran with the documented environment"

# ---- traffic ----
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 $DEV4 >"$T/ping4.log" 2>&1 || fail "ping v4"
ip netns exec "$B" ping -6 -c 3 -i 0.2 -W 2 $DEV6 >"$T/ping6.log" 2>&1 || fail "ping v6"
pl_ok "ping v4 and v6 through the TUNs"

ip netns exec "$A" timeout 10 nc -l $DEV4 22 >"$T/tcp4.out" &
NPID=$!
pl_track $NPID
wait_listen "$A" 22 || fail "nc did not listen"
echo "hello over v4" | ip netns exec "$B" timeout 10 nc -N -w 5 $DEV4 22 || fail "tcp v4 connect"
pl_reap $NPID
[ "$(cat "$T/tcp4.out")" = "hello over v4" ] || fail "tcp v4 data: $(cat "$T/tcp4.out")"
ip netns exec "$A" timeout 10 nc -6 -l $DEV6 22 >"$T/tcp6.out" &
NPID=$!
pl_track $NPID
wait_listen "$A" 22 || fail "nc6 did not listen"
head -c 200000 /dev/urandom >"$T/blob"
ip netns exec "$B" timeout 10 nc -N -w 5 $DEV6 22 <"$T/blob" || fail "tcp v6 connect"
pl_reap $NPID
cmp -s "$T/blob" "$T/tcp6.out" || fail "tcp v6 data differs ($(stat -c %s "$T/tcp6.out") bytes)"
pl_ok "TCP port 22 over v4 and v6 (200 kB intact)"

# ---- the filter ----
ip netns exec "$A" timeout 6 nc -l $DEV4 2222 >"$T/tcp2222.out" &
NPID=$!
pl_track $NPID
wait_listen "$A" 2222 || fail "nc 2222 did not listen"
if echo nope | ip netns exec "$B" timeout 5 nc -N -w 2 $DEV4 2222; then fail "port 2222 reachable"; fi
echo x | ip netns exec "$B" timeout 3 nc -u -w 1 $DEV4 53 || true
# the device may not open connections to the client, even from port 22
ip netns exec "$A" timeout 4 nc -w 2 -p 22 -z $CLI4 8080 && fail "device reached the client"
ip netns exec "$A" timeout 4 nc -w 2 -z $CLI4 8080 && fail "device reached the client"
pl_stop $NPID
[ -s "$T/tcp2222.out" ] && fail "data reached port 2222"
kill -USR1 $DPID
pl_wait_log "$T/dev.log" '^counters .*drop_in\[port\]=[1-9]' || fail "port drops not counted"
C=$(grep '^counters' "$T/dev.log" | tail -1)
grep -qE 'drop_in\[protocol\]=[1-9]' <<<"$C" || fail "udp drop not counted: $C"
grep -qE 'drop_out\[device-initiated connection\]=[1-9]' <<<"$C" || fail "device SYN not counted: $C"
grep -qE 'drop_out\[port\]=[1-9]' <<<"$C" || fail "device SYN from other port not counted: $C"
pl_ok "filter: port 2222 and UDP dropped, device-initiated TCP dropped; $C"

# ---- conflict check: the device address is already on pldev ----
ip netns exec "$A" "$PUMP" --name plx --addr $DEV4/32 --listen "$T/x.sock" --timeout 5 >"$T/conflict.log" 2>&1 &&
	fail "a second interface with $DEV4 was accepted"
grep -q "^conflict address $DEV4 already on pldev" "$T/conflict.log" || fail "conflict not explained"
ip -n "$A" link show plx >/dev/null 2>&1 && fail "plx left behind"
pl_ok "conflict reported: $(grep '^conflict' "$T/conflict.log")"

# ---- monitor: underlay changes in B ----
# an "uplink" of the namespace: a veth pair (or, without veth, a spare tun)
ip -n "$B" link add ul0 type veth peer name ul1 2>/dev/null || ip -n "$B" tuntap add dev ul0 mode tun ||
	fail "cannot create an underlay interface"
ip -n "$B" link set ul0 up
ip -n "$B" link set ul1 up 2>/dev/null
ip -n "$B" addr add 192.0.2.10/24 dev ul0
pl_wait_log "$T/cli.log" '^event underlay 0x[0-9a-f]*[13579bdf]$' || fail "address change not reported"
ip -n "$B" route add default via 192.0.2.1
pl_wait_log "$T/cli.log" '^event underlay 0x[0-9a-f]*[2367abef]$' || fail "default route change not reported"
pl_ok "underlay address and default route changes reported"

# ---- monitor: the device interface deleted from outside ----
ip -n "$A" link del pldev
pl_wait_log "$T/dev.log" '^event vanished pldev' || fail "vanished interface not reported"
for ((i = 0; i < 50; i++)); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
kill -0 $DPID 2>/dev/null && fail "device helper still running"
pl_reap $DPID || fail "device helper exit status $?"
# the relay closed; the client tears down and runs ifdown
pl_wait_log "$T/cli.log" 'relay-closed' || fail "client did not notice"
for ((i = 0; i < 50; i++)); do kill -0 $CPID 2>/dev/null || break; sleep 0.1; done
pl_reap $CPID || fail "client helper exit status $?"
grep -q "^down plcli client 7" "$T/ifscript.out" || fail "client ifdown not run"
ip -n "$B" link show plcli >/dev/null 2>&1 && fail "client TUN left behind"
pl_ok "interface deletion reported; client tore down and ran ifdown"

# ---- default scripts: idempotent, hooks run, failures reported ----
H="$T/hooks"
mkdir -p "$H"
printf '#!/bin/sh\necho "$PORTLESS_PHASE $PORTLESS_IFNAME" >> %s/hooks.out\n' "$T" >"$H/10-log"
chmod +x "$H/10-log"
for s in ifup ifup ifdown ifdown; do
	PORTLESS_HOOKS_DIR=$H PORTLESS_IFNAME=pl9 PORTLESS_ROLE=device "$SRC/scripts/portless-$s" || fail "portless-$s failed"
done
[ "$(tr '\n' ' ' <"$T/hooks.out")" = "up pl9 up pl9 down pl9 down pl9 " ] || fail "hooks: $(cat "$T/hooks.out")"
env -i PORTLESS_IFNAME=pl9 PORTLESS_ROLE=client PORTLESS_HOOKS_DIR=/nonexistent "$SRC/scripts/portless-ifup" ||
	fail "no hook dir must succeed"
PORTLESS_IFNAME='x;y' PORTLESS_ROLE=client "$SRC/scripts/portless-ifup" 2>/dev/null && fail "bad name accepted"
printf '#!/bin/sh\nexit 1\n' >"$H/20-fail"
chmod +x "$H/20-fail"
PORTLESS_HOOKS_DIR=$H PORTLESS_IFNAME=pl9 PORTLESS_ROLE=device "$SRC/scripts/portless-ifup" 2>/dev/null &&
	fail "failing hook not reported"
pl_ok "portless-ifup/ifdown idempotent, hooks run, failures reported"

echo "PASS: tun_netns"
