#!/usr/bin/env bash
# What scripts/install.sh puts in place for each role, staged into a
# temporary --destdir: only that role's binaries, units and users; every
# manual page (generated from docs/man/*.scd) and document; the bash
# completion; every unit's Documentation= names pages that were installed,
# and `systemd-analyze verify` accepts every unit (with those pages on
# MANPATH). Skips (77) without systemd-analyze or scdoc. Needs no root.
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
S=${PORTLESS_SRC:?}
B=${PORTLESS_BUILD:?}
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
command -v scdoc >/dev/null || { echo "SKIP: no scdoc"; exit 77; }
pl_loop_setup
T=$PL_TMP
U=etc/systemd/system

stage() { # stage ROLE: install ROLE (or everything for "all") into $T/ROLE
	local r=()
	[ "$1" = all ] || r=(--role "$1")
	bash "$S/scripts/install.sh" --build "$B" --destdir "$T/$1" --prefix /opt/pl "${r[@]}" >"$T/$1.out" 2>&1
}
for role in all cp sr device client; do
	pl_check "install.sh --role $role succeeds" stage "$role"
done
pl_check "an unknown role is refused" bash -c '! bash "$1/scripts/install.sh" --destdir "$2/x" --role frob 2>/dev/null' _ "$S" "$T"

# role -> the units and binaries it must have, and those it must not.
want() { [ -e "$T/$1/$2" ] && pl_ok "$1 has $2" || pl_fail "$1 lacks $2"; }
lacks() { [ ! -e "$T/$1/$2" ] && pl_ok "$1 has no $2" || pl_fail "$1 should not have $2"; }
want cp $U/portless-cp.service
lacks cp $U/portless-sr.service
lacks cp $U/portlessd.service
lacks cp etc/sysusers.d/portless.conf
lacks cp etc/portless/portlessd.conf.example
want sr $U/portless-sr.service
want sr opt/pl/bin/portless
lacks sr $U/portlessd.service
lacks sr $U/portless-cp.service
want sr etc/sysusers.d/portless.conf
want device $U/portlessd.service
want device etc/sysusers.d/portless.conf
want device etc/portless/portlessd.conf.example
lacks device $U/portless-sr.service
want client $U/portlessd.service
lacks client etc/sysusers.d/portless.conf
lacks client $U/portless-cp.service

# The user made is the one the programs drop to (PRIVDROP_DEFAULT_USER) and
# the relay's unit runs as.
def=$(sed -n 's/^#define PRIVDROP_DEFAULT_USER "\(.*\)"$/\1/p' "$S/cli/common/privdrop.h")
pl_check "the sysusers entry makes privdrop's default user '$def'" \
	grep -Eq "^u $def " "$T/all/etc/sysusers.d/portless.conf"
pl_check "portless-sr.service runs as '$def'" grep -qx "User=$def" "$T/all/$U/portless-sr.service"

for page in man1/portless.1 man8/portlessd.8 man8/portless-cp.8 man8/portless-sr.8 man5/portlessd.conf.5; do
	want all "opt/pl/share/man/$page"
	pl_check "$page renders" bash -c 'MANWIDTH=80 man -l "$1" 2>&1 | grep -q "^NAME"' _ "$T/all/opt/pl/share/man/$page"
done
for doc in "$S"/docs/*.md; do
	want all "opt/pl/share/doc/portless/$(basename "$doc")"
done
want all opt/pl/share/bash-completion/completions/portless
pl_check "the completion offers the commands" bash -c '. "$1"; COMP_WORDS=(portless s); COMP_CWORD=1; _portless; [[ " ${COMPREPLY[*]} " == *" ssh "* && " ${COMPREPLY[*]} " == *" status "* ]]' \
	_ "$T/all/opt/pl/share/bash-completion/completions/portless"
for var in PORTLESS_SOCKET PORTLESS_KEYS PORTLESS_LOG PORTLESS_TRANSPORT; do
	pl_check "portless(1) documents $var" grep -q "$var" "$T/all/opt/pl/share/man/man1/portless.1"
done
pl_check "portlessd(8) documents PORTLESS_NO_SECCOMP" grep -q PORTLESS_NO_SECCOMP "$T/all/opt/pl/share/man/man8/portlessd.8"

# Documentation= of every unit: man pages installed, files installed.
for u in portless-cp portless-sr portlessd; do
	for d in $(sed -n 's/^Documentation=//p' "$T/all/$U/$u.service"); do
		case $d in
		man:*) p=${d#man:}; name=${p%(*}; sect=${p#*(}; sect=${sect%)}
			want all "opt/pl/share/man/man$sect/$name.$sect" ;;
		file:*) want all "${d#file:}" ;;
		*) pl_fail "$u: unexpected Documentation=$d" ;;
		esac
	done
done

# systemd-analyze verify, every unit, man pages looked up in the staging tree.
mkdir "$T/units"
for u in portless-cp portless-sr portlessd; do
	sed "s|/opt/pl/bin/$u|/bin/true|" "$T/all/$U/$u.service" >"$T/units/$u.service"
done
# the relay's user may not exist on this machine: systemd would complain of that only
sed -i 's/^User=.*/User=root/; s/^Group=.*/Group=root/' "$T/units/portless-sr.service"
for u in portless-cp portless-sr portlessd; do
	out=$(cd "$T/units" && MANPATH="$T/all/opt/pl/share/man" SYSTEMD_LOG_LEVEL=warning \
		systemd-analyze verify --man=yes "./$u.service" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && ! grep -Eiq 'unknown|invalid|failed|ignoring|not found|no entry' <<<"$out"; then
		pl_ok "systemd-analyze verify $u.service"
	else
		pl_fail "systemd-analyze verify $u.service (rc $rc): $out"
	fi
done
pl_finish
