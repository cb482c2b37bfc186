#!/usr/bin/env bash
# The whole flow with real OpenSSH: a command through `portless ssh` returns
# the device's output and exit code; `portless scp` copies both ways; status
# shows the session; afterwards no
# key line, no session TUN on either side; the device's physical interface has
# no listening socket and port 22 there refuses.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

dev_tuns_before=$(pl_tun_count "$PL_NS_DEV")
out=$(pl_ssh "$PL_USER" 'echo "hello from $(hostname -I | tr " " "\n" | grep -c .) addrs as $(id -un)"; exit 7' 2>"$PL_TMP/ssh.err")
rc=$?
pl_check "ssh command output comes from the device as the right user" \
	grep -q "hello from .* as $PL_USER" <<<"$out"
pl_check "ssh exit code passes through (7, got $rc)" test "$rc" -eq 7
pl_check "portless reported the tunnel ready" grep -q "tunnel to @device ready" "$PL_TMP/ssh.err"

# portless scp: a file to the device and back, remote operands written user@@device:path.
head -c 300000 /dev/urandom >"$PL_TMP/scp.bin"
chmod 644 "$PL_TMP/scp.bin"
ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
	"$PL_BIN/portless" scp -q "$PL_TMP/scp.bin" "$PL_USER@@device:scp.bin" 2>"$PL_TMP/scp1.err"
pl_check "portless scp uploads" test "$(pl_ssh "$PL_USER" 'sha256sum < scp.bin' 2>/dev/null | cut -d' ' -f1)" = \
	"$(sha256sum <"$PL_TMP/scp.bin" | cut -d' ' -f1)"
ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
	"$PL_BIN/portless" scp -q "$PL_USER@@device:scp.bin" "$PL_TMP/scp.back" 2>"$PL_TMP/scp2.err"
pl_check "portless scp downloads the same bytes" cmp -s "$PL_TMP/scp.bin" "$PL_TMP/scp.back"
ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 10 \
	"$PL_BIN/portless" scp "$PL_TMP/scp.bin" /tmp/x 2>"$PL_TMP/scp3.err"
pl_check "portless scp without a remote operand is a usage error (exit $?)" \
	grep -q "remote: \[user@\]@device:path" "$PL_TMP/scp3.err"

# A session held open (portless up) is listed by status on both ends.
pl_up up
UP_PID=$PL_UP_PID
st=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" status)
pl_check "status lists the client session to @device over UDP or TCP" \
	grep -Eq "client +@device +$PL_USER .*(UDP|TCP)" <<<"$st"
pl_check "one portless key line while the session is up" test "$(pl_key_lines "$PL_USER")" -eq 1
fpr_dev=$("$PL_BIN/portless" whoami --keys "$PL_TMP/device" | head -1 | awk '{print $2}')
pl_check "portless ssh shows the device's key fingerprint ($fpr_dev) as pinned" \
	grep -q "@device's key is $fpr_dev (pinned" "$PL_TMP/ssh.err"
pl_check "whoami on the device names the virtual address portlessd took ($PL_DEV_VIP)" grep -q \
	"^virtual address $PL_DEV_VIP " <<<"$("$PL_BIN/portless" whoami --keys "$PL_TMP/device" --config "$PL_TMP/device.conf")"
stj=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" status --json)
pl_check "status --json is JSON listing the session with its relay and counters" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
assert any(r["role"] == "client" and r["peer"] == "@device" and r["relay"] == "@relay"
           and r["via"] in ("UDP", "TCP") and len(r["session"]) == 32 for r in rows), rows' "$stj"
# The printed ssh command works as is.
cmd=$(cat "$PL_TMP/up.out")
out=$(ip netns exec "$PL_NS_CLI" timeout 30 $cmd true 2>&1)
pl_check "the ssh command printed by portless up logs in" test $? -eq 0
down=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" down @device)
pl_check "portless down closes it" grep -q "closed 1 session" <<<"$down"
wait "$UP_PID" 2>/dev/null

# After the sessions end: nothing left behind on either side.
for _ in $(seq 1 50); do
	[ "$(pl_key_lines "$PL_USER")" -eq 0 ] && [ "$(pl_tun_count "$PL_NS_CLI")" -eq 0 ] && break
	sleep 0.1
done
pl_check "no portless line left in authorized_keys" test "$(pl_key_lines "$PL_USER")" -eq 0
pl_check "no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0
pl_check "device keeps only its own TUN ($dev_tuns_before)" \
	test "$(pl_tun_count "$PL_NS_DEV")" -eq "$dev_tuns_before"
# The client's in-band CLOSE reaches the device before the relay's ERROR for
# its LEAVE (the relay used to send the ERROR first: the device then held the
# session for 60 s waiting for a resume).
pl_check "the device never mistook a normal close for a lost relay path" \
	bash -c "! grep -q 'relay path lost (SR: peer left)' '$PL_TMP/portlessd-dev.log'"
pl_check "the session's key file is gone" \
	test -z "$(find "$(dirname "$PL_SOCK")" -name '*.key' 2>/dev/null)"

# No port on the device's physical interface.
# Local addresses of every listening TCP/UDP socket: only loopback and the virtual IP.
listen=$(ip netns exec "$PL_NS_DEV" ss -Hltnu | awk '{print $5}')
echo "device listens on: $(echo $listen)"
bad=$(grep -v -e '^127\.0\.0\.1:' -e "^$PL_DEV_VIP:" -e '^\[::1\]:' <<<"$listen")
pl_check "nothing listens on the device's physical address or a wildcard" test -z "$bad"
pl_check "sshd listens on the virtual address" grep -q "^$PL_DEV_VIP:22$" <<<"$listen"
pl_check "TCP connect to the device's physical port 22 fails" \
	bash -c "! ip netns exec $PL_NS_CLI timeout 3 bash -c 'exec 3<>/dev/tcp/$PL_DEV_IP/22' 2>/dev/null"
pl_finish
