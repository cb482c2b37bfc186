#!/usr/bin/env bash
# Load: 1,000 concurrent sessions through one SR, with traffic (loopback, no
# root needed). sr_relay_local (the relay library) issues the tickets;
# sr_load joins both sides of every session, holds all of them open at once
# and sends records both ways on all of them together; every record carries
# its session's random marker, index, side and sequence number.
#  - TCP: 1,000 sessions x 2 sides x 64 records of 256 B: every record
#    arrives at its own peer, none anywhere else, none altered;
#  - UDP: the same with data-packet headers routed by relay id (>= 90 % of
#    each session's records, zero foreign or altered).
# PORTLESS_LOAD_SESSIONS overrides the count (default 1000).
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
RELAY=$B/tests/sr_relay_local
LOAD=$B/tests/sr_load
N=${PORTLESS_LOAD_SESSIONS:-1000}
for x in "$RELAY" "$LOAD"; do [ -x "$x" ] || { echo "missing $x"; exit 1; }; done
pl_loop_setup
T=$PL_TMP

# Each side is a descriptor in sr_load and in the relay: 2 x N each, plus slack.
need=$((2 * N + 256))
ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge "$need" ] || { echo "SKIP: RLIMIT_NOFILE hard limit $(ulimit -Hn) < $need"; exit 77; }
echo "RLIMIT_NOFILE $(ulimit -n)"

run() { # run tcp|udp
	local mode=$1 d="$T/$1" tp up rp rss out
	mkdir -p "$d"
	tp=$(pl_free_port tcp); up=$(pl_free_port udp)
	pl_bg "$mode/relay" "$RELAY" --tcp 127.0.0.1:$tp --udp 127.0.0.1:$up --tickets "$N" --out "$d" --ttl 120 --idle 120
	rp=$PL_LAST_PID
	pl_wait_log "$d/relay.log" ready 30 2>/dev/null ||
		{ pl_fail "$mode: relay did not start: $(cat "$d/relay.log")"; return; }
	if [ "$mode" = tcp ]; then
		timeout 150 "$LOAD" --dir "$d" --count "$N" --tcp 127.0.0.1:$tp --records 64 --seconds 90 \
			>"$d/load.out" 2>"$d/load.err"
	else
		timeout 150 "$LOAD" --dir "$d" --count "$N" --udp 127.0.0.1:$up --records 64 --seconds 60 \
			>"$d/load.out" 2>"$d/load.err"
	fi
	local rc=$?
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$rp/status" 2>/dev/null)
	out=$(cat "$d/load.out")
	echo "$mode: $(grep paired "$d/load.err" | tail -1)"
	echo "$mode: $out; relay VmRSS ${rss} kB"
	f() { grep -o "$1 [0-9]*" <<<"$out" | cut -d' ' -f2; }
	[ "$rc" = 0 ] && pl_ok "$mode: sr_load passed (every session paired and completed)" ||
		{ pl_fail "$mode: sr_load rc $rc"; tail -5 "$d/load.err"; }
	[ "$(f paired)" = "$N" ] && pl_ok "$mode: $N sessions paired, all held at once" || pl_fail "$mode: paired $(f paired)/$N"
	[ "$(f complete)" = "$N" ] && pl_ok "$mode: all $N sessions completed" || pl_fail "$mode: complete $(f complete)/$N"
	[ "$(f foreign)" = 0 ] && [ "$(f corrupt)" = 0 ] &&
		pl_ok "$mode: no record reached another session's peer, none altered" ||
		pl_fail "$mode: foreign $(f foreign) corrupt $(f corrupt)"
	kill -0 "$rp" 2>/dev/null && pl_ok "$mode: relay alive" || pl_fail "$mode: relay died: $(tail -5 "$d/relay.log")"
	pl_stop "$rp"
	grep -q "Sanitizer\|runtime error" "$d/relay.log" "$d/load.err" && pl_fail "$mode: sanitizer report"
}

run tcp
run udp
pl_finish
