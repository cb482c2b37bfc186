#!/usr/bin/env bash
# Key rotation and revocation through a real portless-cp (loopback, no root):
#  - `portless rotate`: new keys published signed by the old key, key file
#    switched; the old key no longer authenticates; a peer that pinned the
#    old keys follows the rotation on its own (pin moved, message opens);
#  - a peer whose pin is NOT the key that signed the proof refuses the new
#    keys (CP_E_KEY_CHANGED);
#  - `portless-cp revoke @b`: @b's own requests, notifications to @b and
#    fetching @b's keys all fail with "identity revoked"; list shows it;
#    a connected `portless listen` of @a that fetched @b's keys is told at
#    once (live revocation: the server pushes REVOKED to that connection
#    only, the client drops @b's keys and says so);
#  - `portless revoke @c` (local): this endpoint refuses @c from then on.
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
PL=$B/cli/portless
pl_loop_setup
T=$PL_TMP
fpr() { "$PL" whoami --keys "$1" 2>/dev/null | grep -o 'pl:[0-9a-f-]*' | head -1; }
pin_of() { awk -v h="$2" '$1==h{print $2}' "$1/known_identities" 2>/dev/null | tail -1; }

PORT=$(pl_free_port tcp)
KEY=$("$CP" init --data "$T/data" 2>/dev/null) || { echo "init failed"; exit 1; }
"$CP" add @a @b @c --data "$T/data" >"$T/codes" || exit 1
pl_bg -a srv "$CP" serve --data "$T/data" --listen "127.0.0.1:$PORT" --log-level debug
SRV=$PL_LAST_PID
pl_wait_lo_tcp "$PORT" 5
for h in a b c; do
	pl_expect "enroll @$h" 0 "enrolled @$h" "$PL" enroll @$h --cp 127.0.0.1:$PORT --server-key "$KEY" \
		--code "$(pl_code @$h)" --keys "$T/k$h"
done

# @b pins @a's first keys by opening a notification from it.
pl_expect "a -> b before rotation" 0 "delivered" "$PL" notify @b text "before" --keys "$T/ka"
pl_expect "b opens it (pins a)" 0 "@a 1 before" "$PL" listen --keys "$T/kb" --count 1
old_pin=$(pin_of "$T/kb" @a)
old_fpr=$(fpr "$T/ka")
cp -r "$T/ka" "$T/ka-old"

# @c pinned something else for @a (say an impostor's keys): the proof must not move it.
python3 - "$T/kc/known_identities" <<'PY'
import base64, os, sys
with open(sys.argv[1], "a") as f:
    f.write("@a %s %s\n" % (base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()))
PY
chmod 600 "$T/kc/known_identities"

pl_expect "rotate @a" 0 "@a rotated" "$PL" rotate --keys "$T/ka"
new_fpr=$(fpr "$T/ka")
[ -n "$new_fpr" ] && [ "$new_fpr" != "$old_fpr" ] && pl_ok "key file switched ($old_fpr -> $new_fpr)" ||
	pl_fail "key file not switched ($old_fpr -> $new_fpr)"
[ ! -e "$T/ka/identity.key.new" ] && pl_ok "no leftover identity.key.new" || pl_fail "identity.key.new left"
pl_expect "old key no longer authenticates" 1 "authentication failed" \
	"$PL" notify @b text "with the old key" --keys "$T/ka-old"
pl_expect "server logged the rotation" 0 "rotated its keys" grep "rotated its keys" "$T/srv.log"

pl_expect "a -> b after rotation (new key)" 0 "delivered" "$PL" notify @b text "after" --keys "$T/ka"
pl_expect "b follows the rotation and opens it" 0 "@a 1 after" "$PL" listen --keys "$T/kb" --count 1
new_pin=$(pin_of "$T/kb" @a)
[ -n "$new_pin" ] && [ "$new_pin" != "$old_pin" ] && pl_ok "b's pin of @a moved to the new key" ||
	pl_fail "b's pin of @a did not move ($old_pin -> $new_pin)"
[ "$(grep -c '^@a ' "$T/kb/known_identities")" = 1 ] && pl_ok "exactly one pin line for @a" ||
	pl_fail "pin lines for @a: $(grep '^@a ' "$T/kb/known_identities")"
pl_expect "c (pinned another key) refuses the rotated keys" 1 "keys changed" \
	"$PL" notify @a text "to a" --keys "$T/kc"

# Rotating twice: b follows again (one proof step at a time).
pl_expect "rotate @a again" 0 "@a rotated" "$PL" rotate --keys "$T/ka"
pl_expect "a -> b after the 2nd rotation" 0 "delivered" "$PL" notify @b text "again" --keys "$T/ka"
pl_expect "b follows the 2nd rotation" 0 "@a 1 again" "$PL" listen --keys "$T/kb" --count 1

# @a listens and opens a notification from @b: it fetched @b's keys on that connection.
pl_bg listen-a "$PL" listen --keys "$T/ka" --count 2
LST=$PL_LAST_PID
pl_wait_log "$T/listen-a.log" "listening (connected)" 10
pl_expect "b -> a (a's listener fetches b's keys)" 0 "delivered" \
	"$PL" notify @a text "from b" --keys "$T/kb"
pl_wait_log "$T/listen-a.log" "@b 1 from b" 10
pl_expect "a's listener opened it" 0 "@b 1 from b" cat "$T/listen-a.log"

# Server-side revocation of @b.
pl_expect "revoke @b" 0 "revoked @b" "$CP" revoke @b --data "$T/data"
pl_expect "list shows @b revoked" 0 "@b *revoked" "$CP" list --data "$T/data"
# the running server picks up operator changes at its next housekeeping tick (5 s)
pl_wait_log "$T/srv.log" "cp: @b is revoked" 12
pl_expect "server noticed the revocation" 0 "@b is revoked" grep "@b is revoked" "$T/srv.log"
pl_expect "server told the one connection that fetched @b's keys" 0 "told 1 connection that" \
	grep "@b is revoked" "$T/srv.log"
pl_wait_log "$T/listen-a.log" "@b is revoked" 5
pl_expect "a's listener was told live and dropped @b's keys" 0 \
	"@b is revoked; its keys are no longer trusted" cat "$T/listen-a.log"
pl_stop "$LST"
pl_expect "revoked @b cannot authenticate" 1 "identity revoked" \
	"$PL" notify @a text "from revoked" --keys "$T/kb"
pl_expect "notifications to revoked @b refused" 1 "revoked" \
	"$PL" notify @b text "to revoked" --keys "$T/ka"
pl_expect "enrolling @b again refused" 1 "revoked" "$PL" enroll @b --cp 127.0.0.1:$PORT \
	--server-key "$KEY" --code "$(pl_code @b)" --keys "$T/kb2"
pl_expect "revoking twice: not enrolled" 1 "not an enrolled identity" "$CP" revoke @b --data "$T/data"

# Local revocation: @a refuses @c from now on.
pl_expect "portless revoke @c (at a)" 0 "@c revoked" "$PL" revoke @c --keys "$T/ka"
pl_expect "a refuses to seal to @c" 1 "revoked" "$PL" notify @c text "to c" --keys "$T/ka"

pl_check "server alive" kill -0 "$SRV"
if grep -q "Sanitizer\|runtime error" "$T/srv.log"; then
	pl_fail "sanitizer report in the server log"
fi
pl_finish
