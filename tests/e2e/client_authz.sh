#!/usr/bin/env bash
# Per-user authorisation on the client: the client portlessd decides from
# SO_PEERCRED what each local user may ask for. A second local user asking
# for root@@device, or for another user's login that the device allows, is
# refused by the client daemon (naming the missing rule) and nothing reaches
# the device; with a [local] rule the same user logs in; `portless status`
# shows a user only their own sessions; with [client] group set, a user
# outside the group cannot open the socket.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
G=pl$$g
pl_need_root
pl_find_build || exit 1
pl_tmp
trap 'pl_cleanup; groupdel "$G" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
PL_USER=pl$$u
GUEST=pl$$q
MEMBER=pl$$m
pl_topology_up
pl_world
pl_user "$PL_USER"
pl_user "$GUEST"
pl_user "$MEMBER"
pl_device "$PL_USER"
PL_CONF_EXTRA="[local $GUEST]
as = %self" pl_client

as_user() { # USER CMD...: run CMD as USER in the client namespace, against the daemon
	local u=$1
	shift
	ip netns exec "$PL_NS_CLI" runuser -u "$u" -- env PORTLESS_SOCKET="$PL_SOCK" timeout 30 "$@"
}
requests() { grep -c "session request\|refused (no answer)\|start: peer" "$PL_TMP/portlessd-dev.log"; }

before=$(requests)
as_user "$GUEST" "$PL_BIN/portless" ssh root@@device -- id >/dev/null 2>"$PL_TMP/g1.err"
pl_check "a local user asking for root@@device is refused (exit $?)" \
	grep -q "local daemon.*may not ask for root@@device" "$PL_TMP/g1.err"
pl_check "...naming the missing rule" grep -q "\[local $GUEST\] with as = root" "$PL_TMP/g1.err"
as_user "$GUEST" "$PL_BIN/portless" ssh "$PL_USER@@device" -- id >/dev/null 2>"$PL_TMP/g2.err"
pl_check "asking for another user's login the device allows is refused" \
	grep -q "may not ask for $PL_USER@@device" "$PL_TMP/g2.err"
pl_check "the refused requests never reached the device" test "$(requests)" -eq "$before"
pl_check "the client daemon logged who was refused" \
	grep -q "uid $(id -u "$GUEST") refused" "$PL_TMP/portlessd-alice.log"

# root holds a session; the guest sees none of it, root sees it
pl_up up
UP_PID=$PL_UP_PID
st_guest=$(as_user "$GUEST" "$PL_BIN/portless" status)
st_root=$(ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$PL_BIN/portless" status)
pl_check "root's status lists its session" grep -Eq "client +@device +$PL_USER" <<<"$st_root"
pl_check "another user's status does not" bash -c "! grep -q ' client ' <<<'$st_guest'"
out=$(as_user "$GUEST" "$PL_BIN/portless" down @device 2>&1)
pl_check "another user can't end it" grep -q "closed 0 session" <<<"$out"
kill "$UP_PID" 2>/dev/null
wait "$UP_PID" 2>/dev/null

# with a rule, the guest may log in as that user (on the device's terms)
stop_cli() {
	kill "$PL_CLI_PID"
	for _ in $(seq 50); do kill -0 "$PL_CLI_PID" 2>/dev/null || break; sleep 0.1; done
}
stop_cli
PL_CONF_EXTRA="[local $GUEST]
as = $PL_USER
devices = @device" pl_client
out=$(as_user "$GUEST" "$PL_BIN/portless" ssh "$PL_USER@@device" -- id -un 2>"$PL_TMP/g3.err")
pl_check "with [local $GUEST] as = $PL_USER it logs in as $PL_USER" test "$out" = "$PL_USER"
as_user "$GUEST" "$PL_BIN/portless" ssh root@@device -- id >/dev/null 2>"$PL_TMP/g4.err"
pl_check "...and still not as root" grep -q "may not ask for root@@device" "$PL_TMP/g4.err"

# [client] group: only members can open the socket
stop_cli
groupadd "$G"
usermod -a -G "$G" "$MEMBER"
PL_CONF_EXTRA="group = $G" pl_client
pl_check "the socket is root:$G 0660" test "$(stat -c '%U:%G %a' "$PL_SOCK")" = "root:$G 660"
as_user "$GUEST" "$PL_BIN/portless" status >/dev/null 2>"$PL_TMP/g5.err"
pl_check "a user outside the group cannot open the socket" grep -qi "permission denied" "$PL_TMP/g5.err"
pl_check "a member can" as_user "$MEMBER" "$PL_BIN/portless" status
pl_finish
