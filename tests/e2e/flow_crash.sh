#!/usr/bin/env bash
# kill -9 of the device's portlessd during a session, then a restart: the
# stale key line is removed and no interface is left behind; a new session works.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

pl_up up
UP=$PL_UP_PID
pl_check "a session is up with its key line" test "$(pl_key_lines "$PL_USER")" -eq 1
pl_check "the device has its TUN" test "$(pl_tun_count "$PL_NS_DEV")" -eq 1

kill -9 "$PL_DEV_PID"
wait "$PL_DEV_PID" 2>/dev/null
sleep 0.2
pl_check "after kill -9 the stale key line is still there (nothing cleaned it)" \
	test "$(pl_key_lines "$PL_USER")" -eq 1
pl_check "the kernel removed the dead daemon's TUN" test "$(pl_tun_count "$PL_NS_DEV")" -eq 0

# Restart: start-up clean-up removes what the crash left.
pl_start portlessd-dev2 "$PL_NS_DEV" "$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
PL_DEV_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/portlessd-dev2.log" "ready" 15
pl_check "restart logged the clean-up" grep -q "removed 1 stale portless key line" "$PL_TMP/portlessd-dev2.log"
pl_check "no stale key line after restart" test "$(pl_key_lines "$PL_USER")" -eq 0
pl_check "exactly one TUN (the new one) on the device" test "$(pl_tun_count "$PL_NS_DEV")" -eq 1
pl_check "same virtual address after restart" grep -q "is $PL_DEV_VIP on" "$PL_TMP/portlessd-dev2.log"
kill "$UP" 2>/dev/null
wait "$UP" 2>/dev/null

# sshd kept listening on the virtual address? It was bound to the old TUN's
# address; restart it so it binds the new one (the unit orders sshd after portlessd).
kill "$PL_SSHD_PID"
wait "$PL_SSHD_PID" 2>/dev/null
pl_sshd "$PL_NS_DEV" 127.0.0.1 "$PL_DEV_VIP"
pl_wait_tcp "$PL_NS_DEV" "$PL_DEV_VIP" 22
out=$(pl_ssh "$PL_USER" 'echo again' 2>"$PL_TMP/ssh2.err")
pl_check "a new session works after the restart" test "$out" = "again"
pl_finish
