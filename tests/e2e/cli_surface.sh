#!/usr/bin/env bash
# The usual command-line surface: every program and every `portless` (and
# `portless-cp`) subcommand answers --help and --version with exit 0 on
# stdout and nothing on stderr; `portless help CMD` prints that command's
# usage, not the global one; an unknown command or option exits 2 with the
# usage on stderr. Needs no root.
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
pl_loop_setup
T=$PL_TMP
VER='^portless(d|-cp|-sr)? [0-9]+\.[0-9]+\.[0-9]+$'

# answers NAME CMD...: exit 0, something on stdout, nothing on stderr.
answers() {
	local name=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && [ -s "$T/out" ] && [ ! -s "$T/err" ]; then
		pl_ok "$name"
	else
		pl_fail "$name (rc $rc, stdout $(wc -c <"$T/out") B, stderr: $(head -c 200 "$T/err"))"
	fi
}

for p in portless portlessd portless-cp portless-sr; do
	answers "$p --help" "$B/cli/$p" --help
	answers "$p --version" "$B/cli/$p" --version
	pl_check "$p --version prints name and version ($(cat "$T/out"))" grep -Eqx "$VER" "$T/out"
done

PCMDS="keygen whoami ssh scp up down status enroll notify listen rotate revoke authorized-keys doctor help"
for c in $PCMDS; do
	answers "portless $c --help" "$B/cli/portless" "$c" --help
	pl_check "portless $c --help is that command's usage" grep -q "^usage: portless $c" "$T/out"
	answers "portless $c -h" "$B/cli/portless" "$c" -h
	answers "portless $c --version" "$B/cli/portless" "$c" --version
	answers "portless help $c" "$B/cli/portless" help "$c"
	pl_check "portless help $c is that command's usage" grep -q "^usage: portless $c" "$T/out"
done
for c in init serve add list remove revoke; do
	answers "portless-cp $c --help" "$B/cli/portless-cp" "$c" --help
	pl_check "portless-cp $c --help is that command's usage" grep -q "^usage: portless-cp $c" "$T/out"
	answers "portless-cp $c --version" "$B/cli/portless-cp" "$c" --version
	answers "portless-cp help $c" "$B/cli/portless-cp" help "$c"
done
answers "portless help" "$B/cli/portless" help
pl_check "portless help lists every command" grep -q "portless authorized-keys" "$T/out"

# An ssh option after "--" is ssh's, not ours.
out=$(PORTLESS_SOCKET=$T/none.sock "$B/cli/portless" ssh @dev -- --help 2>&1)
pl_check "'portless ssh @dev -- --help' goes to ssh, not our help" \
	bash -c '! grep -q "^usage: portless ssh" <<<"$1"' _ "$out"

pl_expect "an unknown command exits 2" 2 "unknown command 'frob'" "$B/cli/portless" frob
pl_expect "help for an unknown command exits 2" 2 "unknown command 'frob'" "$B/cli/portless" help frob
pl_expect "an unknown option exits 2" 2 "unknown option --frob" "$B/cli/portless" ssh --frob @d
pl_expect "portlessd: an unknown option exits 2" 2 "usage: portlessd" "$B/cli/portlessd" --frob
pl_expect "portless-cp: an unknown command exits 2" 2 "unknown command" "$B/cli/portless-cp" frob
pl_expect "portless-sr: a host name for --advertise is refused at start" 2 \
	"a numeric IPv4 or IPv6 address" "$B/cli/portless-sr" --keys /nonexistent \
	--tcp 127.0.0.1:1 --udp 127.0.0.1:1 --advertise relay.example
pl_finish
