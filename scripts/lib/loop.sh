# shellcheck shell=bash
# Shared by every e2e script, loopback-only ones directly and the namespace
# ones through scripts/lib/topo.sh (which sources this file): test
# bookkeeping, a temp dir, processes tracked by PID, free loopback ports,
# bounded waits and cleanup. Needs no root.
#
# A loopback test:
#   . "$(dirname "$0")/../../scripts/lib/loop.sh"
#   pl_loop_setup                      # PL_TMP, cleanup trap
#   PORT=$(pl_free_port tcp)
#   pl_bg srv "$CP" serve ... --listen 127.0.0.1:$PORT   # $PL_TMP/srv.log, PL_LAST_PID
#   pl_wait_lo_tcp "$PORT" || exit 1
#   pl_check "it works" some command
#   pl_finish                          # "N passed, M failed", exit 0/1

[ -n "${PL_LOOP_SH:-}" ] && return 0
PL_LOOP_SH=1

PL_ID=${PL_ID:-pl$$}
PL_PIDS=()
PL_TMP=${PL_TMP:-}

pl_log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

pl_tmp() {
	[ -n "$PL_TMP" ] || PL_TMP=$(mktemp -d "/tmp/${PL_ID}.XXXXXX")
	chmod 755 "$PL_TMP"
}

# Test bookkeeping: pl_ok / pl_fail print and count; pl_finish exits.
PL_NFAIL=0
PL_NOK=0
pl_ok() { PL_NOK=$((PL_NOK + 1)); echo "ok: $*"; }
pl_fail() { PL_NFAIL=$((PL_NFAIL + 1)); echo "FAIL: $*"; }
# pl_die MESSAGE: for tests that stop at the first failure.
pl_die() { echo "FAIL: $*" >&2; exit 1; }
pl_check() { # pl_check DESCRIPTION CMD...: ok when CMD succeeds
	local d=$1
	shift
	if "$@"; then pl_ok "$d"; else pl_fail "$d"; fi
}
pl_finish() {
	echo "$PL_NOK passed, $PL_NFAIL failed"
	if [ "$PL_NFAIL" -ne 0 ]; then
		for f in "$PL_TMP"/*.log; do echo "--- $f"; tail -25 "$f"; done
		exit 1
	fi
	exit 0
}

# pl_expect NAME WANT_RC WANT_TEXT CMD...: run CMD (at most 20 s); ok when it
# exits WANT_RC, its output holds WANT_TEXT and no sanitizer report.
pl_expect() {
	local name=$1 rc=$2 text=$3 out got
	shift 3
	out=$(timeout 20 "$@" 2>&1)
	got=$?
	if grep -q "Sanitizer\|runtime error" <<<"$out"; then
		pl_fail "$name: sanitizer report: $out"
	elif [ "$got" = "$rc" ] && grep -q -- "$text" <<<"$out"; then
		pl_ok "$name"
	else
		pl_fail "$name (rc $got, want $rc '$text'): $out"
	fi
}

# pl_code HANDLE [FILE]: the enrollment code of HANDLE in the output of
# `portless-cp add` (default $PL_TMP/codes).
pl_code() { awk -v h="$1" '$1==h{print $2}' "${2:-$PL_TMP/codes}"; }

# pl_field FILE KEY: the value of the first KEY=VALUE in FILE.
pl_field() { grep -o "$2=[^ ]*" "$1" | head -1 | cut -d= -f2; }

# pl_free_port [tcp|udp]: a port nothing is bound to on 127.0.0.1 now.
pl_free_port() {
	local type=SOCK_STREAM
	[ "${1:-tcp}" = udp ] && type=SOCK_DGRAM
	python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$type); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}

# pl_bg [-a] NAME CMD...: run CMD in the background, output to
# $PL_TMP/NAME.log (-a: appended); the PID is remembered for cleanup and put
# in PL_LAST_PID.
pl_bg() {
	local name
	if [ "$1" = -a ]; then
		name=$2
		shift 2
		"$@" >>"$PL_TMP/$name.log" 2>&1 &
	else
		name=$1
		shift
		"$@" >"$PL_TMP/$name.log" 2>&1 &
	fi
	PL_LAST_PID=$!
	PL_PIDS+=("$PL_LAST_PID")
}

# pl_track PID: remember a background process started otherwise, for cleanup.
pl_track() { PL_PIDS+=("$1"); }

# pl_reap PID: wait for one tracked process to end and forget it; returns
# its exit status.
pl_reap() {
	local rc=0 p keep=()
	wait "$1" 2>/dev/null || rc=$?
	for p in "${PL_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PL_PIDS=("${keep[@]}")
	return "$rc"
}

# pl_stop [-9] PID: stop one tracked process now (SIGTERM, or SIGKILL with
# -9), reap it and forget it.
pl_stop() {
	local sig=TERM
	[ "$1" = -9 ] && { sig=KILL; shift; }
	kill -s "$sig" "$1" 2>/dev/null || true
	pl_reap "$1"
}

# pl_stop_all: SIGTERM every tracked process, SIGKILL what is left after 3 s.
pl_stop_all() {
	local pid
	for pid in "${PL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PL_PIDS[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	PL_PIDS=()
}

# pl_rm_tmp: remove PL_TMP (kept when PL_KEEP is set).
pl_rm_tmp() {
	if [ -n "$PL_TMP" ] && [ -z "${PL_KEEP:-}" ]; then
		rm -rf "$PL_TMP"
	fi
}

# pl_until TRIES DELAY CMD...: run CMD until it succeeds, at most TRIES times
# DELAY seconds apart; fails if it never did.
pl_until() {
	local tries=$1 delay=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$delay"
	done
	return 1
}

pl_tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pl_wait_lo_tcp PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT.
pl_wait_lo_tcp() {
	pl_until $((${2:-10} * 10)) 0.1 pl_tcp_open 127.0.0.1 "$1"
}

# pl_wait_log FILE PATTERN [SECONDS]
pl_wait_log() {
	local f=$1 pat=$2 secs=${3:-10} i
	for i in $(seq 1 $((secs * 20))); do
		grep -q -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timeout waiting for '$pat' in $f" >&2
	tail -20 "$f" >&2 || true
	return 1
}

# pl_lo_cp HANDLE...: portless-cp on 127.0.0.1 (data $PL_TMP/cp, log
# $PL_TMP/cp.log) with the HANDLEs enrolled, keys in $PL_TMP/k_<name>.
# Programs from $PORTLESS_BUILD/cli. Sets PL_CP_KEY and PL_CP_PORT; exits 1
# when a step fails.
pl_lo_cp() {
	local bin=$PORTLESS_BUILD/cli h
	PL_CP_PORT=$(pl_free_port tcp)
	PL_CP_KEY=$("$bin/portless-cp" init --data "$PL_TMP/cp" 2>/dev/null) || { echo "cp init failed"; exit 1; }
	"$bin/portless-cp" add "$@" --data "$PL_TMP/cp" >"$PL_TMP/codes" || exit 1
	pl_bg cp "$bin/portless-cp" serve --data "$PL_TMP/cp" --listen "127.0.0.1:$PL_CP_PORT"
	pl_wait_lo_tcp "$PL_CP_PORT" || { echo "cp did not start"; exit 1; }
	for h in "$@"; do
		"$bin/portless" enroll "$h" --cp "127.0.0.1:$PL_CP_PORT" --server-key "$PL_CP_KEY" \
			--code "$(pl_code "$h")" --keys "$PL_TMP/k_${h#@}" >/dev/null 2>&1 ||
			{ echo "enroll $h failed"; exit 1; }
	done
}

# pl_lo_sr ARGS...: portless-sr as @relay (keys $PL_TMP/k_relay, log
# $PL_TMP/sr.log) on free TCP and UDP ports of 127.0.0.1, with more ARGS.
# Sets PL_SR_TCP, PL_SR_UDP and PL_SR_PID; exits 1 when it does not listen.
pl_lo_sr() {
	PL_SR_TCP=$(pl_free_port tcp)
	PL_SR_UDP=$(pl_free_port udp)
	pl_bg sr "$PORTLESS_BUILD/cli/portless-sr" --keys "$PL_TMP/k_relay" --tcp "127.0.0.1:$PL_SR_TCP" \
		--udp "127.0.0.1:$PL_SR_UDP" --advertise 127.0.0.1 "$@"
	# shellcheck disable=SC2034 # for the caller
	PL_SR_PID=$PL_LAST_PID
	pl_wait_lo_tcp "$PL_SR_TCP" || { echo "portless-sr did not start"; cat "$PL_TMP/sr.log"; exit 1; }
}

# pl_loop_cleanup: stop the tracked processes, run PL_CLEANUP_HOOK (a
# command, e.g. an umount) if set, remove PL_TMP.
pl_loop_cleanup() {
	pl_stop_all
	if [ -n "${PL_CLEANUP_HOOK:-}" ]; then "$PL_CLEANUP_HOOK"; fi
	pl_rm_tmp
}

# pl_loop_setup [MODE]: temp dir in PL_TMP, mode 700 unless MODE (e.g. 755,
# where a server that drops privileges must reach its files), and the cleanup
# trap.
pl_loop_setup() {
	pl_tmp
	chmod "${1:-700}" "$PL_TMP"
	trap pl_loop_cleanup EXIT
	trap 'exit 130' INT TERM
}
