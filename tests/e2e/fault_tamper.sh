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
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
SR=$B/cli/portless-sr
PEER=$B/tests/sr_peer
TAMPER=$B/tests/dp_tamper
for x in "$CP" "$PL" "$SR" "$PEER" "$TAMPER"; do [ -x "$x" ] || { echo "missing $x"; exit 1; }; done
pl_loop_setup
T=$PL_TMP

pl_lo_cp @relay @alice @dev
pl_lo_sr --log-level info
SRU=$PL_SR_UDP
pl_wait_log "$T/sr.log" "connected to the home" 5

TU=$(pl_free_port udp)
pl_bg tamper "$TAMPER" --udp 127.0.0.1:$TU 127.0.0.1:$SRU --every 50 --seconds 90
TP=$PL_LAST_PID
pl_wait_log "$T/tamper.log" ready 5

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
pl_stop $TP
echo "middle box: $(tail -1 "$T/tamper.log")"
echo "receiver:   $(cat "$T/b.out")"
tf() { pl_field "$T/tamper.log" "$1"; }
[ "$arc" = 0 ] && [ "$brc" = 0 ] && pl_ok "session completed through the middle box (a rc $arc, b rc $brc)" ||
	{ pl_fail "session: a rc $arc b rc $brc"; tail -3 "$T/a.err" "$T/b.err"; }
[ "$(pl_field "$T/b.out" bad)" = 0 ] && pl_ok "receiver delivered nothing forged (bad=0)" || pl_fail "bad=$(pl_field "$T/b.out" bad)"
[ "$(pl_field "$T/b.out" dup)" = 0 ] && pl_ok "receiver delivered no replayed packet (dup=0)" || pl_fail "dup=$(pl_field "$T/b.out" dup)"
tag=$(pl_field "$T/b.out" drop_tag); rep=$(pl_field "$T/b.out" drop_replay); old=$(pl_field "$T/b.out" drop_old)
want_tag=$(( ($(tf flip) + $(tf foreign) + $(tf counter)) / 2 )) # UDP may lose some under load
want_rep=$(( $(tf replay) ))
[ "${tag:-0}" -ge "$want_tag" ] && [ "$want_tag" -gt 0 ] &&
	pl_ok "bad tags, foreign-key and moved-counter packets dropped and counted (drop_tag=$tag, injected $(( $(tf flip) + $(tf foreign) + $(tf counter) )))" ||
	pl_fail "drop_tag=$tag want >= $want_tag"
[ $(( ${rep:-0} + ${old:-0} )) -ge "$want_rep" ] && [ "$want_rep" -gt 0 ] &&
	pl_ok "replays dropped and counted (drop_replay=$rep drop_old=$old, replayed $(( $(tf replay) * 2 )))" ||
	pl_fail "replays: drop_replay=$rep drop_old=$old want >= $want_rep"
# A forged counter that moved the window would make every later genuine
# packet "old": delivery would collapse, not dip by UDP loss under load.
recv=$(pl_field "$T/b.out" recv)
[ "${recv:-0}" -ge $((N * 9 / 10)) ] &&
	pl_ok "forged packets did not move the replay window: recv=$recv of $N (-$(tf flip) flipped in place)" ||
	pl_fail "recv=$recv: genuine packets lost after forged ones"
kill -0 "$PL_SR_PID" 2>/dev/null && pl_ok "portless-sr alive" || pl_fail "portless-sr died"
grep -q "session .* end @alice -> @dev" "$T/sr.log" && pl_ok "relay logged the session's normal end" ||
	pl_fail "no session end in the relay log"
grep -q "Sanitizer\|runtime error" "$T/sr.log" "$T/a.err" "$T/b.err" && pl_fail "sanitizer report"
pl_finish
