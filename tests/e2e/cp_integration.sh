#!/usr/bin/env bash
# Control plane integration test (loopback, no root needed):
# portless-cp on a free port; enroll @a and @b; offline delivery; kill -9
# after the sender's ack + restart still delivers; forged sender, wrong
# server key, reused code, oversize frame, bad frame, unknown identity, an
# expired code, an expiry past a day, the sender quota and a full queue fail
# with the right error while the server keeps serving others.
set -u
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
TOOL=$B/tests/cp_tool
T=$(mktemp -d /tmp/cp-e2e.XXXXXX)
SRV=
fails=0

cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	"$CP" serve --data "$T/data" --listen "127.0.0.1:$PORT" --log-level debug >>"$T/srv.log" 2>&1 &
	SRV=$!
	for _ in $(seq 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server did not start"; cat "$T/srv.log"; exit 1
}

# expect NAME WANT_RC WANT_TEXT CMD...: run, check exit status and output text
expect() {
	local name=$1 rc=$2 text=$3 out got
	shift 3
	out=$(timeout 20 "$@" 2>&1); got=$?
	if grep -q "Sanitizer\|runtime error" <<<"$out"; then
		bad "$name: sanitizer report: $out"
	elif [ "$got" = "$rc" ] && grep -q -- "$text" <<<"$out"; then
		ok "$name"
	else
		bad "$name (rc $got, want $rc '$text'): $out"
	fi
}

PORT=$(free_port)
KEY=$("$CP" init --data "$T/data" 2>/dev/null) || { echo "init failed"; exit 1; }
"$CP" add @a @b @c @q1 @q2 @q3 @q4 @q5 @r --data "$T/data" >"$T/codes" || exit 1
"$CP" add @e --code-ttl 1 --data "$T/data" >>"$T/codes" || exit 1
code() { awk -v h="$1" '$1==h{print $2}' "$T/codes"; }
start

expect "enroll @a" 0 "enrolled @a" "$PL" enroll @a --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @a)" --keys "$T/ka"
expect "enroll @b" 0 "enrolled @b" "$PL" enroll @b --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @b)" --keys "$T/kb"
[ -f "$T/ka/cp.conf" ] && ok "cp.conf written" || bad "cp.conf written"

# Offline delivery: @b is not connected while @a notifies.
expect "notify @b offline" 0 "delivered" "$PL" notify @b text "hello while offline" --keys "$T/ka"
expect "listen @b gets it" 0 "@a 1 hello while offline" "$PL" listen --keys "$T/kb" --count 1

# Durability: kill -9 right after the sender's ack, restart, still delivered.
expect "notify before crash" 0 "delivered" "$PL" notify @b text "survives kill -9" --keys "$T/ka"
kill -9 "$SRV"; wait "$SRV" 2>/dev/null; SRV=
start
expect "delivered after restart" 0 "survives kill -9" "$PL" listen --keys "$T/kb" --count 1

# Push to a connected listener (no polling).
"$PL" listen --keys "$T/kb" --count 1 >"$T/live.out" 2>&1 &
LP=$!
sleep 0.5
expect "notify live" 0 "delivered" "$PL" notify @b text "pushed live" --keys "$T/ka"
for _ in $(seq 50); do grep -q "pushed live" "$T/live.out" && break; sleep 0.1; done
wait $LP 2>/dev/null
grep -q "@a 1 pushed live" "$T/live.out" && ok "live push" || bad "live push: $(cat "$T/live.out")"

# Refusals, each with its typed error; the server keeps serving.
expect "forged sender" 0 "error 13 " "$TOOL" forge "$T/ka" @b @b
expect "unknown identity" 1 "unknown identity" "$PL" notify @nobody text hi --keys "$T/ka"
expect "reused enrollment code" 1 "enrollment code already used" "$PL" enroll @a --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @a)" --keys "$T/ka2"
WRONG=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
expect "wrong server key" 1 "server key mismatch" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$WRONG" --code "$(code @c)" --keys "$T/kc"
expect "wrong enrollment code" 1 "wrong enrollment code" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$KEY" --code nope --keys "$T/kc"
expect "wrong code rate-limited" 1 "retry later" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @c)" --keys "$T/kc"
expect "oversize frame" 0 "error 11 " "$TOOL" oversize "$T/ka"
expect "forged frame" 0 "error 1 " "$TOOL" garbage "$T/ka"
expect "records put/get/del" 0 "record v1" "$TOOL" records "$T/ka"
cp "$T/ka/cp.conf" "$T/kc/cp.conf"   # @c has keys but never enrolled
expect "unknown identity auth" 1 "unknown identity" "$PL" notify @a text x --keys "$T/kc"

# Limits, each with its typed error: an expired code, an expiry past one day,
# the per-sender quota (1024 queued) and the recipient's queue (4096).
sleep 1.1 # @e's code had one second
expect "expired enrollment code" 1 "enrollment code expired" "$PL" enroll @e --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @e)" --keys "$T/ke"
expect "expiry over a day" 0 "error 12 " "$TOOL" farexpiry "$T/ka" @b
for q in q1 q2 q3 q4 q5 r; do
	"$PL" enroll @$q --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(code @$q)" --keys "$T/k$q" >/dev/null 2>&1 ||
		bad "enroll @$q"
done
out=$("$TOOL" flood "$T/kq1" @r 1030 2>&1)
grep -qx "ok 1024" <<<"$out" && grep -q "^error 10 .* x6$" <<<"$out" &&
	ok "sender quota: 1024 queued, the next 6 refused with error 10" || bad "sender quota: $out"
for q in q2 q3 q4; do
	out=$("$TOOL" flood "$T/k$q" @r 1024 2>&1)
	grep -qx "ok 1024" <<<"$out" || bad "filling @r's queue from @$q: $out"
done
out=$("$TOOL" flood "$T/kq5" @r 3 2>&1)
grep -qx "ok 0" <<<"$out" && grep -q "^error 9 .*queue of @r is full x3$" <<<"$out" &&
	ok "recipient queue: full at 4096, refused with error 9" || bad "queue full: $out"

# Operators: list shows the identities and their state; remove takes effect live.
"$CP" list --data "$T/data" >"$T/list.out" 2>&1
grep -Eq "^@q5 +enrolled" "$T/list.out" && grep -Eq "^@e +pending" "$T/list.out" &&
	ok "portless-cp list shows enrolled and pending identities" || bad "list: $(cat "$T/list.out")"
expect "portless-cp remove" 0 "removed @q5" "$CP" remove @q5 --data "$T/data"
expect "remove of an unknown identity" 1 "unknown identity @nope" "$CP" remove @nope --data "$T/data"
# the server re-reads the store's changes at its housekeeping tick (5 s)
for _ in $(seq 20); do
	"$PL" notify @a text x --keys "$T/kq5" 2>&1 | grep -q "unknown identity" && break
	sleep 0.5
done
expect "a removed identity cannot authenticate" 1 "unknown identity" "$PL" notify @a text x --keys "$T/kq5"
"$CP" list --data "$T/data" | grep -q "^@q5 " && bad "@q5 still listed" || ok "@q5 no longer listed"

# Still serving others after all of that.
expect "still serving" 0 "delivered" "$PL" notify @b text "after abuse" --keys "$T/ka"
expect "still delivering" 0 "after abuse" "$PL" listen --keys "$T/kb" --count 1
kill -0 "$SRV" 2>/dev/null && ok "server alive" || bad "server alive"

# A damaged store is reported clearly at start-up (no crash).
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
cp -r "$T/data" "$T/bad"
dd if=/dev/urandom of="$T/bad/cp.db" bs=1024 count=8 conv=notrunc 2>/dev/null
rm -f "$T/bad/cp.db-wal" "$T/bad/cp.db-shm"
expect "damaged store reported" 1 "damaged or unusable store" "$CP" serve --data "$T/bad" --listen 127.0.0.1:$PORT

if grep -q "Sanitizer\|runtime error" "$T/srv.log"; then
	bad "sanitizer report in the server log"
fi
if [ $fails -ne 0 ]; then
	echo "--- server log"; tail -50 "$T/srv.log"
	exit 1
fi
echo "all passed"
