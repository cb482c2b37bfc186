#!/usr/bin/env bash
# Control plane integration test (loopback, no root needed):
# portless-cp on a free port; enroll @a and @b; offline delivery; kill -9
# after the sender's ack + restart still delivers; forged sender, wrong
# server key, reused code, oversize frame, bad frame, unknown identity, an
# expired code, an expiry past a day, the sender quota and a full queue fail
# with the right error while the server keeps serving others.
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
TOOL=$B/tests/cp_tool
pl_loop_setup
T=$PL_TMP

start() { # the server, its log appended to $T/srv.log; SRV is its PID
	pl_bg -a srv "$CP" serve --data "$T/data" --listen "127.0.0.1:$PORT" --log-level debug
	SRV=$PL_LAST_PID
	pl_wait_lo_tcp "$PORT" 5 && return 0
	echo "server did not start"; cat "$T/srv.log"; exit 1
}

PORT=$(pl_free_port tcp)
KEY=$("$CP" init --data "$T/data" 2>/dev/null) || { echo "init failed"; exit 1; }
"$CP" add @a @b @c @q1 @q2 @q3 @q4 @q5 @r --data "$T/data" >"$T/codes" || exit 1
"$CP" add @e --code-ttl 1 --data "$T/data" >>"$T/codes" || exit 1
start

pl_expect "enroll @a" 0 "enrolled @a" "$PL" enroll @a --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @a)" --keys "$T/ka"
pl_expect "enroll @b" 0 "enrolled @b" "$PL" enroll @b --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @b)" --keys "$T/kb"
pl_check "cp.conf written" test -f "$T/ka/cp.conf"

# Offline delivery: @b is not connected while @a notifies.
pl_expect "notify @b offline" 0 "delivered" "$PL" notify @b text "hello while offline" --keys "$T/ka"
pl_expect "listen @b gets it" 0 "@a 1 hello while offline" "$PL" listen --keys "$T/kb" --count 1

# Durability: kill -9 right after the sender's ack, restart, still delivered.
pl_expect "notify before crash" 0 "delivered" "$PL" notify @b text "survives kill -9" --keys "$T/ka"
pl_stop -9 "$SRV"
start
pl_expect "delivered after restart" 0 "survives kill -9" "$PL" listen --keys "$T/kb" --count 1

# Push to a connected listener (no polling).
pl_bg live "$PL" listen --keys "$T/kb" --count 1
LP=$PL_LAST_PID
sleep 0.5
pl_expect "notify live" 0 "delivered" "$PL" notify @b text "pushed live" --keys "$T/ka"
pl_wait_log "$T/live.log" "pushed live" 5
pl_reap $LP
grep -q "@a 1 pushed live" "$T/live.log" && pl_ok "live push" || pl_fail "live push: $(cat "$T/live.log")"

# Refusals, each with its typed error; the server keeps serving.
pl_expect "forged sender" 0 "error 13 " "$TOOL" forge "$T/ka" @b @b
pl_expect "unknown identity" 1 "unknown identity" "$PL" notify @nobody text hi --keys "$T/ka"
pl_expect "reused enrollment code" 1 "enrollment code already used" "$PL" enroll @a --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @a)" --keys "$T/ka2"
WRONG=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
pl_expect "wrong server key" 1 "server key mismatch" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$WRONG" --code "$(pl_code @c)" --keys "$T/kc"
pl_expect "wrong enrollment code" 1 "wrong enrollment code" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$KEY" --code nope --keys "$T/kc"
pl_expect "wrong code rate-limited" 1 "retry later" "$PL" enroll @c --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @c)" --keys "$T/kc"
pl_expect "oversize frame" 0 "error 11 " "$TOOL" oversize "$T/ka"
pl_expect "forged frame" 0 "error 1 " "$TOOL" garbage "$T/ka"
pl_expect "records put/get/del" 0 "record v1" "$TOOL" records "$T/ka"
cp "$T/ka/cp.conf" "$T/kc/cp.conf"   # @c has keys but never enrolled
pl_expect "unknown identity auth" 1 "unknown identity" "$PL" notify @a text x --keys "$T/kc"

# Limits, each with its typed error: an expired code, an expiry past one day,
# the per-sender quota (1024 queued) and the recipient's queue (4096).
sleep 1.1 # @e's code had one second
pl_expect "expired enrollment code" 1 "enrollment code expired" "$PL" enroll @e --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @e)" --keys "$T/ke"
pl_expect "expiry over a day" 0 "error 12 " "$TOOL" farexpiry "$T/ka" @b
for q in q1 q2 q3 q4 q5 r; do
	"$PL" enroll @$q --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @$q)" --keys "$T/k$q" >/dev/null 2>&1 ||
		pl_fail "enroll @$q"
done
out=$("$TOOL" flood "$T/kq1" @r 1030 2>&1)
grep -qx "ok 1024" <<<"$out" && grep -q "^error 10 .* x6$" <<<"$out" &&
	pl_ok "sender quota: 1024 queued, the next 6 refused with error 10" || pl_fail "sender quota: $out"
for q in q2 q3 q4; do
	out=$("$TOOL" flood "$T/k$q" @r 1024 2>&1)
	grep -qx "ok 1024" <<<"$out" || pl_fail "filling @r's queue from @$q: $out"
done
out=$("$TOOL" flood "$T/kq5" @r 3 2>&1)
grep -qx "ok 0" <<<"$out" && grep -q "^error 9 .*queue of @r is full x3$" <<<"$out" &&
	pl_ok "recipient queue: full at 4096, refused with error 9" || pl_fail "queue full: $out"

# Operators: list shows the identities and their state; remove takes effect live.
"$CP" list --data "$T/data" >"$T/list.out" 2>&1
grep -Eq "^@q5 +enrolled" "$T/list.out" && grep -Eq "^@e +pending" "$T/list.out" &&
	pl_ok "portless-cp list shows enrolled and pending identities" || pl_fail "list: $(cat "$T/list.out")"
pl_expect "portless-cp remove" 0 "removed @q5" "$CP" remove @q5 --data "$T/data"
pl_expect "remove of an unknown identity" 1 "unknown identity @nope" "$CP" remove @nope --data "$T/data"
# the server re-reads the store's changes at its housekeeping tick (5 s)
refused() { "$PL" notify @a text x --keys "$T/kq5" 2>&1 | grep -q "unknown identity"; }
pl_until 20 0.5 refused
pl_expect "a removed identity cannot authenticate" 1 "unknown identity" "$PL" notify @a text x --keys "$T/kq5"
"$CP" list --data "$T/data" | grep -q "^@q5 " && pl_fail "@q5 still listed" || pl_ok "@q5 no longer listed"

# Still serving others after all of that.
pl_expect "still serving" 0 "delivered" "$PL" notify @b text "after abuse" --keys "$T/ka"
pl_expect "still delivering" 0 "after abuse" "$PL" listen --keys "$T/kb" --count 1
pl_check "server alive" kill -0 "$SRV"

# A damaged store is reported clearly at start-up (no crash).
pl_stop "$SRV"
cp -r "$T/data" "$T/bad"
dd if=/dev/urandom of="$T/bad/cp.db" bs=1024 count=8 conv=notrunc 2>/dev/null
rm -f "$T/bad/cp.db-wal" "$T/bad/cp.db-shm"
pl_expect "damaged store reported" 1 "damaged or unusable store" "$CP" serve --data "$T/bad" --listen 127.0.0.1:$PORT

if grep -q "Sanitizer\|runtime error" "$T/srv.log"; then
	pl_fail "sanitizer report in the server log"
fi
pl_finish
