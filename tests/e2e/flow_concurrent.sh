#!/usr/bin/env bash
# Many sessions from one client host to one device at once, with real
# OpenSSH: 20 parallel `portless ssh ... -- echo <token>` each print their own
# token; two local users of the client log in at the same time as two
# device users; `portless up` held while `portless ssh` and `portless scp`
# run, each ending on its own (its key line removed, the others untouched);
# `ssh -6` through the tunnel to the device's ULA logs in; afterwards no
# key line and no client TUN are left (the dispatch by address is unit-tested
# in test_cliif).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
PL_USER=pl$$u
U2=pl$$v
pl_need_root
pl_find_build || exit 1
pl_tmp
trap pl_cleanup EXIT
trap 'exit 130' INT TERM
pl_topology_up
pl_world
pl_user "$PL_USER"
pl_user "$U2"
C1=pl$$c
C2=pl$$d
PL_DEV_USERS="$PL_USER,$U2" PL_DEV_EXTRA="max-sessions = 64" PL_SSHD_V6=1 pl_device "$PL_USER"
# the client's [local] rules: which local user may ask as which device user
PL_CONF_EXTRA="[local $C1]
as = $PL_USER
[local $C2]
as = $U2" pl_client
N=20

client() { ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" "$@"; }
status_rows() { client "$PL_BIN/portless" status | grep -c ' client '; }

# --- 20 at once from one local user ---
pids=()
for i in $(seq 1 $N); do
	client timeout 120 "$PL_BIN/portless" ssh "$PL_USER@@device" -- echo "token-$i-$$" \
		>"$PL_TMP/par$i.out" 2>"$PL_TMP/par$i.err" &
	pids+=($!)
done
okn=0
for i in $(seq 1 $N); do
	wait "${pids[$((i - 1))]}" && [ "$(cat "$PL_TMP/par$i.out")" = "token-$i-$$" ] && okn=$((okn + 1))
done
pl_check "$N parallel portless ssh all succeed, each printing its own token ($okn of $N)" \
	test "$okn" -eq "$N"
[ "$okn" -eq "$N" ] || for i in $(seq 1 $N); do tail -2 "$PL_TMP/par$i.err"; done | sort | uniq -c | head
pl_check "the device saw $N different client addresses" \
	test "$(grep -o 'start: peer @alice user [^ ]* client [0-9.]*' "$PL_TMP/portlessd-dev.log" |
		awk '{print $NF}' | sort -u | wc -l)" -ge "$N"
pl_check "start and end lines match by session id" bash -c "
	s=\$(sed -n 's/.*session \([0-9a-f]\{8\}\) start:.*/\1/p' '$PL_TMP/portlessd-dev.log' | sort)
	e=\$(sed -n 's/.*session \([0-9a-f]\{8\}\) end:.*/\1/p' '$PL_TMP/portlessd-dev.log' | sort)
	[ -n \"\$s\" ] && [ \"\$s\" = \"\$e\" ]"

# --- two local users of the client at the same time, as two device users ---
pl_user "$C1"
pl_user "$C2"
for c in "$C1:$PL_USER" "$C2:$U2"; do
	ip netns exec "$PL_NS_CLI" runuser -u "${c%%:*}" -- env PORTLESS_SOCKET="$PL_SOCK" \
		timeout 60 "$PL_BIN/portless" ssh "${c#*:}@@device" -- 'sleep 3; id -un' \
		>"$PL_TMP/user-${c%%:*}.out" 2>"$PL_TMP/user-${c%%:*}.err" &
	pids+=($!)
	upids+=($!)
done
for _ in $(seq 50); do [ "$(status_rows)" -ge 2 ] && break; sleep 0.1; done
pl_check "both local users' sessions are up at the same time" test "$(status_rows)" -ge 2
wait "${upids[@]}"
pl_check "local user 1 logged in as $PL_USER" test "$(cat "$PL_TMP/user-$C1.out")" = "$PL_USER"
pl_check "local user 2 logged in as $U2" test "$(cat "$PL_TMP/user-$C2.out")" = "$U2"

# --- portless up held, ssh and scp at the same time, each ending on its own ---
pl_up up
UP_PID=$PL_UP_PID
head -c 3000000 /dev/urandom >"$PL_TMP/big.bin"
chmod 644 "$PL_TMP/big.bin"
client timeout 60 "$PL_BIN/portless" scp "$PL_TMP/big.bin" "$PL_USER@@device:/tmp/big-$$.bin" \
	>/dev/null 2>"$PL_TMP/scp.err" &
SCP=$!
client timeout 60 "$PL_BIN/portless" ssh "$PL_USER@@device" -- 'sleep 1; echo shell-ok' \
	>"$PL_TMP/held-ssh.out" 2>"$PL_TMP/held-ssh.err" &
SSH=$!
for _ in $(seq 50); do [ "$(pl_key_lines "$PL_USER")" -ge 3 ] && break; sleep 0.1; done
pl_check "three key lines while up, ssh and scp run" test "$(pl_key_lines "$PL_USER")" -ge 3
wait "$SSH"
pl_check "portless ssh beside a held session works" test "$(cat "$PL_TMP/held-ssh.out")" = shell-ok
wait "$SCP"
pl_check "portless scp beside it copies the file" bash -c \
	"cmp '$PL_TMP/big.bin' /tmp/big-$$.bin"
rm -f "/tmp/big-$$.bin"
for _ in $(seq 50); do [ "$(pl_key_lines "$PL_USER")" -eq 1 ] && break; sleep 0.1; done
pl_check "their key lines are gone, the held session's stays" test "$(pl_key_lines "$PL_USER")" -eq 1
cmd=$(cat "$PL_TMP/up.out")
out=$(ip netns exec "$PL_NS_CLI" timeout 30 $cmd echo still-up 2>&1)
pl_check "the held session still logs in" test "$out" = still-up

# --- IPv6: ssh -6 to the device's ULA through the same session ---
cmd6=$(sed -n 's/^portless: over IPv6: //p' "$PL_TMP/up.err")
pl_check "portless up shows the IPv6 command ($PL_DEV_VIP6)" grep -q -- "@$PL_DEV_VIP6" <<<"$cmd6"
out=$(ip netns exec "$PL_NS_CLI" timeout 30 ${cmd6/ssh /ssh -6 } echo v6-ok 2>"$PL_TMP/v6.err")
pl_check "ssh -6 to the device's ULA logs in" test "$out" = v6-ok
[ "$out" = v6-ok ] || tail -3 "$PL_TMP/v6.err"

down=$(client "$PL_BIN/portless" down @device)
pl_check "portless down closes the held session" grep -q "closed 1 session" <<<"$down"
wait "$UP_PID" 2>/dev/null
for _ in $(seq 1 50); do
	[ "$(pl_key_lines "$PL_USER")" -eq 0 ] && [ "$(pl_key_lines "$U2")" -eq 0 ] &&
		[ "$(pl_tun_count "$PL_NS_CLI")" -eq 0 ] && break
	sleep 0.1
done
pl_check "no portless line left for either device user" \
	test "$(pl_key_lines "$PL_USER")" -eq 0 -a "$(pl_key_lines "$U2")" -eq 0
pl_check "no TUN left on the client" test "$(pl_tun_count "$PL_NS_CLI")" -eq 0
pl_check "the client daemon is still running" kill -0 "$PL_CLI_PID"
pl_finish
