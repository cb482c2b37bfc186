#!/usr/bin/env bash
# portless doctor passes on a healthy client and device, and names the
# failing hop, with what to do, for each of: a wrong server key, the control
# plane down, the relay down, sshd not on the virtual address, a key file
# readable by others.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup
doc() { # NS CONFIG: portless doctor there (its exit code is the function's)
	ip netns exec "$1" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 "$PL_BIN/portless" doctor --config "$2"
}
out=$(doc "$PL_NS_CLI" "$PL_TMP/client-alice.conf")
rc=$?
echo "$out"
pl_check "a healthy client passes every check (exit $rc)" test "$rc" -eq 0
pl_check "...including the relay, with its round trip" grep -Eq "^ok +relay @relay .*round trip" <<<"$out"
out=$(doc "$PL_NS_DEV" "$PL_TMP/device.conf")
rc=$?
pl_check "a healthy device passes every check (exit $rc)" test "$rc" -eq 0
pl_check "...including sshd on the virtual address" grep -q "^ok   sshd .*$PL_DEV_VIP:22" <<<"$out"
json=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" doctor \
	--config "$PL_TMP/client-alice.conf" --json)
pl_check "--json is JSON with every check ok" python3 -c '
import json, sys
r = json.loads(sys.argv[1]); assert r and all(c["ok"] for c in r), r' "$json"

# a wrong server key (the configuration's [controlplane] overriding cp.conf)
sed "s/^\[identity\]/[controlplane]\naddress = $PL_PUB_CLI_IP:7443\nserver-key = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n[identity]/" \
	"$PL_TMP/client-alice.conf" >"$PL_TMP/wrongkey.conf"
out=$(doc "$PL_NS_CLI" "$PL_TMP/wrongkey.conf")
pl_check "a wrong server key fails at the control plane" grep -q "^FAIL control plane " <<<"$out"
pl_check "...and the override is named" grep -q "^FAIL controlplane override" <<<"$out"

# the key file readable by others
chmod 644 "$PL_TMP/alice/identity.key"
out=$(doc "$PL_NS_CLI" "$PL_TMP/client-alice.conf")
pl_check "a key file of mode 0644 is named, with the fix" grep -q "^FAIL identity .*chmod 600" <<<"$out"
chmod 600 "$PL_TMP/alice/identity.key"

# sshd not on the virtual address
kill "$PL_SSHD_PID"
for _ in $(seq 30); do kill -0 "$PL_SSHD_PID" 2>/dev/null || break; sleep 0.1; done
out=$(doc "$PL_NS_DEV" "$PL_TMP/device.conf")
pl_check "sshd not on the virtual address is named, with the fix" \
	grep -q "^FAIL sshd .*ListenAddress $PL_DEV_VIP" <<<"$out"

# the relay down
kill "$PL_SR_PID"
sleep 1
out=$(doc "$PL_NS_CLI" "$PL_TMP/client-alice.conf")
pl_check "the relay down is named" grep -q "^FAIL relay @relay .*not connected to its home" <<<"$out"

# the control plane down
kill "$PL_CP_PID"
sleep 0.5
out=$(doc "$PL_NS_CLI" "$PL_TMP/client-alice.conf")
rc=$?
pl_check "the control plane down is named" grep -q "^FAIL control plane " <<<"$out"
pl_check "...and doctor exits non-zero ($rc)" test "$rc" -ne 0
pl_finish
