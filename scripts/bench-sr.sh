#!/usr/bin/env bash
# bench-sr.sh: throughput and memory of the socket rendezvous on loopback.
#
#   scripts/bench-sr.sh BUILD_DIR      (use an optimised build: -DCMAKE_BUILD_TYPE=Release)
#
# 1. pps and Gbit/s of one SR-client pair through the relay (side A -> side B,
#    sealed end to end), 1400-byte packets over UDP and TCP, 64 KiB
#    super-packets over TCP (UDP carries at most 1420-byte plaintexts);
# 2. the relay's CPU seconds per Gbit relayed (utime+stime of its process);
# 3. the relay's RSS with 10,000 idle paired sessions (TCP and UDP).
# The relay is sr_relay_local (the relay library of portless-sr without the
# control plane client). Every step is bounded in packets and time; every
# process started here is killed by PID on exit.
set -u
B=${1:-${PORTLESS_BUILD:-}}
[ -n "$B" ] || { echo "usage: $0 BUILD_DIR"; exit 2; }
RELAY=$B/tests/sr_relay_local
PEER=$B/tests/sr_peer
IDLE=$B/tests/sr_idle
for x in "$RELAY" "$PEER" "$IDLE"; do [ -x "$x" ] || { echo "missing $x"; exit 1; }; done
T=$(mktemp -d /tmp/bench-sr.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 30000 2>/dev/null

port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

start_relay() { # N_TICKETS
	TP=$(port STREAM); UP=$(port DGRAM)
	mkdir -p "$T/r$TP"
	"$RELAY" --tcp 127.0.0.1:$TP --udp 127.0.0.1:$UP --tickets "$1" --out "$T/r$TP" --idle 600 --ttl 120 \
		>"$T/relay.out" 2>"$T/relay.err" &
	RP=$!; PIDS+=($RP)
	for _ in $(seq 200); do grep -q ready "$T/relay.out" 2>/dev/null && return 0; sleep 0.05; done
	echo "relay did not start"; cat "$T/relay.err"; exit 1
}
stop_relay() { kill "$RP" 2>/dev/null; wait "$RP" 2>/dev/null; }

# run TRANSPORT SIZE COUNT RATE: A sends COUNT packets of SIZE to B
run() {
	local tr=$1 size=$2 count=$3 rate=$4 d c0 c1 out
	start_relay 1
	d="$T/h$TP"; mkdir -p "$d"
	timeout 120 "$PEER" --side b --me @dev --peer @alice --handoff "$d" --count 0 --expect "$count" \
		--size "$size" --transport "$tr" --min-recv 0 --timeout 100 >"$d/b.out" 2>"$d/b.err" &
	local bp=$!
	c0=$(cpu_ticks "$RP")
	timeout 120 "$PEER" --side a --me @alice --peer @dev --handoff "$d" --ticket-file "$T/r$TP/ticket.0" \
		--count "$count" --expect 0 --size "$size" --transport "$tr" --rate "$rate" --min-recv 0 \
		--timeout 100 >"$d/a.out" 2>"$d/a.err"
	wait $bp
	c1=$(cpu_ticks "$RP")
	stop_relay
	out=$(cat "$d/b.out")
	local recv pps gbps cpu
	recv=$(grep -o 'recv=[0-9]*' <<<"$out" | head -1 | cut -d= -f2)
	pps=$(grep -o 'rx_pps=[0-9.]*' <<<"$out" | cut -d= -f2)
	gbps=$(grep -o 'rx_gbps=[0-9.]*' <<<"$out" | cut -d= -f2)
	cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}')
	local gbit
	gbit=$(awk -v n="${recv:-0}" -v s="$size" 'BEGIN{printf "%.3f", n * s * 8 / 1e9}')
	printf "%-4s %6s B  sent %7s  recv %7s  %9s pps  %7s Gbit/s  relay CPU %5ss for %6s Gbit = %s CPU-s/Gbit\n" \
		"$tr" "$size" "$count" "${recv:-?}" "${pps:-?}" "${gbps:-?}" "$cpu" "$gbit" \
		"$(awk -v c="$cpu" -v g="$gbit" 'BEGIN{ if (g > 0) printf "%.2f", c / g; else print "?" }')"
}

echo "== throughput through the relay (one pair, A -> B, sealed; $(nproc) cores shared)"
run udp 1400 300000 150000
run udp 1400 300000 0
run tcp 1400 300000 0
run tcp 65536 20000 0

idle() { # TRANSPORT N
	local tr=$1 n=$2 before after
	start_relay "$n"
	before=$(rss_kb "$RP")
	timeout 300 "$IDLE" --dir "$T/r$TP" --count "$n" --$tr 127.0.0.1:$([ "$tr" = tcp ] && echo $TP || echo $UP) \
		--seconds 60 >"$T/idle.out" 2>&1 &
	local ip=$!; PIDS+=($ip)
	for _ in $(seq 1200); do grep -q paired "$T/idle.out" && break; sleep 0.1; done
	sleep 1
	after=$(rss_kb "$RP")
	echo "$tr: $(cat "$T/idle.out"): relay RSS ${before} kB with $n tickets issued -> ${after} kB with them paired ($(awk -v a="$after" -v n="$n" 'BEGIN{printf "%.0f", a * 1024 / n}') B/session all-in)"
	kill $ip 2>/dev/null; wait $ip 2>/dev/null
	stop_relay
}
echo "== memory: 10,000 idle paired sessions (goal <= 256 MB RSS)"
idle tcp 10000
idle udp 10000
