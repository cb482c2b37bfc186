#!/usr/bin/env bash
# Bad input on the data plane (loopback, no root): a real portless-cp and
# portless-sr, two SR clients (sr_peer, the same sr_client code portlessd
# uses) in one UDP session, and a hostile middle box (dp_tamper) between
# side A and the SR that, on every 50th sealed packet in turn, flips a bit,
# injects a packet sealed under another key (wrong session), replays a copy
# (inside and behind the replay window), injects a copy with its counter
# moved ahead, with another relay id, or cut short.
# Asserts: the receiver delivers nothing forged and no duplicate, drops and
# counts every kind (drop_tag, drop_replay/drop_old), the session goes on
# (>= 90 % delivered, the flipped originals included) and the SR
# is unharmed.
set -u
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
SR=$B/cli/portless-sr
PEER=$B/tests/sr_peer
TAMPER=$B/tests/dp_tamper
T=$(mktemp -d /tmp/dp-tamper.XXXXXX)
PIDS=()
fails=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ "$fails" -ne 0 ] && { echo "--- relay log"; tail -n 20 "$T/sr.log"; }
	rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
free_port() {
	python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}
wait_tcp() {
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
for x in "$CP" "$PL" "$SR" "$PEER" "$TAMPER"; do [ -x "$x" ] || { echo "missing $x"; exit 1; }; done

CPPORT=$(free_port SOCK_STREAM)
KEY=$("$CP" init --data "$T/cp" 2>/dev/null) || { echo "cp init failed"; exit 1; }
"$CP" add @relay @alice @dev --data "$T/cp" >"$T/codes" || exit 1
code() { awk -v h="$1" '$1==h{print $2}' "$T/codes"; }
"$CP" serve --data "$T/cp" --listen "127.0.0.1:$CPPORT" >"$T/cp.log" 2>&1 &
PIDS+=($!)
wait_tcp "$CPPORT" || { echo "cp did not start"; exit 1; }
for h in relay alice dev; do
	"$PL" enroll @$h --cp 127.0.0.1:$CPPORT --server-key "$KEY" --code "$(code @$h)" \
		--keys "$T/k_$h" >/dev/null 2>&1 || { echo "enroll @$h failed"; exit 1; }
done
SRT=$(free_port SOCK_STREAM); SRU=$(free_port SOCK_DGRAM)
"$SR" --keys "$T/k_relay" --tcp 127.0.0.1:$SRT --udp 127.0.0.1:$SRU --advertise 127.0.0.1 \
	--log-level info >"$T/sr.log" 2>&1 &
SRPID=$!
PIDS+=($SRPID)
wait_tcp "$SRT" || { echo "portless-sr did not start"; cat "$T/sr.log"; exit 1; }
for _ in $(seq 50); do grep -q "connected to the home" "$T/sr.log" && break; sleep 0.1; done

TU=$(free_port SOCK_DGRAM)
"$TAMPER" --udp 127.0.0.1:$TU 127.0.0.1:$SRU --every 50 --seconds 90 >"$T/tamper.out" 2>&1 &
TP=$!
PIDS+=($TP)
for _ in $(seq 50); do grep -q ready "$T/tamper.out" && break; sleep 0.1; done

N=30000
mkdir -p "$T/s"
common="--count $N --size 600 --transport udp --rate 10000 --min-recv 0.9"
# shellcheck disable=SC2086
timeout 100 "$PEER" --side b --me @dev --peer @alice --handoff "$T/s" $common --expect-tamper \
	>"$T/b.out" 2>"$T/b.err" &
BP=$!
# shellcheck disable=SC2086
timeout 100 "$PEER" --side a --me @alice --peer @dev --handoff "$T/s" --keys "$T/k_alice" \
	--relay @relay --sr-udp 127.0.0.1:$TU $common >"$T/a.out" 2>"$T/a.err"
arc=$?
wait $BP
brc=$?
kill $TP; wait $TP 2>/dev/null
echo "middle box: $(tail -1 "$T/tamper.out")"
echo "receiver:   $(cat "$T/b.out")"
field() { grep -o "$2=[^ ]*" "$1" | head -1 | cut -d= -f2; }
tf() { field "$T/tamper.out" "$1"; }
[ "$arc" = 0 ] && [ "$brc" = 0 ] && ok "session completed through the middle box (a rc $arc, b rc $brc)" ||
	{ bad "session: a rc $arc b rc $brc"; tail -3 "$T/a.err" "$T/b.err"; }
[ "$(field "$T/b.out" bad)" = 0 ] && ok "receiver delivered nothing forged (bad=0)" || bad "bad=$(field "$T/b.out" bad)"
[ "$(field "$T/b.out" dup)" = 0 ] && ok "receiver delivered no replayed packet (dup=0)" || bad "dup=$(field "$T/b.out" dup)"
tag=$(field "$T/b.out" drop_tag); rep=$(field "$T/b.out" drop_replay); old=$(field "$T/b.out" drop_old)
want_tag=$(( ($(tf flip) + $(tf foreign) + $(tf counter)) / 2 )) # UDP may lose some under load
want_rep=$(( $(tf replay) ))
[ "${tag:-0}" -ge "$want_tag" ] && [ "$want_tag" -gt 0 ] &&
	ok "bad tags, foreign-key and moved-counter packets dropped and counted (drop_tag=$tag, injected $(( $(tf flip) + $(tf foreign) + $(tf counter) )))" ||
	bad "drop_tag=$tag want >= $want_tag"
[ $(( ${rep:-0} + ${old:-0} )) -ge "$want_rep" ] && [ "$want_rep" -gt 0 ] &&
	ok "replays dropped and counted (drop_replay=$rep drop_old=$old, replayed $(( $(tf replay) * 2 )))" ||
	bad "replays: drop_replay=$rep drop_old=$old want >= $want_rep"
# A forged counter that moved the window would make every later genuine
# packet "old": delivery would collapse, not dip by UDP loss under load.
recv=$(field "$T/b.out" recv)
[ "${recv:-0}" -ge $((N * 9 / 10)) ] &&
	ok "forged packets did not move the replay window: recv=$recv of $N (-$(tf flip) flipped in place)" ||
	bad "recv=$recv: genuine packets lost after forged ones"
kill -0 "$SRPID" 2>/dev/null && ok "portless-sr alive" || bad "portless-sr died"
grep -q "session .* end @alice -> @dev" "$T/sr.log" && ok "relay logged the session's normal end" ||
	bad "no session end in the relay log"
grep -q "Sanitizer\|runtime error" "$T/sr.log" "$T/a.err" "$T/b.err" && bad "sanitizer report"
[ "$fails" -eq 0 ] && echo "all tamper checks passed" || echo "$fails tamper check(s) failed"
exit $((fails > 0))
