#!/usr/bin/env bash
# The site's interface scripts ([interface] ifup/ifdown in portlessd.conf):
# the device's runs when its TUN is configured (up) and before it goes
# (down, at daemon stop); the client's around each session's TUN, with the
# interface, role, session, addresses and MTU in the environment and the
# interface already configured at "up". A failing script is reported in the
# log and the session still works.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_need_root
pl_tmp
HOOK=$PL_TMP/ifhook
LOG=$PL_TMP/ifhook.log
cat >"$HOOK" <<HOOK
#!/bin/sh
set -u
have=no
ip -o addr show dev "\$PORTLESS_IFNAME" 2>/dev/null | grep -q "inet " && have=yes
echo "\$PORTLESS_PHASE \$PORTLESS_ROLE \$PORTLESS_IFNAME addr4=\$PORTLESS_ADDR4 peer4=\$PORTLESS_PEER4 session=\$PORTLESS_SESSION mtu=\$PORTLESS_MTU configured=\$have" >>"$LOG"
# the client's ifup fails on purpose: it must be reported, not fatal
[ "\$PORTLESS_ROLE:\$PORTLESS_PHASE" = client:up ] && exit 3
exit 0
HOOK
chmod 755 "$HOOK"
PL_CONF_EXTRA="[interface]
ifup = $HOOK
ifdown = $HOOK
script-timeout = 5s"
pl_e2e_setup

pl_check "device ifup ran with the interface configured" \
	grep -q "^up device pl[0-9]* addr4=$PL_DEV_VIP/[0-9]* peer4= session= mtu=1420 configured=yes" "$LOG"
out=$(pl_ssh "$PL_USER" 'echo hooked' 2>"$PL_TMP/ssh.err")
pl_check "a session works although the client's ifup failed" test "$out" = hooked
for _ in $(seq 50); do grep -q "^down client" "$LOG" && break; sleep 0.1; done
pl_check "client ifup ran for the session's TUN, configured, with the device as peer" \
	grep -Eq "^up client pl[0-9]+ addr4=100\.[0-9.]+/32 peer4=$PL_DEV_VIP session=[0-9a-f]{32} mtu=[0-9]+ configured=yes" "$LOG"
pl_check "its failure was reported in the client's log" \
	grep -q "interface pl[0-9]* (client, up): .*exited with status 3" "$PL_TMP/portlessd-alice.log"
pl_check "client ifdown ran when the session ended" grep -Eq "^down client pl[0-9]+ .*session=[0-9a-f]{32}" "$LOG"
kill "$PL_DEV_PID"
wait "$PL_DEV_PID" 2>/dev/null
pl_check "device ifdown ran at daemon stop" grep -q "^down device pl[0-9]* addr4=$PL_DEV_VIP/" "$LOG"
pl_check "no script failure reported on the device" bash -c "! grep -q 'interface .*(device' '$PL_TMP/portlessd-dev.log'"
pl_finish
