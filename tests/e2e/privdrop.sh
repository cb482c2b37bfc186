#!/usr/bin/env bash
# Least privilege, in the namespace topology of the other e2e tests:
#  - portless-cp and portless-sr started as root run as an unprivileged user
#    (uid/gid != 0 in /proc/<pid>/status, no capabilities) under a seccomp
#    filter (Seccomp: 2); their data directories were handed to that user;
#  - portlessd (device and client) keeps uid 0 but only CAP_NET_ADMIN,
#    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER (CapEff = CapPrm = CapBnd = 0x100b);
#  - the whole flow still works (ssh through a session, exit code back);
#  - a system call outside a filter's list kills with a log line naming it
#    (seccomp_probe helper), allowed calls work; --user with an unknown user
#    refuses to start; --no-seccomp leaves the filter off.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

status_of() { cat "/proc/$1/status" 2>/dev/null; }
field() { awk -v f="$2:" '$1==f{print $2}' <<<"$1"; }
# CAP_CHOWN(0) CAP_DAC_OVERRIDE(1) CAP_FOWNER(3) CAP_NET_ADMIN(12)
want_caps=000000000000100b

for who in cp sr; do
	pid_var="PL_${who^^}_PID"
	st=$(status_of "${!pid_var}")
	uid=$(field "$st" Uid)
	gid=$(field "$st" Gid)
	pl_check "portless-$who runs unprivileged (uid $uid, gid $gid)" test "${uid:-0}" -ne 0 -a "${gid:-0}" -ne 0
	pl_check "portless-$who has no capabilities (CapEff $(field "$st" CapEff))" \
		test "$(field "$st" CapEff)" = 0000000000000000
	pl_check "portless-$who is under a seccomp filter (Seccomp: $(field "$st" Seccomp))" \
		test "$(field "$st" Seccomp)" = 2
	pl_check "portless-$who has no_new_privs" test "$(field "$st" NoNewPrivs)" = 1
done
pl_check "portless-cp logged the drop" grep -q "privdrop: running as user" "$PL_TMP/cp.log"
pl_check "portless-sr logged the filter" grep -q "seccomp: filter installed (portless-sr" "$PL_TMP/sr.log"
pl_check "the cp data dir belongs to the server's user" \
	test "$(stat -c %u "$PL_TMP/cp")" = "$(field "$(status_of "$PL_CP_PID")" Uid)"
pl_check "key files keep their owner (root: a restart as root still loads them)" \
	test "$(stat -c %u "$PL_TMP/cp/server.key"):$(stat -c %u "$PL_TMP/relay/identity.key")" = 0:0

for pid in "$PL_DEV_PID" "$PL_CLI_PID"; do
	st=$(status_of "$pid")
	pl_check "portlessd $pid stays uid 0" test "$(field "$st" Uid)" = 0
	pl_check "portlessd $pid CapEff is exactly the four (got $(field "$st" CapEff))" \
		test "$(field "$st" CapEff)" = $want_caps
	pl_check "portlessd $pid CapPrm is exactly the four" test "$(field "$st" CapPrm)" = $want_caps
	pl_check "portlessd $pid CapBnd is exactly the four" test "$(field "$st" CapBnd)" = $want_caps
	pl_check "portlessd $pid inherits nothing" test "$(field "$st" CapInh)" = 0000000000000000
done

# The flow still works with all of that in place (TUN per session, netlink,
# authorized_keys in the user's home, files under the run dir).
out=$(pl_ssh "$PL_USER" 'echo "privdrop-ok as $(id -un)"; exit 5' 2>"$PL_TMP/ssh.err")
rc=$?
pl_check "ssh through the session works (output)" grep -q "privdrop-ok as $PL_USER" <<<"$out"
pl_check "ssh exit code passes through (5, got $rc)" test "$rc" -eq 5
pl_check "still alive after the session: cp, sr, both portlessd" \
	kill -0 "$PL_CP_PID" "$PL_SR_PID" "$PL_DEV_PID" "$PL_CLI_PID"
pl_check "no seccomp kill in any log" bash -c "! grep -l 'seccomp: system call' $PL_TMP/*.log"

# The filters themselves.
PROBE=$PL_BUILD/tests/seccomp_probe
for prof in cp sr; do
	pl_check "$prof filter: allowed calls work" bash -c "[ \"\$('$PROBE' $prof allowed 2>/dev/null)\" = ok ]"
	"$PROBE" $prof denied 2>"$PL_TMP/probe-$prof.err"
	rc=$?
	pl_check "$prof filter: a denied call kills by SIGSYS (rc $rc)" test "$rc" -eq $((128 + 31))
	pl_check "$prof filter: the kill is logged with the call number" \
		grep -q "seccomp: system call [0-9]* denied" "$PL_TMP/probe-$prof.err"
done

# sqlite's calls (the store, every control-plane client's replay cache) in both;
# making and handing over files is the control plane's only.
pl_check "cp filter: the store's calls (ftruncate) work" \
	bash -c "[ \"\$('$PROBE' cp store 2>/dev/null)\" = ok ]"
pl_check "sr filter: the replay cache's calls (ftruncate) work" \
	bash -c "[ \"\$('$PROBE' sr store 2>/dev/null)\" = ok ]"
pl_check "cp filter: mkdir works" bash -c "[ \"\$('$PROBE' cp mkdir 2>/dev/null)\" = ok ]"
"$PROBE" sr mkdir 2>"$PL_TMP/probe-store.err"
rc=$?
pl_check "sr filter: the control plane's file calls are denied (rc $rc)" test "$rc" -eq $((128 + 31))

# --user with an unknown user: refuses to start; --no-seccomp: no filter.
mkdir -p "$PL_TMP/cp2" && chmod 755 "$PL_TMP/cp2"
"$PL_BIN/portless-cp" init --data "$PL_TMP/cp2/d" >/dev/null 2>&1
timeout 10 "$PL_BIN/portless-cp" serve --data "$PL_TMP/cp2/d" --listen 127.0.0.1:17991 \
	--user no-such-user-pl >"$PL_TMP/cp2.log" 2>&1
rc=$?
pl_check "--user no-such-user refuses to start (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
pl_check "... saying why" grep -q "no user 'no-such-user-pl'" "$PL_TMP/cp2.log"
"$PL_BIN/portless-cp" serve --data "$PL_TMP/cp2/d" --listen 127.0.0.1:17992 --no-seccomp \
	>"$PL_TMP/cp3.log" 2>&1 &
p=$!
PL_PIDS+=("$p")
pl_wait_log "$PL_TMP/cp3.log" "listening" 10
st=$(status_of "$p")
pl_check "--no-seccomp: still unprivileged, no filter (Seccomp $(field "$st" Seccomp))" \
	test "$(field "$st" Seccomp)" = 0 -a "$(field "$st" Uid)" != 0
pl_finish
