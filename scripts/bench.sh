#!/usr/bin/env bash
# bench.sh: portless against the systems people would use instead, side by
# side in one run, in one topology (scripts/lib/topo.sh):
#
#   client ns 192.0.2.2 --veth-- relay ns (pub, routes) --veth-- 198.51.100.2 device ns
#
# The client reaches the device only through the relay host. Cases:
#   link          the routed link itself (the physical limit)
#   socat         TCP splice relay in the relay ns (socat -b65536) carrying iperf3
#   wireguard-go  client <-> device (userspace WireGuard, direct over the routed link)
#   nebula        client <-> device through a nebula relay in the relay ns
#                 (am_relay/use_relays; the direct UDP path is dropped by nft)
#   fastd         client <-> device (salsa2012+umac, direct)
#   portless-udp  real portless-cp + portless-sr + portlessd, transport forced to UDP
#   portless-tcp  the same with the transport forced to TCP
#   portless-*-nooffload  the same with PORTLESS_TUN_OFFLOAD=0 on both
#                 endpoints (one packet per TUN read: the data path before
#                 TUN offloads), for a before/after in the same run
#   portless-udp-nomerge  portless-udp with received segments written to the
#                 TUN one by one (PORTLESS_TUN_MERGE=0): before/after merging
#   portless-tcp-nosplice  portless-tcp with the relay copying TCP<->TCP
#                 through user space (PORTLESS_SR_NO_SPLICE=1), for a
#                 before/after of the relay's splice(2) path
# Metrics: iperf3 TCP 1 and 4 streams both ways, ping RTT, 64-byte TCP
# ping-pong (tests/helpers/pingpong.c), CPU seconds per GB of each tunnel
# process (utime+stime from /proc over the iperf3 runs), portless tunnel
# set-up time and `portless ssh @device -- true` vs plain ssh over the
# underlay. Medians of BENCH_RUNS runs. Results: a table on stdout and
# results/bench-<time>.md + .json (not committed).
#
#   sudo scripts/bench.sh                  (all cases)
#   BENCH_CASES="link portless-udp" BENCH_RUNS=3 BENCH_SECS=3 sudo -E scripts/bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (namespaces, TUN devices)" >&2
	exit 1
fi
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-4}
SETUP_RUNS=${BENCH_SETUP_RUNS:-20}
PAR_RUNS=${BENCH_PAR_RUNS:-20} # sessions started at once for the parallel set-up time
PP_COUNT=${BENCH_PP_COUNT:-2000}
PING_COUNT=${BENCH_PING_COUNT:-200}
CASES=${BENCH_CASES:-"link socat wireguard-go nebula fastd portless-udp portless-tcp portless-udp-nooffload portless-tcp-nooffload portless-tcp-nosplice portless-udp-nomerge"}
BUILD=${BENCH_BUILD:-$SRC/build-bench}

bash scripts/install-deps.sh || exit 1
echo "== building ($BUILD, RelWithDebInfo)"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$BUILD" -j2 --target portless portless-cp portless-sr portlessd pingpong >/dev/null || exit 1
export PORTLESS_BUILD=$BUILD

# shellcheck source=scripts/lib/topo.sh
. scripts/lib/topo.sh
pl_find_build || exit 1
pl_tmp
PP=$BUILD/tests/pingpong
OUT=$SRC/results
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%d-%H%M%S)
ROWS=$PL_TMP/rows.tsv
: >"$ROWS"
HZ=$(getconf CLK_TCK)

bench_cleanup() {
	ip netns exec "$PL_NS_PUB" nft delete table inet plbench 2>/dev/null || true
	pl_cleanup
}
trap bench_cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# ---- helpers ----------------------------------------------------------------

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0)print "nan"; else if(NR%2)print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# CPU ticks of a process and its reaped children (socat forks per connection).
ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat" 2>/dev/null || echo 0; }

stop_pid() { # PID: TERM, wait up to 3 s, KILL
	local p=$1 i
	kill "$p" 2>/dev/null || return 0
	for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
}

wait_ping() { # NS IP SECONDS: until one ping answers (an unreachable route fails at once)
	local i
	for i in $(seq 1 $(($3 * 2))); do
		ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "bench: no ping reply from $2 in $1" >&2
	return 1
}

# iperf3 from the client: TARGET PORT STREAMS REVERSE -> "bits bytes"
iperf() {
	local args=(-c "$1" -p "$2" -t "$SECS" -P "$3" -J -O 1)
	[ "$4" = 1 ] && args+=(-R)
	ip netns exec "$PL_NS_CLI" timeout $((SECS + 20)) iperf3 "${args[@]}" 2>/dev/null |
		jq -r '"\(.end.sum_received.bits_per_second // 0) \(.end.sum_received.bytes // 0)"' 2>/dev/null ||
		echo "0 0"
}

# Runs every metric for the case in CASE_NAME against TGT (iperf port IPORT,
# ping-pong port PPORT, PING=yes|no), measuring CPU of CASE_PIDS (names in
# CASE_PNAMES). Appends one row to $ROWS.
measure() {
	local name=$CASE_NAME c cfg r st rev gb i
	local -a t0 t1
	local bytes_total=0 res=() ping_ms="nan" pp_us="nan"
	pl_log "case $name: iperf3 ($RUNS x ${SECS}s per direction and stream count)"
	for i in "${!CASE_PIDS[@]}"; do t0[i]=$(ticks "${CASE_PIDS[i]}"); done
	for cfg in "1 0" "1 1" "4 0" "4 1"; do
		read -r st rev <<<"$cfg"
		: >"$PL_TMP/tp"
		for r in $(seq 1 "$RUNS"); do
			read -r bits bytes <<<"$(iperf "$TGT" "$IPORT" "$st" "$rev")"
			echo "$bits" >>"$PL_TMP/tp"
			bytes_total=$(echo "$bytes_total + ${bytes:-0}" | bc)
		done
		res+=("$(median <"$PL_TMP/tp" | awk '{printf "%.3f", $1/1e9}')")
	done
	for i in "${!CASE_PIDS[@]}"; do t1[i]=$(ticks "${CASE_PIDS[i]}"); done
	if [ -n "${BENCH_PERF:-}" ] && [ ${#CASE_PIDS[@]} -gt 0 ]; then # profile one 1-stream run
		local pids
		pids=$(IFS=,; echo "${CASE_PIDS[*]}")
		iperf "$TGT" "$IPORT" 1 0 >/dev/null &
		local ip=$!
		sleep 1
		timeout 30 perf record -q -g -p "$pids" -o "$OUT/perf-$name.data" -- sleep $((SECS > 2 ? SECS - 1 : 1)) >/dev/null 2>&1
		wait "$ip"
		perf report -i "$OUT/perf-$name.data" --stdio --no-children --sort comm,dso,sym 2>/dev/null |
			grep -v '^$' | grep -E '^ +[0-9]' | head -60 >"$OUT/perf-$name.txt"
		pl_log "case $name: perf profile in $OUT/perf-$name.txt"
	fi
	gb=$(echo "scale=6; $bytes_total / 1000000000" | bc)
	local cpu="" cpu_total=0
	for i in "${!CASE_PIDS[@]}"; do
		c=$(echo "scale=3; (${t1[i]} - ${t0[i]}) / $HZ / $gb" | bc 2>/dev/null || echo nan)
		cpu_total=$(echo "scale=3; $cpu_total + (${t1[i]} - ${t0[i]}) / $HZ / $gb" | bc 2>/dev/null || echo nan)
		cpu+="${CASE_PNAMES[i]}=$c "
	done
	[ ${#CASE_PIDS[@]} -eq 0 ] && cpu_total="nan"
	if [ "$PING" = yes ]; then
		ping_ms=$(ip netns exec "$PL_NS_CLI" timeout 60 ping -n -c "$PING_COUNT" -i 0.01 "$TGT" 2>/dev/null |
			sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | median)
	fi
	: >"$PL_TMP/pp"
	for r in $(seq 1 "$RUNS"); do
		ip netns exec "$PL_NS_CLI" timeout 60 "$PP" client "$TGT" "$PPORT" "$PP_COUNT" 64 2>/dev/null |
			awk '{print $2}' >>"$PL_TMP/pp"
	done
	pp_us=$(median <"$PL_TMP/pp")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${res[0]}" "${res[1]}" "${res[2]}" \
		"${res[3]}" "$ping_ms" "$pp_us" "$cpu_total" "${cpu% }" "${CASE_NOTE:-}" >>"$ROWS"
	pl_log "case $name: 1s fwd ${res[0]} rev ${res[1]} 4s fwd ${res[2]} rev ${res[3]} Gbit/s; ping $ping_ms ms; pingpong $pp_us us; CPU s/GB $cpu_total ($cpu)"
}

# ---- cases -------------------------------------------------------------------

case_link() {
	TGT=$PL_DEV_IP IPORT=5201 PPORT=5202 PING=yes CASE_PIDS=() CASE_PNAMES=() CASE_NOTE="veth, routed by the relay ns"
	CASE_NAME=link measure
}

case_socat() {
	local p1 p2
	pl_start socat-iperf "$PL_NS_PUB" socat -b65536 "TCP-LISTEN:15201,bind=$PL_PUB_CLI_IP,reuseaddr,fork" "TCP:$PL_DEV_IP:5201"
	p1=$PL_LAST_PID
	pl_start socat-pp "$PL_NS_PUB" socat -b65536 "TCP-LISTEN:15202,bind=$PL_PUB_CLI_IP,reuseaddr,fork,nodelay" "TCP:$PL_DEV_IP:5202,nodelay"
	p2=$PL_LAST_PID
	pl_wait_tcp "$PL_NS_PUB" "$PL_PUB_CLI_IP" 15201 && pl_wait_tcp "$PL_NS_PUB" "$PL_PUB_CLI_IP" 15202 || return 1
	TGT=$PL_PUB_CLI_IP IPORT=15201 PPORT=15202 PING=no CASE_PIDS=("$p1") CASE_PNAMES=(socat) CASE_NOTE="TCP only: no ping"
	CASE_NAME=socat measure
	stop_pid "$p1"
	stop_pid "$p2"
}

case_wireguard-go() {
	local d=$PL_TMP/wg pc pd
	mkdir -p "$d"
	(umask 077; wg genkey >"$d/c.key") && wg pubkey <"$d/c.key" >"$d/c.pub"
	(umask 077; wg genkey >"$d/d.key") && wg pubkey <"$d/d.key" >"$d/d.pub"
	export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
	pl_start wg-cli "$PL_NS_CLI" wireguard-go -f wgc
	pc=$PL_LAST_PID
	pl_start wg-dev "$PL_NS_DEV" wireguard-go -f wgd
	pd=$PL_LAST_PID
	for _ in $(seq 1 50); do
		ip -n "$PL_NS_CLI" link show wgc >/dev/null 2>&1 && ip -n "$PL_NS_DEV" link show wgd >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip netns exec "$PL_NS_CLI" wg set wgc private-key "$d/c.key" listen-port 51820 \
		peer "$(cat "$d/d.pub")" endpoint "$PL_DEV_IP:51820" allowed-ips 10.77.0.2/32 || return 1
	ip netns exec "$PL_NS_DEV" wg set wgd private-key "$d/d.key" listen-port 51820 \
		peer "$(cat "$d/c.pub")" endpoint "$PL_CLI_IP:51820" allowed-ips 10.77.0.1/32 || return 1
	ip -n "$PL_NS_CLI" addr add 10.77.0.1/24 dev wgc && ip -n "$PL_NS_CLI" link set wgc mtu 1420 up
	ip -n "$PL_NS_DEV" addr add 10.77.0.2/24 dev wgd && ip -n "$PL_NS_DEV" link set wgd mtu 1420 up
	wait_ping "$PL_NS_CLI" 10.77.0.2 10 || return 1
	TGT=10.77.0.2 IPORT=5201 PPORT=5202 PING=yes CASE_PIDS=("$pc" "$pd") CASE_PNAMES=(wg-cli wg-dev) CASE_NOTE="direct (not relayed), MTU 1420"
	CASE_NAME=wireguard-go measure
	stop_pid "$pc"
	stop_pid "$pd"
}

nebula_conf() { # NAME IP(unused) LIGHTHOUSE_ADDR AM_RELAY
	local n=$1 lh=$3 relay=$4 d=$PL_TMP/nebula
	cat <<EOF
pki: {ca: $d/ca.crt, cert: $d/$n.crt, key: $d/$n.key}
static_host_map: {"10.78.0.1": ["$lh:4242"]}
lighthouse:
  am_lighthouse: $relay
  interval: 60
  hosts: $([ "$relay" = true ] && echo '[]' || echo '["10.78.0.1"]')
listen: {host: 0.0.0.0, port: 4242}
punchy: {punch: false}
relay:
  am_relay: $relay
  use_relays: $([ "$relay" = true ] && echo false || echo true)
  relays: $([ "$relay" = true ] && echo '[]' || echo '["10.78.0.1"]')
tun: {disabled: $relay, dev: neb$n, mtu: 1300}
logging: {level: warning}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
EOF
}

case_nebula() {
	local d=$PL_TMP/nebula pr pc pd n
	mkdir -p "$d"
	nebula-cert ca -name plbench -out-crt "$d/ca.crt" -out-key "$d/ca.key" >/dev/null || return 1
	for n in r:10.78.0.1 c:10.78.0.2 d:10.78.0.3; do
		nebula-cert sign -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" -name "${n%%:*}" -ip "${n#*:}/24" \
			-out-crt "$d/${n%%:*}.crt" -out-key "$d/${n%%:*}.key" >/dev/null || return 1
	done
	nebula_conf r 10.78.0.1 127.0.0.1 true >"$d/r.yml"
	nebula_conf c 10.78.0.2 "$PL_PUB_CLI_IP" false >"$d/c.yml"
	nebula_conf d 10.78.0.3 "$PL_PUB_DEV_IP" false >"$d/d.yml"
	# Drop the direct path: the relay host forwards no UDP between client and device.
	ip netns exec "$PL_NS_PUB" nft -f - <<EOF || return 1
table inet plbench {
	chain pass { type filter hook forward priority 0; policy accept; meta l4proto udp drop; }
}
EOF
	pl_start nebula-r "$PL_NS_PUB" nebula -config "$d/r.yml"
	pr=$PL_LAST_PID
	pl_start nebula-c "$PL_NS_CLI" nebula -config "$d/c.yml"
	pc=$PL_LAST_PID
	pl_start nebula-d "$PL_NS_DEV" nebula -config "$d/d.yml"
	pd=$PL_LAST_PID
	sleep 1
	ip netns exec "$PL_NS_DEV" ping -c1 -W1 10.78.0.2 >/dev/null 2>&1 || true
	wait_ping "$PL_NS_CLI" 10.78.0.3 30 || return 1
	TGT=10.78.0.3 IPORT=5201 PPORT=5202 PING=yes CASE_PIDS=("$pc" "$pr" "$pd") CASE_PNAMES=(neb-cli neb-relay neb-dev) CASE_NOTE="relayed (direct UDP dropped), MTU 1300"
	CASE_NAME=nebula measure
	stop_pid "$pc"
	stop_pid "$pd"
	stop_pid "$pr"
	ip netns exec "$PL_NS_PUB" nft delete table inet plbench 2>/dev/null || true
}

fastd_conf() { # IFACE SECRET MYIP PEERKEY PEERADDR
	cat <<EOF
log level warn;
interface "$1";
mode tun;
method "salsa2012+umac";
bind 0.0.0.0:10000;
secret "$2";
mtu 1420;
on up "ip addr add $3/24 dev \$INTERFACE; ip link set up dev \$INTERFACE";
peer "peer" { key "$4"; remote $5:10000; }
EOF
}

case_fastd() {
	local d=$PL_TMP/fastd pc pd cs cp ds dp
	mkdir -p "$d"
	read -r cs cp <<<"$(fastd --generate-key 2>/dev/null | awk '/Secret/{s=$2} /Public/{p=$2} END{print s, p}')"
	read -r ds dp <<<"$(fastd --generate-key 2>/dev/null | awk '/Secret/{s=$2} /Public/{p=$2} END{print s, p}')"
	fastd_conf fstc "$cs" 10.79.0.1 "$dp" "$PL_DEV_IP" >"$d/c.conf"
	fastd_conf fstd "$ds" 10.79.0.2 "$cp" "$PL_CLI_IP" >"$d/d.conf"
	pl_start fastd-d "$PL_NS_DEV" fastd -c "$d/d.conf"
	pd=$PL_LAST_PID
	sleep 0.5 # listening before the client's first handshake (else it backs off for seconds)
	pl_start fastd-c "$PL_NS_CLI" fastd -c "$d/c.conf"
	pc=$PL_LAST_PID
	wait_ping "$PL_NS_CLI" 10.79.0.2 20 || return 1
	TGT=10.79.0.2 IPORT=5201 PPORT=5202 PING=yes CASE_PIDS=("$pc" "$pd") CASE_NOTE="direct, salsa2012+umac, MTU 1420"
	CASE_PNAMES=(fastd-cli fastd-dev)
	CASE_NAME=fastd measure
	stop_pid "$pc"
	stop_pid "$pd"
}

# portlessd on both ends with PORTLESS_TRANSPORT=$1 (udp|tcp); the device
# admits the iperf3 and ping-pong ports. Sets PL_DEV_PID, PL_CLI_PID, PL_DEV_VIP.
PORTLESS_WORLD=
portless_daemons() {
	[ -n "${PL_DEV_PID:-}" ] && stop_pid "$PL_DEV_PID"
	[ -n "${PL_CLI_PID:-}" ] && stop_pid "$PL_CLI_PID"
	if [ -z "$PORTLESS_WORLD" ]; then
		pl_world || return 1
		PL_USER=plbench$$
		pl_user "$PL_USER"
		PORTLESS_WORLD=1
	fi
	cat >"$PL_TMP/device.conf" <<CONF
[identity]
keys = $PL_TMP/device

[device]
enabled = yes
sshd-host-keys = $PL_TMP/sshd/host_ed25519.pub
allowed-ports = 22,5201,5202
idle-timeout = 10m
max-duration = 1h
max-sessions = 64
authorized-keys-users = $PL_USER

[allow @alice]
users = $PL_USER
CONF
	pl_sshd_hostkey
	pl_start portlessd-dev "$PL_NS_DEV" env PORTLESS_TRANSPORT="$1" PORTLESS_TUN_OFFLOAD="${2:-1}" \
		PORTLESS_TUN_MERGE="${PL_MERGE:-1}" \
		"$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
	PL_DEV_PID=$PL_LAST_PID
	pl_wait_log "$PL_TMP/portlessd-dev.log" "ready" 15 || return 1
	PL_DEV_VIP=$(sed -n 's/.*device role: @device is \([0-9.]*\) on .*/\1/p' "$PL_TMP/portlessd-dev.log" | head -1)
	if [ -z "${PL_SSHD_PID:-}" ]; then
		sysctl -qw net.ipv4.ip_nonlocal_bind=1 2>/dev/null || true
		ip netns exec "$PL_NS_DEV" sysctl -qw net.ipv4.ip_nonlocal_bind=1
		pl_sshd "$PL_NS_DEV" 127.0.0.1 "$PL_DEV_VIP" "$PL_DEV_IP"
		pl_wait_tcp "$PL_NS_DEV" "$PL_DEV_IP" 22 || return 1
	fi
	export PORTLESS_TRANSPORT=$1 PORTLESS_TUN_OFFLOAD=${2:-1} PORTLESS_TUN_MERGE=${PL_MERGE:-1}
	pl_client
	unset PORTLESS_TRANSPORT PORTLESS_TUN_OFFLOAD PORTLESS_TUN_MERGE
}

case_portless() { # udp|tcp [0: TUN offload off]
	local tr=$1 off=${2:-1} up ms
	portless_daemons "$tr" "$off" || return 1
	: >"$PL_TMP/up-$tr.log"
	ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 900 \
		"$PL_BIN/portless" up "$PL_USER@@device" >"$PL_TMP/up-$tr.log" 2>&1 &
	up=$!
	PL_PIDS+=("$up")
	pl_wait_log "$PL_TMP/up-$tr.log" "ready in" 20 || return 1
	ms=$(sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$PL_TMP/up-$tr.log" | head -1)
	TGT=$(sed -n 's/^ssh .* [^ ]*@\([0-9.]*\)$/\1/p' "$PL_TMP/up-$tr.log" | head -1)
	grep -q "over $(echo "$tr" | tr a-z A-Z)" "$PL_TMP/portlessd-alice.log" ||
		pl_log "warning: portless-$tr: session not over $tr? $(grep 'up:' "$PL_TMP/portlessd-alice.log" | tail -1)"
	wait_ping "$PL_NS_CLI" "$TGT" 10 || return 1
	IPORT=5201 PPORT=5202 PING=yes CASE_PIDS=("$PL_CLI_PID" "$PL_SR_PID" "$PL_DEV_PID")
	CASE_PNAMES=(portlessd-cli portless-sr portlessd-dev)
	CASE_NOTE="relayed by portless-sr over $tr; tunnel up in $ms ms"
	CASE_NAME=portless-$tr
	[ "$off" = 0 ] && CASE_NAME+=-nooffload CASE_NOTE+="; TUN offload off"
	CASE_NAME+=${SR_SUFFIX:-} CASE_NOTE+=${SR_NOTE:-}
	measure
	stop_pid "$up"
}
case_portless-udp() { case_portless udp; }
case_portless-tcp() { case_portless tcp; }
case_portless-udp-nooffload() { case_portless udp 0; }
case_portless-tcp-nooffload() { case_portless tcp 0; }
case_portless-udp-nomerge() { # received UDP segments written one by one (no merging)
	PL_MERGE=0 SR_SUFFIX=-nomerge SR_NOTE="; no receive merging" case_portless udp
}
case_portless-tcp-nosplice() { # the relay restarted without splice(2), then as shipped again
	local rc=0
	[ -n "$PORTLESS_WORLD" ] || { portless_daemons tcp 1 || return 1; }
	sr_restart PORTLESS_SR_NO_SPLICE=1 || return 1
	SR_SUFFIX=-nosplice SR_NOTE="; relay copies (no splice)" case_portless tcp || rc=1
	sr_restart || return 1
	return $rc
}
sr_restart() { # [VAR=VALUE...]: a fresh relay, connected to its home
	stop_pid "$PL_SR_PID"
	pl_sr_start "$@"
	pl_wait_log "$PL_TMP/sr.log" "connected to the home" 15
}

# Set-up time: `portless ssh @device -- true` vs plain ssh over the underlay.
setup_times() {
	local i t0 t1 home
	portless_daemons auto 1 || return 1 # auto transport (UDP first), as shipped
	ssh-keygen -q -t ed25519 -N '' -f "$PL_TMP/plainkey"
	home=$(getent passwd "$PL_USER" | cut -d: -f6)
	mkdir -p "$home/.ssh"
	cat "$PL_TMP/plainkey.pub" >>"$home/.ssh/authorized_keys"
	chown -R "$PL_USER:" "$home/.ssh"
	chmod 700 "$home/.ssh"
	chmod 600 "$home/.ssh/authorized_keys"
	pl_log "set-up: $SETUP_RUNS x portless ssh and plain ssh"
	: >"$PL_TMP/t-pl"
	: >"$PL_TMP/t-ready"
	: >"$PL_TMP/t-ssh"
	for i in $(seq 1 "$SETUP_RUNS"); do
		t0=$(date +%s%N)
		ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
			"$PL_BIN/portless" ssh "$PL_USER@@device" -- true 2>"$PL_TMP/pssh.err" >/dev/null || continue
		t1=$(date +%s%N)
		echo "($t1 - $t0) / 1000000" | bc >>"$PL_TMP/t-pl"
		sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$PL_TMP/pssh.err" >>"$PL_TMP/t-ready"
		t0=$(date +%s%N)
		ip netns exec "$PL_NS_CLI" timeout 60 ssh -i "$PL_TMP/plainkey" -o IdentitiesOnly=yes -o BatchMode=yes \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
			"$PL_USER@$PL_DEV_IP" true >/dev/null 2>&1 || continue
		t1=$(date +%s%N)
		echo "($t1 - $t0) / 1000000" | bc >>"$PL_TMP/t-ssh"
	done
	SETUP_READY=$(median <"$PL_TMP/t-ready")
	SETUP_PL=$(median <"$PL_TMP/t-pl")
	SETUP_SSH=$(median <"$PL_TMP/t-ssh")
	SETUP_N="$(wc -l <"$PL_TMP/t-pl")/$(wc -l <"$PL_TMP/t-ssh")"
	pl_log "set-up: tunnel ready $SETUP_READY ms; portless ssh -- true $SETUP_PL ms; plain ssh $SETUP_SSH ms (runs ok $SETUP_N)"
	parallel_setup
}

# $PAR_RUNS `portless ssh @device -- true` started at once from one client
# host: each one's tunnel-ready time and whole command time (median, max).
parallel_setup() {
	local i pids=() t0
	pl_log "set-up: $PAR_RUNS x portless ssh at once"
	t0=$(date +%s%N)
	for i in $(seq 1 "$PAR_RUNS"); do
		(
			ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
				"$PL_BIN/portless" ssh "$PL_USER@@device" -- true 2>"$PL_TMP/par$i.err" >/dev/null &&
				echo "($(date +%s%N) - $t0) / 1000000" | bc >"$PL_TMP/par$i.t"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$PL_TMP"/par*.t 2>/dev/null >"$PL_TMP/t-par"
	sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$PL_TMP"/par*.err >"$PL_TMP/t-par-ready"
	PAR_N=$(wc -l <"$PL_TMP/t-par")
	PAR_READY=$(median <"$PL_TMP/t-par-ready")
	PAR_READY_MAX=$(sort -g "$PL_TMP/t-par-ready" | tail -1)
	PAR_CMD=$(median <"$PL_TMP/t-par")
	PAR_CMD_MAX=$(sort -g "$PL_TMP/t-par" | tail -1)
	pl_log "set-up at once: tunnel ready median $PAR_READY max $PAR_READY_MAX ms; portless ssh -- true median $PAR_CMD max $PAR_CMD_MAX ms (ok $PAR_N of $PAR_RUNS)"
}

# ---- run ---------------------------------------------------------------------

T_START=$(date +%s)
pl_log "topology: $PL_NS_CLI ($PL_CLI_IP) -- $PL_NS_PUB -- $PL_NS_DEV ($PL_DEV_IP); runs=$RUNS secs=$SECS"
pl_topology_up
pl_start iperf3 "$PL_NS_DEV" iperf3 -s -p 5201
pl_start pingpong "$PL_NS_DEV" "$PP" server 0.0.0.0 5202 3000
pl_wait_tcp "$PL_NS_DEV" "$PL_DEV_IP" 5201 || exit 1
SETUP_READY=nan SETUP_PL=nan SETUP_SSH=nan SETUP_N=0
PAR_READY=nan PAR_READY_MAX=nan PAR_CMD=nan PAR_CMD_MAX=nan PAR_N=0
for c in $CASES; do
	if ! "case_$c"; then
		pl_log "case $c FAILED; last log lines:"
		for f in "$PL_TMP"/*.log; do echo "--- $f"; tail -n 4 "$f"; done >&2
		printf '%s\tnan\tnan\tnan\tnan\tnan\tnan\tnan\t\tFAILED\n' "$c" >>"$ROWS"
	fi
done
case " $CASES " in *" portless-"*) setup_times ;; esac
T_END=$(date +%s)

MACHINE="$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
python3 - "$ROWS" "$OUT/bench-$STAMP" "$MACHINE" "$RUNS" "$SECS" "$((T_END - T_START))" \
	"$SETUP_READY" "$SETUP_PL" "$SETUP_SSH" "$SETUP_N" "$SETUP_RUNS" \
	"$PAR_RUNS" "$PAR_N" "$PAR_READY" "$PAR_READY_MAX" "$PAR_CMD" "$PAR_CMD_MAX" <<'PY'
import json, math, sys
rows_f, base, machine, runs, secs, took, s_ready, s_pl, s_ssh, s_n, s_runs = sys.argv[1:12]
p_runs, p_n, p_ready, p_ready_max, p_cmd, p_cmd_max = sys.argv[12:18]
def num(x):
    try:
        v = float(x)
        return None if math.isnan(v) else v
    except ValueError:
        return None
cols = ["case", "tcp1_fwd", "tcp1_rev", "tcp4_fwd", "tcp4_rev", "ping_ms", "pingpong_us", "cpu_s_per_gb", "cpu_by_process", "note"]
rows = []
for line in open(rows_f):
    f = line.rstrip("\n").split("\t")
    f += [""] * (len(cols) - len(f))
    r = dict(zip(cols, f))
    for k in cols[1:8]:
        r[k] = num(r[k])
    rows.append(r)
def fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"
md = []
md.append(f"Machine: {machine}. Medians of {runs} runs of {secs} s (iperf3), {runs} x ping-pong; whole run {took} s.")
md.append("")
md.append("| case | 1 stream c->d Gbit/s | 1 stream d->c | 4 streams c->d | 4 streams d->c | ping ms | 64 B ping-pong us | CPU s/GB | CPU s/GB by process | note |")
md.append("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    md.append(f"| {r['case']} | {fmt(r['tcp1_fwd'])} | {fmt(r['tcp1_rev'])} | {fmt(r['tcp4_fwd'])} | {fmt(r['tcp4_rev'])} | {fmt(r['ping_ms'],3)} | {fmt(r['pingpong_us'],1)} | {fmt(r['cpu_s_per_gb'])} | {r['cpu_by_process'] or '-'} | {r['note']} |")
ratios = []
pl = [r for r in rows if r["case"] in ("portless-udp", "portless-tcp")]
peers = [r for r in rows if not r["case"].startswith("portless")] + [r for r in rows if r["case"].endswith(("-nooffload", "-nosplice", "-nomerge"))]
if pl and peers:
    md.append("")
    md.append("Ratios portless / peer (throughput: >1 is better for portless; ping and ping-pong: portless minus peer, <0 is better):")
    md.append("")
    md.append("| portless | peer | 1 stream c->d | 1 stream d->c | 4 streams c->d | 4 streams d->c | ping diff ms | ping-pong diff us |")
    md.append("|---|---|---|---|---|---|---|---|")
    for p in pl:
        for q in peers:
            rr = {"portless": p["case"], "peer": q["case"]}
            for k in ("tcp1_fwd", "tcp1_rev", "tcp4_fwd", "tcp4_rev"):
                rr[k] = p[k] / q[k] if p[k] is not None and q[k] else None
            rr["ping_diff_ms"] = p["ping_ms"] - q["ping_ms"] if p["ping_ms"] is not None and q["ping_ms"] is not None else None
            rr["pingpong_diff_us"] = p["pingpong_us"] - q["pingpong_us"] if p["pingpong_us"] is not None and q["pingpong_us"] is not None else None
            ratios.append(rr)
            md.append(f"| {p['case']} | {q['case']} | {fmt(rr['tcp1_fwd'])} | {fmt(rr['tcp1_rev'])} | {fmt(rr['tcp4_fwd'])} | {fmt(rr['tcp4_rev'])} | {fmt(rr['ping_diff_ms'],3)} | {fmt(rr['pingpong_diff_us'],1)} |")
setup = {"runs": int(s_runs), "ok": s_n, "tunnel_ready_ms": num(s_ready), "portless_ssh_true_ms": num(s_pl), "plain_ssh_true_ms": num(s_ssh)}
if setup["tunnel_ready_ms"] is not None or setup["portless_ssh_true_ms"] is not None:
    md.append("")
    md.append(f"Set-up (medians of {s_runs}, ok {s_n}): tunnel ready {fmt(setup['tunnel_ready_ms'],0)} ms; `portless ssh @device -- true` {fmt(setup['portless_ssh_true_ms'],0)} ms; plain `ssh` to the same sshd over the underlay {fmt(setup['plain_ssh_true_ms'],0)} ms.")
setup["parallel"] = {"sessions": int(p_runs), "ok": int(p_n), "tunnel_ready_ms_median": num(p_ready), "tunnel_ready_ms_max": num(p_ready_max), "portless_ssh_true_ms_median": num(p_cmd), "portless_ssh_true_ms_max": num(p_cmd_max)}
if num(p_ready) is not None:
    pp = setup["parallel"]
    md.append("")
    md.append(f"{p_runs} sessions started at once from one client host (ok {p_n}): tunnel ready median {fmt(pp['tunnel_ready_ms_median'],0)} ms, max {fmt(pp['tunnel_ready_ms_max'],0)} ms; `portless ssh @device -- true` median {fmt(pp['portless_ssh_true_ms_median'],0)} ms, max {fmt(pp['portless_ssh_true_ms_max'],0)} ms.")
text = "\n".join(md) + "\n"
open(base + ".md", "w").write(text)
json.dump({"machine": machine, "runs": int(runs), "seconds": int(secs), "took_s": int(took), "rows": rows, "ratios": ratios, "setup": setup}, open(base + ".json", "w"), indent=1)
print(text)
PY
echo "results: $OUT/bench-$STAMP.md $OUT/bench-$STAMP.json"
