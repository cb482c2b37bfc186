#!/usr/bin/env bash
# [session] rekey-after in portlessd.conf: an ssh session that outlives it
# gets new data-plane keys in band (the device logs the completed rekeys at
# session end) and carries on; a bad value is refused at start-up.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
PL_CONF_EXTRA="[session]
rekey-after = 5s"
pl_e2e_setup

out=$(pl_ssh "$PL_USER" 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick; sleep 1; done; echo done' \
	2>"$PL_TMP/ssh.err")
pl_check "a 12 s session with rekey-after 5s completes" test "$(tail -1 <<<"$out")" = done
pl_check "...with all its output" test "$(grep -c tick <<<"$out")" -eq 12
for _ in $(seq 50); do grep -q "session .* end: peer @alice" "$PL_TMP/portlessd-dev.log" && break; sleep 0.1; done
n=$(sed -n 's/.*session .* end: peer @alice .*, \([0-9]*\) rekeys$/\1/p' "$PL_TMP/portlessd-dev.log" | tail -1)
pl_check "the device's end line counts the rekeys ($n, want >= 1)" test "${n:-0}" -ge 1

printf '[identity]\nkeys = /x\n[session]\nrekey-after = 1s\n' >"$PL_TMP/bad.conf"
err=$("$PL_BIN/portlessd" -c "$PL_TMP/bad.conf" 2>&1)
pl_check "rekey-after below 5s is refused naming the line" \
	grep -q "bad.conf:4: rekey-after must be 5s..1d" <<<"$err"
pl_finish
