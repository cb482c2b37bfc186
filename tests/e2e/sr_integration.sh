#!/usr/bin/env bash
# SR integration test (loopback): a real portless-cp, a real portless-sr that
# gets its ticket requests as notifications, and two SR-client test programs
# (sr_peer) exchanging 100,000 packets each way through the SR:
#   - UDP (order-independent check, >= 90% delivered: the machine is shared and UDP may drop under load, with rekeys),
#   - TCP (every packet exactly once, with rekeys; the relay splices it),
#   - automatic fallback to TCP when UDP gets no answer (mixed session),
#   - a tampering proxy flips bits: the receiver drops + counts, session goes on,
#   - a refused requester (--allow) gets an error answer,
#   - a tcpdump capture of the SR ports holds none of the plaintext marker.
# Needs root only for the capture (skipped otherwise).
set -u
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
SR=$B/cli/portless-sr
PEER=$B/tests/sr_peer
TAMPER=$B/tests/sr_tamper
T=$(mktemp -d /tmp/sr-e2e.XXXXXX)
MARKER="PLAINTEXT-MARKER-$RANDOM-$RANDOM"
PIDS=()
fails=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ "$fails" -ne 0 ]; then
		echo "--- relay log"; tail -n 40 "$T/sr.log"
	fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
free_udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_tcp() {
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

for x in "$CP" "$PL" "$SR" "$PEER" "$TAMPER"; do
	[ -x "$x" ] || { echo "missing $x"; exit 1; }
done

# ---- control plane and enrollment
CPPORT=$(free_port)
KEY=$("$CP" init --data "$T/cp" 2>/dev/null) || { echo "cp init failed"; exit 1; }
"$CP" add @relay @alice @dev @mallory --data "$T/cp" >"$T/codes" || exit 1
code() { awk -v h="$1" '$1==h{print $2}' "$T/codes"; }
"$CP" serve --data "$T/cp" --listen "127.0.0.1:$CPPORT" >"$T/cp.log" 2>&1 &
PIDS+=($!)
wait_tcp "$CPPORT" || { echo "cp did not start"; exit 1; }
for h in relay alice dev mallory; do
	"$PL" enroll @$h --cp 127.0.0.1:$CPPORT --server-key "$KEY" --code "$(code @$h)" \
		--keys "$T/k_$h" >/dev/null 2>&1 || { echo "enroll @$h failed"; exit 1; }
done
ok "control plane up, @relay @alice @dev @mallory enrolled"

# ---- the relay
SRT=$(free_port)
SRU=$(free_udp_port)
"$SR" --keys "$T/k_relay" --tcp 127.0.0.1:$SRT --udp 127.0.0.1:$SRU --advertise 127.0.0.1 \
	--allow @alice,@dev --idle-timeout 60 --log-level info >"$T/sr.log" 2>&1 &
PIDS+=($!)
wait_tcp "$SRT" || { echo "portless-sr did not start"; cat "$T/sr.log"; exit 1; }
for _ in $(seq 50); do grep -q "connected to the home" "$T/sr.log" && break; sleep 0.1; done
grep -q "connected to the home" "$T/sr.log" && ok "portless-sr monitors its home" ||
	bad "portless-sr not connected to its home: $(cat "$T/sr.log")"

# ---- capture at the SR (root + tcpdump)
CAP=
if [ "$(id -u)" = 0 ] && command -v tcpdump >/dev/null; then
	tcpdump -i lo -U -s 0 -w "$T/cap.pcap" "port $SRT or port $SRU" >"$T/tcpdump.log" 2>&1 &
	CAP=$!
	PIDS+=($CAP)
	for _ in $(seq 50); do grep -q "listening" "$T/tcpdump.log" && break; sleep 0.1; done
fi

# run NAME "A-ARGS" "B-ARGS" "COMMON-ARGS": one session, side A asks @relay for the ticket
session() {
	local name=$1 aargs=$2 bargs=$3 common=$4 d="$T/$1"
	mkdir -p "$d"
	# shellcheck disable=SC2086
	timeout 90 "$PEER" --side b --me @dev --peer @alice --handoff "$d" --marker "$MARKER" \
		$common $bargs >"$d/b.out" 2>"$d/b.err" &
	local bp=$!
	# shellcheck disable=SC2086
	timeout 90 "$PEER" --side a --me @alice --peer @dev --handoff "$d" --marker "$MARKER" \
		--keys "$T/k_alice" --relay @relay $common $aargs >"$d/a.out" 2>"$d/a.err"
	echo $? >"$d/a.rc"
	wait $bp
	echo $? >"$d/b.rc"
}
field() { grep -o "$2=[^ ]*" "$1" | head -1 | cut -d= -f2; }
check() { # NAME: both sides exited 0
	local d="$T/$1"
	if [ "$(cat "$d/a.rc")" = 0 ] && [ "$(cat "$d/b.rc")" = 0 ]; then
		ok "$1: $(cat "$d/a.out") | $(cat "$d/b.out")"
	else
		bad "$1: a rc $(cat "$d/a.rc") b rc $(cat "$d/b.rc")"
		tail -n 5 "$d/a.err" "$d/b.err" "$d/a.out" "$d/b.out"
	fi
}

N=100000
session udp "" "" "--count $N --size 1000 --transport udp --rate 50000 --min-recv 0.90 --rekey-packets 30000"
check udp
[ "$(field "$T/udp/a.out" transport)" = udp ] && [ "$(field "$T/udp/b.out" transport)" = udp ] &&
	ok "udp: both sides used UDP" || bad "udp: transport"
[ "$(field "$T/udp/b.out" rekeys)" -ge 1 ] 2>/dev/null && ok "udp: rekeyed without dropping the session" ||
	bad "udp: no rekey"

session tcp "" "" "--count $N --size 1000 --transport tcp --rate 0 --exact --rekey-packets 30000"
check tcp
[ "$(field "$T/tcp/b.out" recv)" = $N ] && [ "$(field "$T/tcp/a.out" recv)" = $N ] &&
	ok "tcp: no loss" || bad "tcp: loss"
[ "$(field "$T/tcp/a.out" rekeys)" -ge 1 ] 2>/dev/null && ok "tcp: rekeyed" || bad "tcp: no rekey"
grep -q "end @alice -> @dev reason=.* A=tcp B=tcp spliced " "$T/sr.log" &&
	ok "tcp: the relay moved the TCP<->TCP session with splice(2)" || bad "tcp: session not spliced"

# UDP "blocked" for A (its UDP goes to a port nobody answers on): A falls back to TCP by itself.
DEAD=$(free_udp_port)
session fallback "--sr-udp 127.0.0.1:$DEAD" "" "--count 20000 --size 500 --rate 20000 --min-recv 0.90"
check fallback
[ "$(field "$T/fallback/a.out" transport)" = tcp ] && grep -q "falling back to TCP" "$T/fallback/a.err" &&
	ok "fallback: A fell back to TCP after the UDP hello went unanswered" ||
	bad "fallback: A did not fall back ($(cat "$T/fallback/a.out"))"
[ "$(field "$T/fallback/b.out" transport)" = udp ] && ok "fallback: mixed session (A tcp, B udp) relayed" ||
	bad "fallback: B transport"

# Tampering proxies between A and the SR: every 1000th sealed packet gets a bit flipped.
TU=$(free_udp_port)
"$TAMPER" --udp 127.0.0.1:$TU 127.0.0.1:$SRU --every 1000 --seconds 60 >"$T/tamper_udp.out" 2>&1 &
TUP=$!; PIDS+=($TUP)
session tamper_udp "--sr-udp 127.0.0.1:$TU" "--expect-tamper" \
	"--count 20000 --size 600 --transport udp --rate 20000 --min-recv 0.90"
check tamper_udp
kill $TUP; wait $TUP 2>/dev/null
TT=$(free_port)
"$TAMPER" --tcp 127.0.0.1:$TT 127.0.0.1:$SRT --every 1000 --seconds 60 >"$T/tamper_tcp.out" 2>&1 &
TTP=$!; PIDS+=($TTP)
for _ in $(seq 50); do grep -q ready "$T/tamper_tcp.out" && break; sleep 0.1; done
session tamper_tcp "--sr-tcp 127.0.0.1:$TT" "--expect-tamper" \
	"--count 20000 --size 600 --transport tcp --rate 0 --min-recv 0.99"
check tamper_tcp
kill $TTP; wait $TTP 2>/dev/null
for t in tamper_udp tamper_tcp; do
	dt=$(field "$T/$t/b.out" drop_tag)
	[ "${dt:-0}" -ge 1 ] && [ "$(field "$T/$t/b.out" bad)" = 0 ] &&
		ok "$t: receiver dropped and counted $dt tampered packets, delivered nothing forged, session went on" ||
		bad "$t: drop_tag=$dt"
done

# A requester outside --allow gets an error answer, not a ticket.
mkdir -p "$T/denied"
timeout 20 "$PEER" --side a --me @mallory --peer @dev --handoff "$T/denied" --keys "$T/k_mallory" \
	--relay @relay --count 1 >"$T/denied/a.out" 2>"$T/denied/a.err"
grep -q "ticket refused: not allowed" "$T/denied/a.err" && ok "denied: @mallory refused by --allow" ||
	bad "denied: $(cat "$T/denied/a.err")"

# Relay log: one start and one end line per session, with sizes and a reason.
starts=$(grep -c "session .* start @alice -> @dev" "$T/sr.log")
ends=$(grep -c "session .* end @alice -> @dev reason=" "$T/sr.log")
[ "$starts" -ge 5 ] && [ "$ends" -ge 5 ] && ok "relay logged $starts session starts and $ends ends" ||
	bad "relay log: starts=$starts ends=$ends"
grep -q "ticket for @mallory refused" "$T/sr.log" && ok "relay logged the refusal" || bad "refusal not logged"

# The capture holds ciphertext only.
if [ -n "$CAP" ]; then
	sleep 0.5
	kill "$CAP"; wait "$CAP" 2>/dev/null
	size=$(stat -c %s "$T/cap.pcap")
	hits=$(grep -a -c "$MARKER" "$T/cap.pcap")
	[ "$size" -gt 10000000 ] && [ "$hits" = 0 ] &&
		ok "capture at the SR: $size bytes, no plaintext marker" ||
		bad "capture: size=$size marker hits=$hits"
elif [ "$(id -u)" = 0 ]; then
	bad "capture: tcpdump missing (scripts/install-deps.sh installs it)"
else
	echo "skip capture check (needs root)"
fi

[ "$fails" -eq 0 ] && echo "all SR integration checks passed" || echo "$fails SR integration check(s) failed"
exit $((fails > 0))
