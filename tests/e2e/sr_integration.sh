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
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
SR=$B/cli/portless-sr
PEER=$B/tests/sr_peer
TAMPER=$B/tests/sr_tamper
MARKER="PLAINTEXT-MARKER-$RANDOM-$RANDOM"

for x in "$CP" "$PL" "$SR" "$PEER" "$TAMPER"; do
	[ -x "$x" ] || { echo "missing $x"; exit 1; }
done
pl_loop_setup
T=$PL_TMP

# ---- control plane and enrollment
pl_lo_cp @relay @alice @dev @mallory
pl_ok "control plane up, @relay @alice @dev @mallory enrolled"

# ---- the relay
pl_lo_sr --allow @alice,@dev --idle-timeout 60 --log-level info
SRT=$PL_SR_TCP
SRU=$PL_SR_UDP
pl_wait_log "$T/sr.log" "connected to the home" 5 2>/dev/null
grep -q "connected to the home" "$T/sr.log" && pl_ok "portless-sr monitors its home" ||
	pl_fail "portless-sr not connected to its home: $(cat "$T/sr.log")"

# ---- capture at the SR (root + tcpdump)
CAP=
if [ "$(id -u)" = 0 ] && command -v tcpdump >/dev/null; then
	pl_bg tcpdump tcpdump -i lo -U -s 0 -w "$T/cap.pcap" "port $SRT or port $SRU"
	CAP=$PL_LAST_PID
	pl_wait_log "$T/tcpdump.log" "listening" 5
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
check() { # NAME: both sides exited 0
	local d="$T/$1"
	if [ "$(cat "$d/a.rc")" = 0 ] && [ "$(cat "$d/b.rc")" = 0 ]; then
		pl_ok "$1: $(cat "$d/a.out") | $(cat "$d/b.out")"
	else
		pl_fail "$1: a rc $(cat "$d/a.rc") b rc $(cat "$d/b.rc")"
		tail -n 5 "$d/a.err" "$d/b.err" "$d/a.out" "$d/b.out"
	fi
}

N=100000
session udp "" "" "--count $N --size 1000 --transport udp --rate 50000 --min-recv 0.90 --rekey-packets 30000"
check udp
[ "$(pl_field "$T/udp/a.out" transport)" = udp ] && [ "$(pl_field "$T/udp/b.out" transport)" = udp ] &&
	pl_ok "udp: both sides used UDP" || pl_fail "udp: transport"
[ "$(pl_field "$T/udp/b.out" rekeys)" -ge 1 ] 2>/dev/null && pl_ok "udp: rekeyed without dropping the session" ||
	pl_fail "udp: no rekey"

session tcp "" "" "--count $N --size 1000 --transport tcp --rate 0 --exact --rekey-packets 30000"
check tcp
[ "$(pl_field "$T/tcp/b.out" recv)" = $N ] && [ "$(pl_field "$T/tcp/a.out" recv)" = $N ] &&
	pl_ok "tcp: no loss" || pl_fail "tcp: loss"
[ "$(pl_field "$T/tcp/a.out" rekeys)" -ge 1 ] 2>/dev/null && pl_ok "tcp: rekeyed" || pl_fail "tcp: no rekey"
grep -q "end @alice -> @dev reason=.* A=tcp B=tcp spliced " "$T/sr.log" &&
	pl_ok "tcp: the relay moved the TCP<->TCP session with splice(2)" || pl_fail "tcp: session not spliced"

# UDP "blocked" for A (its UDP goes to a port nobody answers on): A falls back to TCP by itself.
DEAD=$(pl_free_port udp)
session fallback "--sr-udp 127.0.0.1:$DEAD" "" "--count 20000 --size 500 --rate 20000 --min-recv 0.90"
check fallback
[ "$(pl_field "$T/fallback/a.out" transport)" = tcp ] && grep -q "falling back to TCP" "$T/fallback/a.err" &&
	pl_ok "fallback: A fell back to TCP after the UDP hello went unanswered" ||
	pl_fail "fallback: A did not fall back ($(cat "$T/fallback/a.out"))"
[ "$(pl_field "$T/fallback/b.out" transport)" = udp ] && pl_ok "fallback: mixed session (A tcp, B udp) relayed" ||
	pl_fail "fallback: B transport"

# Tampering proxies between A and the SR: every 1000th sealed packet gets a bit flipped.
TU=$(pl_free_port udp)
pl_bg tamper_udp "$TAMPER" --udp 127.0.0.1:$TU 127.0.0.1:$SRU --every 1000 --seconds 60
TUP=$PL_LAST_PID
session tamper_udp "--sr-udp 127.0.0.1:$TU" "--expect-tamper" \
	"--count 20000 --size 600 --transport udp --rate 20000 --min-recv 0.90"
check tamper_udp
pl_stop $TUP
TT=$(pl_free_port tcp)
pl_bg tamper_tcp "$TAMPER" --tcp 127.0.0.1:$TT 127.0.0.1:$SRT --every 1000 --seconds 60
TTP=$PL_LAST_PID
pl_wait_log "$T/tamper_tcp.log" ready 5
session tamper_tcp "--sr-tcp 127.0.0.1:$TT" "--expect-tamper" \
	"--count 20000 --size 600 --transport tcp --rate 0 --min-recv 0.99"
check tamper_tcp
pl_stop $TTP
for t in tamper_udp tamper_tcp; do
	dt=$(pl_field "$T/$t/b.out" drop_tag)
	[ "${dt:-0}" -ge 1 ] && [ "$(pl_field "$T/$t/b.out" bad)" = 0 ] &&
		pl_ok "$t: receiver dropped and counted $dt tampered packets, delivered nothing forged, session went on" ||
		pl_fail "$t: drop_tag=$dt"
done

# A requester outside --allow gets an error answer, not a ticket.
mkdir -p "$T/denied"
timeout 20 "$PEER" --side a --me @mallory --peer @dev --handoff "$T/denied" --keys "$T/k_mallory" \
	--relay @relay --count 1 >"$T/denied/a.out" 2>"$T/denied/a.err"
grep -q "ticket refused: not allowed" "$T/denied/a.err" && pl_ok "denied: @mallory refused by --allow" ||
	pl_fail "denied: $(cat "$T/denied/a.err")"

# Relay log: one start and one end line per session, with sizes and a reason.
starts=$(grep -c "session .* start @alice -> @dev" "$T/sr.log")
ends=$(grep -c "session .* end @alice -> @dev reason=" "$T/sr.log")
[ "$starts" -ge 5 ] && [ "$ends" -ge 5 ] && pl_ok "relay logged $starts session starts and $ends ends" ||
	pl_fail "relay log: starts=$starts ends=$ends"
grep -q "ticket for @mallory refused" "$T/sr.log" && pl_ok "relay logged the refusal" || pl_fail "refusal not logged"

# The capture holds ciphertext only.
if [ -n "$CAP" ]; then
	sleep 0.5
	pl_stop "$CAP"
	size=$(stat -c %s "$T/cap.pcap")
	hits=$(grep -a -c "$MARKER" "$T/cap.pcap")
	[ "$size" -gt 10000000 ] && [ "$hits" = 0 ] &&
		pl_ok "capture at the SR: $size bytes, no plaintext marker" ||
		pl_fail "capture: size=$size marker hits=$hits"
elif [ "$(id -u)" = 0 ]; then
	pl_fail "capture: tcpdump missing (scripts/install-deps.sh installs it)"
else
	echo "skip capture check (needs root)"
fi

pl_finish
