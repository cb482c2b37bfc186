#!/usr/bin/env bash
# An interface deleted from outside during a session (the netlink monitor's
# "our interface vanished"): on the device, every session ends (key line
# removed, the client told) and the TUN is made again with the same address,
# so the next session works without a restart; on the client, the session
# that owned the TUN ends saying so, and the
# device cleans up too. Neither daemon spins on the dead descriptor.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tun_name() { ip -n "$1" -o link show | sed -n 's/^[0-9]*: \(pl[0-9]*\):.*/\1/p' | head -1; }

# ---- the device's TUN goes away under a session
pl_up up1
UP=$PL_UP_PID
pl_check "session 1 is up with its key line" test "$(pl_key_lines "$PL_USER")" -eq 1
old=$(tun_name "$PL_NS_DEV")
pl_check "the device has its TUN ($old)" test -n "$old"
t0=$(cpu_ticks "$PL_DEV_PID")
ip -n "$PL_NS_DEV" link del "$old"
pl_wait_log "$PL_TMP/portlessd-dev.log" "is $PL_DEV_VIP on .* again" 10
pl_check "the device noticed its TUN vanished" \
	grep -q "device role: $old vanished (.*): ending 1 session" "$PL_TMP/portlessd-dev.log"
pl_check "the device made its TUN again with the same address" \
	grep -q "is $PL_DEV_VIP on pl[0-9]* again" "$PL_TMP/portlessd-dev.log"
pl_check "the session's key line is gone" test "$(pl_key_lines "$PL_USER")" -eq 0
for _ in $(seq 50); do kill -0 "$UP" 2>/dev/null || break; sleep 0.2; done
pl_check "the client was told and 'portless up' ended" bash -c "! kill -0 $UP 2>/dev/null"
wait "$UP" 2>/dev/null
sleep 2
t1=$(cpu_ticks "$PL_DEV_PID")
pl_check "the device daemon is not spinning ($((t1 - t0)) ticks in ~3 s)" test $((t1 - t0)) -lt 150
pl_check "exactly one TUN on the device" test "$(pl_tun_count "$PL_NS_DEV")" -eq 1
out=$(pl_ssh "$PL_USER" 'echo after-remake' 2>"$PL_TMP/ssh2.err")
pl_check "a new session works on the new TUN (sshd not restarted)" test "$out" = "after-remake"

# ---- the client's TUN goes away under a session
pl_up up2
UP=$PL_UP_PID
ctun=$(tun_name "$PL_NS_CLI")
pl_check "session 2 is up on the client's $ctun" test -n "$ctun" -a "$(pl_key_lines "$PL_USER")" -eq 1
t0=$(cpu_ticks "$PL_CLI_PID")
ip -n "$PL_NS_CLI" link del "$ctun"
for _ in $(seq 50); do kill -0 "$UP" 2>/dev/null || break; sleep 0.2; done
wait "$UP" 2>/dev/null
pl_check "'portless up' ended saying the interface went away" \
	grep -q "session ended: interface $ctun" "$PL_TMP/up2.err"
for _ in $(seq 50); do [ "$(pl_key_lines "$PL_USER")" -eq 0 ] && break; sleep 0.2; done
pl_check "the device ended the session too (key line gone)" test "$(pl_key_lines "$PL_USER")" -eq 0
sleep 1
t1=$(cpu_ticks "$PL_CLI_PID")
pl_check "the client daemon is not spinning ($((t1 - t0)) ticks)" test $((t1 - t0)) -lt 150
pl_check "no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0
pl_finish
