#!/usr/bin/env bash
# portless keygen / whoami as a user runs them: handle and fingerprint
# printed, key file mode 0600, no overwrite without --force, whoami agrees,
# a group/other-readable key file and a bad handle refused with a clear
# message, and the default key directory (PORTLESS_KEYS, else XDG for users).
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
PL=$B/cli/portless
pl_loop_setup
T=$PL_TMP
FP='pl:[0-9a-f]{4}(-[0-9a-f]{4}){7}'

out=$("$PL" keygen @alice --keys "$T/k" 2>&1)
pl_check "keygen prints handle and fingerprint ($out)" grep -Eqx "@alice $FP" <<<"$out"
pl_check "the key file is mode 0600" test "$(stat -c %a "$T/k/identity.key")" = 600
pl_check "whoami prints the same identity" test "$("$PL" whoami --keys "$T/k" 2>&1 | head -1)" = "$out"
pl_check "...and the virtual addresses it has as a device" \
	grep -Eq "^virtual address 100\.[0-9.]+ fd[0-9a-f:]+ " <<<"$("$PL" whoami --keys "$T/k" 2>&1)"
err=$("$PL" keygen @alice --keys "$T/k" 2>&1)
rc=$?
pl_check "a second keygen refuses to overwrite (rc $rc)" test "$rc" -ne 0
pl_check "...saying so" grep -q "exists: refusing to overwrite (use --force)" <<<"$err"
pl_check "...and the key is unchanged" test "$("$PL" whoami --keys "$T/k" 2>&1 | head -1)" = "$out"
new=$("$PL" keygen @alice --keys "$T/k" --force 2>&1)
pl_check "--force makes new keys (another fingerprint)" test "$new" != "$out"
chmod 640 "$T/k/identity.key"
err=$("$PL" whoami --keys "$T/k" 2>&1)
rc=$?
pl_check "a group-readable key file is refused (rc $rc)" test "$rc" -ne 0
pl_check "...with the chmod to fix it" grep -q "too open.*chmod 600" <<<"$err"
err=$("$PL" keygen @Alice --keys "$T/k2" 2>&1)
rc=$?
pl_check "a bad handle is refused (rc $rc)" test "$rc" -ne 0
pl_check "...naming the rules" grep -q "is not a valid handle" <<<"$err"
pl_check "...and writes nothing" test ! -e "$T/k2/identity.key"
out=$(PORTLESS_KEYS="$T/env" "$PL" keygen @envdir 2>&1)
pl_check "PORTLESS_KEYS is the default key directory" test -f "$T/env/identity.key"
# A user's default, \$XDG_DATA_HOME/portless, made with its missing parents
# (as root: run that part as nobody).
as_user=()
if [ "$(id -u)" = 0 ]; then
	chmod 711 "$T"
	mkdir "$T/u" && chown 65534:65534 "$T/u"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	mkdir "$T/u"
fi
out=$(env -u PORTLESS_KEYS XDG_DATA_HOME="$T/u/new/share" "${as_user[@]}" "$PL" keygen @xdg 2>&1)
pl_check "a user's default is \$XDG_DATA_HOME/portless, parents made ($out)" \
	test -f "$T/u/new/share/portless/identity.key"
pl_check "...mode 0700 directories" test "$(stat -c %a "$T/u/new/share/portless")" = 700
pl_finish
