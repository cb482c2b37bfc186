#!/usr/bin/env bash
# Control-plane benchmark (loopback): notify round trip p50/p99, sustained
# notifications/s, and server RSS with N idle monitor connections.
# usage: scripts/bench-cp.sh [BUILD_DIR] [IDLE_CONNS]   (defaults: build-bench, 10000)
# Builds Release targets into BUILD_DIR when missing. Bounded: every step has a timeout.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build-bench}
IDLE=${2:-10000}
if [ ! -x "$BUILD/cli/portless-cp" ] || [ ! -x "$BUILD/tests/cp_tool" ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD" -j2 --target portless-cp portless cp_tool >/dev/null
fi
CP=$BUILD/cli/portless-cp; PL=$BUILD/cli/portless; TOOL=$BUILD/tests/cp_tool
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 100)) ]; then
	echo "RLIMIT_NOFILE $(ulimit -n) too low for $IDLE connections; lowering"; IDLE=$(( $(ulimit -n) - 200 ))
fi
T=$(mktemp -d /tmp/cp-bench.XXXXXX)
SRV= IDP=
cleanup() {
	[ -n "$IDP" ] && kill "$IDP" 2>/dev/null && wait "$IDP" 2>/dev/null
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KEY=$("$CP" init --data "$T/data" 2>/dev/null)
"$CP" add @a @b --data "$T/data" >"$T/codes"
"$CP" serve --data "$T/data" --listen 127.0.0.1:$PORT --log-level warn 2>"$T/srv.log" &
SRV=$!
sleep 0.3
for h in a b; do
	"$PL" enroll @$h --cp 127.0.0.1:$PORT --server-key "$KEY" \
		--code "$(awk -v h=@$h '$1==h{print $2}' "$T/codes")" --keys "$T/k$h" >/dev/null 2>&1
done
echo "== data dir on $(df --output=source,fstype "$T" | tail -1) (synchronous=FULL, WAL)"
echo "== round trip @a -> home -> @b pushed (one at a time)"
timeout 120 "$TOOL" rtt "$T/ka" "$T/kb" 3000 2>/dev/null
echo "== sustained rate (256 in flight)"
read -r U0 S0 < <(awk '{print $14, $15}' /proc/$SRV/stat)
timeout 120 "$TOOL" rate "$T/ka" "$T/kb" 20000 256 2>/dev/null
echo "   (one process seals and opens every envelope: ~180 us of client CPU each; see docs/CONTROL-PLANE.md)"
read -r U1 S1 < <(awk '{print $14, $15}' /proc/$SRV/stat)
echo "   server CPU for 20000 notifications: user $(( (U1-U0)*10 )) ms, sys $(( (S1-S0)*10 )) ms"
echo "== server RSS before idle connections: $(awk '/VmRSS/{print $2, $3}' /proc/$SRV/status)"
echo "== $IDLE idle monitor connections"
for i in $(seq 1 "$IDLE"); do echo "@idle$i"; done | xargs -n 1000 "$CP" add --data "$T/data" >"$T/idle.codes"
sleep 1
timeout 300 "$TOOL" idle 127.0.0.1:$PORT "$KEY" "$T/idle.codes" >"$T/idle.out" 2>"$T/idle.err" &
IDP=$!
for _ in $(seq 600); do grep -q "idle monitors up" "$T/idle.out" && break; sleep 0.5; done
cat "$T/idle.out"
echo "server RSS with $IDLE idle monitors: $(awk '/VmRSS/{print $2, $3}' /proc/$SRV/status)"
echo "server fds: $(ls /proc/$SRV/fd | wc -l)"
