#!/usr/bin/env bash
# Fault: kill -9 of portless-cp while notifications are in flight.
#  - two senders (@n1, @n2) loop `portless notify @sink`; a live
#    `portless listen` for @sink runs throughout;
#  - an ssh command through the tunnel is running (sleep; echo done);
#  - portless-cp is killed with SIGKILL, stays down ~2 s, restarts.
# Asserts: every notification whose sender printed "delivered" (acked) is
# received by @sink; the device's portlessd reconnects by itself, with
# growing jittered back-off delays in its log; the running ssh command
# completes with its output; a new session works afterwards.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
PL_IDLE=2m
pl_e2e_setup @n1 @n2 @sink

CPCMD=("$PL_BIN/portless-cp" serve --data "$PL_TMP/cp" --listen 0.0.0.0:7443 --advertise "$PL_PUB_CLI_IP:7443")

# The session already up: a command that outlives the control plane outage.
( pl_ssh "$PL_USER" 'sleep 8; echo session-survived' >"$PL_TMP/ssh.out" 2>"$PL_TMP/ssh.err"
  echo $? >"$PL_TMP/ssh.rc" ) &
SSH_PID=$!
PL_PIDS+=("$SSH_PID")
pl_wait_log "$PL_TMP/ssh.err" "tunnel to @device ready" 30

# The receiver, live.
pl_start listen "$PL_NS_CLI" "$PL_BIN/portless" listen --keys "$PL_TMP/sink"
LISTEN_PID=$PL_LAST_PID
pl_wait_log "$PL_TMP/listen.log" "listening (connected)" 10

# Two senders: each line of acked.<n> is a message its sender saw acknowledged.
sender() {
	local who=$1 i
	for i in $(seq 1 400); do
		[ -f "$PL_TMP/stop" ] && break
		if ip netns exec "$PL_NS_CLI" timeout 10 "$PL_BIN/portless" notify @sink text "$who-$i" \
			--keys "$PL_TMP/$who" 2>>"$PL_TMP/notify-$who.err" | grep -q delivered; then
			echo "$who-$i" >>"$PL_TMP/acked.$who"
		else
			echo "$who-$i" >>"$PL_TMP/failed.$who"
		fi
	done
}
: >"$PL_TMP/acked.n1"; : >"$PL_TMP/acked.n2"
sender n1 & S1=$!
sender n2 & S2=$!
PL_PIDS+=("$S1" "$S2")
sleep 1.5

pl_log "kill -9 portless-cp ($PL_CP_PID)"
kill -9 "$PL_CP_PID"
t_kill=$(date +%s.%N)
sleep 2
pl_start cp2 "$PL_NS_PUB" "${CPCMD[@]}"
PL_CP_PID=$PL_LAST_PID
pl_wait_tcp "$PL_NS_PUB" "$PL_PUB_CLI_IP" 7443
t_up=$(date +%s.%N)
pl_log "portless-cp restarted"
sleep 3
touch "$PL_TMP/stop"
wait "$S1" "$S2" 2>/dev/null

# Everything acked must arrive (the listener reconnects by itself too).
cat "$PL_TMP"/acked.* | sort -u >"$PL_TMP/acked.all"
nacked=$(wc -l <"$PL_TMP/acked.all")
for _ in $(seq 1 150); do
	awk '$1 ~ /^@n[12]$/ {print $3}' "$PL_TMP/listen.log" | sort -u >"$PL_TMP/got.all"
	[ -z "$(comm -23 "$PL_TMP/acked.all" "$PL_TMP/got.all")" ] && break
	sleep 0.1
done
lost=$(comm -23 "$PL_TMP/acked.all" "$PL_TMP/got.all" | wc -l)
nfail=$(cat "$PL_TMP"/failed.* 2>/dev/null | wc -l)
ngot=$(wc -l <"$PL_TMP/got.all")
echo "acked=$nacked received=$ngot not-acked(failed during outage)=$nfail lost=$lost"
pl_check "senders got acks before and after the crash ($nacked)" test "$nacked" -ge 20
pl_check "no acknowledged notification lost ($lost of $nacked missing)" test "$lost" -eq 0
pl_check "received nothing that was never sent" \
	test -z "$(comm -13 <(cat "$PL_TMP"/acked.* "$PL_TMP"/failed.* 2>/dev/null | sort -u) "$PL_TMP/got.all")"
pl_check "the listener saw the outage and reconnected" \
	grep -q "disconnected:" "$PL_TMP/listen.log"

# The device reconnected by itself, with back-off and jitter.
pl_wait_log "$PL_TMP/portlessd-dev.log" "control plane: reconnect attempt" 5 >/dev/null
ndev=$(grep -c "control plane: connected to" "$PL_TMP/portlessd-dev.log")
pl_check "device portlessd logged the disconnect" grep -q "control plane: disconnected" "$PL_TMP/portlessd-dev.log"
for _ in $(seq 1 300); do
	[ "$(grep -c "control plane: connected to" "$PL_TMP/portlessd-dev.log")" -ge 2 ] && break
	sleep 0.1
done
ndev=$(grep -c "control plane: connected to" "$PL_TMP/portlessd-dev.log")
t_back=$(date +%s.%N)
pl_check "device portlessd reconnected by itself ($ndev connects)" test "$ndev" -ge 2
delays=$(sed -n 's/.*control plane: reconnect attempt [0-9]* in \([0-9.]*\) s.*/\1/p' "$PL_TMP/portlessd-dev.log" | tr '\n' ' ')
echo "device reconnect delays (s): $delays"
echo "outage: killed at $t_kill, cp listening again at $t_up, device back by $t_back"
# attempt k waits 0.5*2^(k-1) s +-25 %: the delays grow and are not exact multiples.
pl_check "back-off grows (first <= 0.7 s, a later one >= 0.7 s)" \
	awk -v d="$delays" 'BEGIN{n=split(d,a," "); exit !(n>=2 && a[1]<=0.7 && a[n]>=0.7)}'
pl_check "back-off is jittered (not exact powers of two)" \
	awk -v d="$delays" 'BEGIN{n=split(d,a," "); j=0; for(i=1;i<=n;i++){x=a[i]/0.5; while(x>=2)x/=2; if(x!=1)j=1}; exit !j}'

# The session that was up is untouched.
for _ in $(seq 1 200); do [ -f "$PL_TMP/ssh.rc" ] && break; sleep 0.1; done
pl_check "ssh command running during the crash completed (rc $(cat "$PL_TMP/ssh.rc" 2>/dev/null))" \
	test "$(cat "$PL_TMP/ssh.rc" 2>/dev/null)" = 0
pl_check "and printed its output" grep -q session-survived "$PL_TMP/ssh.out"
first_end=$(grep -m1 "session .* end @alice -> @device" "$PL_TMP/sr.log")
echo "relay: $first_end"
pl_check "the relay saw that session end normally (side A left), after the outage" \
	grep -Eq "reason=side A left duration=([89]|[1-9][0-9])\." <<<"$first_end"

# New sessions work with the restarted control plane.
out=$(pl_ssh "$PL_USER" 'echo after-restart' 2>"$PL_TMP/ssh2.err")
pl_check "a new session after the restart works" grep -q after-restart <<<"$out"
kill "$LISTEN_PID" 2>/dev/null
pl_finish
