#!/usr/bin/env bash
# Fault: the file system under `portless-cp --data` fills up.
# portless-cp runs on loopback with its data directory on a 4 MiB tmpfs
# mounted for the test and unmounted by the exit trap, whatever happens.
# A filler file takes the free space; then:
#  - notifications fail with the typed error "server storage failure"
#    (CP_E_STORE), the server stays up (no crash, no sanitizer report);
#  - `PRAGMA integrity_check` of the store is "ok" while full and after;
#  - when the filler is removed, notifications are accepted again and every
#    one acknowledged before, during and after is delivered exactly as sent.
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: needs the sqlite3 shell"; exit 77; }
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
pl_loop_setup 755 # portless-cp drops to an unprivileged user when it can reach --data
T=$PL_TMP
D=$T/data
unmount() { umount "$D" 2>/dev/null; }
PL_CLEANUP_HOOK=unmount # after the server stopped, before the temp dir goes

mkdir -p "$D"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$D" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
PORT=$(pl_free_port tcp)
KEY=$("$CP" init --data "$D" 2>/dev/null) || { echo "init failed"; exit 1; }
"$CP" add @a @b --data "$D" >"$T/codes" || exit 1
pl_bg srv "$CP" serve --data "$D" --listen "127.0.0.1:$PORT"
SRV=$PL_LAST_PID
pl_wait_lo_tcp "$PORT" 5
for h in a b; do
	"$PL" enroll @$h --cp 127.0.0.1:$PORT --server-key "$KEY" --code "$(pl_code @$h)" --keys "$T/k$h" >/dev/null 2>&1 ||
		{ echo "enroll @$h failed"; cat "$T/srv.log"; exit 1; }
done

: >"$T/acked"
# send TAG: one notification of ~30 KB with a unique tag; records it when acked.
send() {
	local body out rc
	body="$1:$(head -c 22000 /dev/urandom | base64 -w0)"
	out=$(timeout 20 "$PL" notify @b text "$body" --keys "$T/ka" 2>&1); rc=$?
	LAST_OUT=$out
	if [ $rc = 0 ] && grep -q delivered <<<"$out"; then
		echo "$1 $(printf %s "$body" | sha256sum | cut -c1-16)" >>"$T/acked"
		return 0
	fi
	return 1
}
integrity() { sqlite3 "file:$D/cp.db?mode=ro" "PRAGMA integrity_check;" 2>&1 | head -3; }

for i in 1 2 3; do send "before-$i" || pl_fail "notify before the disk is full: $LAST_OUT"; done
pl_ok "3 notifications accepted with space left ($(df -h --output=avail "$D" | tail -1 | tr -d ' ') free)"

# Fill the file system (dd stops at ENOSPC).
dd if=/dev/zero of="$D/filler" bs=16k status=none 2>/dev/null
echo "free after the filler: $(df --output=avail -B1 "$D" | tail -1) bytes"
errs=0 okfull=0 typed=0
for i in $(seq 1 30); do
	if send "full-$i"; then
		okfull=$((okfull + 1))
	else
		errs=$((errs + 1))
		grep -q "server storage failure" <<<"$LAST_OUT" && typed=$((typed + 1))
		[ $errs = 1 ] && echo "first refusal: $LAST_OUT"
		[ $errs -ge 5 ] && break
	fi
done
echo "while full: $okfull accepted (page slack), $errs refused, $typed with 'server storage failure'"
[ $errs -ge 1 ] && pl_ok "notifications are refused while the disk is full" || pl_fail "nothing refused while full"
[ $typed = $errs ] && [ $errs -ge 1 ] && pl_ok "every refusal is the typed error CP_E_STORE (server storage failure)" ||
	pl_fail "refusals not typed: $LAST_OUT"
kill -0 "$SRV" 2>/dev/null && pl_ok "portless-cp still running while full" || pl_fail "portless-cp died while full"
r=$(integrity)
[ "$r" = ok ] && pl_ok "integrity_check while full: ok" || pl_fail "integrity_check while full: $r"

# Space returns.
rm -f "$D/filler"
recovered=0
for i in $(seq 1 5); do
	if send "after-$i"; then recovered=$((recovered + 1)); else echo "after refill: $LAST_OUT"; fi
done
[ $recovered = 5 ] && pl_ok "accepted again once space returns (5/5)" || pl_fail "after space returned: $recovered/5"
kill -0 "$SRV" 2>/dev/null && pl_ok "portless-cp still running" || pl_fail "portless-cp died"

# Every acknowledged notification arrives intact.
n=$(wc -l <"$T/acked")
timeout 30 "$PL" listen --keys "$T/kb" --count "$n" >"$T/got" 2>"$T/listen.err"
awk '{t=$3; split(t, p, ":"); print p[1]}' "$T/got" | sort >"$T/got.tags"
while read -r line; do
	body=${line#* * }
	echo "${body%%:*} $(printf %s "$body" | sha256sum | cut -c1-16)"
done <"$T/got" | sort >"$T/got.sums"
sort "$T/acked" >"$T/acked.s"
missing=$(comm -23 "$T/acked.s" "$T/got.sums" | wc -l)
[ "$missing" = 0 ] && pl_ok "all $n acknowledged notifications delivered, byte for byte" ||
	pl_fail "$missing of $n acknowledged notifications missing or altered"

pl_stop "$SRV"
r=$(integrity)
[ "$r" = ok ] && pl_ok "integrity_check after shutdown: ok" || pl_fail "integrity_check after: $r"
if grep -q "Sanitizer\|runtime error" "$T/srv.log"; then pl_fail "sanitizer report in the server log"; fi
grep -i "storage\|full\|sqlite\|privdrop\|seccomp" "$T/srv.log" | head -6
pl_finish
