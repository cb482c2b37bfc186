#!/usr/bin/env bash
# An identity the device's policy does not name gets no answer at all: the
# client reports it clearly within its timeout, and the device has no new
# key line, no new interface and no session. The allowed identity asking for
# a user it may not use is refused the same way.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
# the client lets root ask as root (remote root needs a [local] rule there),
# so that request reaches the device, which must refuse it
PL_CONF_EXTRA="[local root]
as = root, %self, *"
pl_e2e_setup @mallory

tuns=$(pl_tun_count "$PL_NS_DEV")
# @mallory's own client daemon.
pl_client "$PL_TMP/mallory"
t0=$(date +%s)
out=$(pl_ssh "$PL_USER" true 2>&1)
rc=$?
t1=$(date +%s)
echo "$out" | tail -3
pl_check "the unauthorised client fails (rc $rc)" test "$rc" -ne 0
pl_check "it names the hop: no answer from the device" \
	grep -q "device answer: no answer from @device within .* (not authorised, or offline)" <<<"$out"
pl_check "within its timeout ($((t1 - t0)) s)" test $((t1 - t0)) -le 25
pl_check "the device logged the refusal" \
	grep -q "refused (no answer): @mallory may not log in" "$PL_TMP/portlessd-dev.log"
pl_check "no key line was written" test "$(pl_key_lines "$PL_USER")" -eq 0
pl_check "no interface was created on the device" test "$(pl_tun_count "$PL_NS_DEV")" -eq "$tuns"
pl_check "the device started no session" bash -c "! grep -q 'session .* start' '$PL_TMP/portlessd-dev.log'"
pl_check "no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0

# @alice is allowed, but only as $PL_USER: asking for root gets no answer either.
PL_SOCK="$PL_TMP/run-alice/portlessd.sock"
out=$(pl_ssh root true 2>&1)
pl_check "an allowed identity asking for another user gets no answer" \
	grep -q "no answer from @device" <<<"$out"
pl_check "...and the refusal names the user" \
	grep -q "@alice may not log in as 'root'" "$PL_TMP/portlessd-dev.log"
pl_check "still no key line" test "$(pl_key_lines "$PL_USER")" -eq 0
pl_check "root's authorized_keys has no portless line" \
	bash -c "! grep -qs portless-session: /root/.ssh/authorized_keys"
pl_finish
