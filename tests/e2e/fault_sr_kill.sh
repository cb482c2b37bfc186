#!/usr/bin/env bash
# kill -9 of portless-sr during a 100 MB transfer over ssh, then a restart:
# both endpoints re-rendezvous on their own (new ticket, MSG_SESSION_RESUME,
# fresh keys) with the same virtual addresses, the ssh connection survives
# and the sha256 of the transfer matches. The gap is measured.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

MB=${PORTLESS_TRANSFER_MB:-100}
head -c $((MB * 1024 * 1024)) /dev/urandom >"$PL_TMP/big.bin"
want=$(sha256sum "$PL_TMP/big.bin" | cut -d' ' -f1)
# Throttle the sender a little so the kill lands mid-transfer on a fast machine.
pl_ssh "$PL_USER" 'cat > big.bin && sha256sum big.bin' \
	< <(pv -q -L 40m "$PL_TMP/big.bin" 2>/dev/null || cat "$PL_TMP/big.bin") \
	>"$PL_TMP/sum.out" 2>"$PL_TMP/ssh.err" &
SSH=$!
PL_PIDS+=("$SSH")
pl_wait_log "$PL_TMP/portlessd-alice.log" "up: " 20
sleep 1
home=$(getent passwd "$PL_USER" | cut -d: -f6)
before=$(stat -c %s "$home/big.bin" 2>/dev/null || echo 0)
kill -9 "$PL_SR_PID"
wait "$PL_SR_PID" 2>/dev/null
echo "killed the relay after $before bytes"
sleep 1
pl_start sr2 "$PL_NS_PUB" "$PL_BIN/portless-sr" --keys "$PL_TMP/relay" \
	--tcp "$PL_PUB_CLI_IP:7444" --udp "$PL_PUB_CLI_IP:7444" --advertise "$PL_PUB_CLI_IP"
PL_SR_PID=$PL_LAST_PID
wait "$SSH"
rc=$?
pl_check "the transfer was under way when the relay died ($before of $((MB * 1048576)) bytes)" \
	test "$before" -lt $((MB * 1024 * 1024))
pl_check "the ssh command completed (rc $rc)" test "$rc" -eq 0
pl_check "sha256 of the $MB MB transfer matches" grep -q "^$want " "$PL_TMP/sum.out"
pl_check "the client re-established the path" grep -q "resumed over" "$PL_TMP/portlessd-alice.log"
pl_check "the device resumed the same session" grep -q "resuming through a new relay session" "$PL_TMP/portlessd-dev.log"
pl_check "one session at the device throughout (one key line start)" \
	test "$(grep -c 'session .* start:' "$PL_TMP/portlessd-dev.log")" -eq 1
pl_check "the new relay carried it" grep -q "session .* start @alice -> @device" "$PL_TMP/sr2.log"
gap=$(sed -n 's/.*resumed over [A-Z]* after \([0-9]*\) ms.*/\1/p' "$PL_TMP/portlessd-alice.log" | head -1)
echo "re-rendezvous gap (relay lost -> path up again): ${gap:-?} ms (includes the 1 s before the restart)"
pl_finish
