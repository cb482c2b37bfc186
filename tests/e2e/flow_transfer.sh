#!/usr/bin/env bash
# A 50 MB file copied to and from the device through the tunnel with plain
# ssh keeps its sha256, and a capture at the relay host during the transfer
# holds no SSH banner and no plaintext of the file (the relay only sees
# sealed packets).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/topo.sh"
pl_e2e_setup

MB=${PORTLESS_TRANSFER_MB:-50}
# A file with a recognisable plaintext marker repeated all through it.
python3 -c "
import os, sys
marker = b'PORTLESS-PLAINTEXT-MARKER-0123456789\n'
chunk = (marker * 1000 + os.urandom(64 * 1024))
n = $MB * 1024 * 1024
with open('$PL_TMP/up.bin', 'wb') as f:
    while n > 0:
        f.write(chunk[:n]); n -= len(chunk)
"
want=$(sha256sum "$PL_TMP/up.bin" | cut -d' ' -f1)

# Capture everything the relay host sees on both links while we copy, and,
# as the control that shows the checks can fail, the inside of the tunnel on
# the device's TUN (plaintext IP: the SSH banner and the file's marker are there).
ip netns exec "$PL_NS_PUB" tcpdump -i any -s 0 -U -w "$PL_TMP/relay.pcap" \
	"udp port 7444 or tcp port 7444" >"$PL_TMP/tcpdump.log" 2>&1 &
TCPDUMP=$!
PL_PIDS+=("$TCPDUMP")
DEVTUN=$(ip -n "$PL_NS_DEV" -o link show | sed -n 's/^[0-9]*: \(pl[0-9]*\):.*/\1/p' | head -1)
ip netns exec "$PL_NS_DEV" tcpdump -i "$DEVTUN" -s 0 -U -c 200 -w "$PL_TMP/tun.pcap" \
	"tcp port 22" >"$PL_TMP/tcpdump-tun.log" 2>&1 &
TCPDUMP_TUN=$!
PL_PIDS+=("$TCPDUMP_TUN")
pl_wait_log "$PL_TMP/tcpdump.log" "listening on" 10
pl_wait_log "$PL_TMP/tcpdump-tun.log" "listening on" 10

t0=$(date +%s.%N)
pl_ssh "$PL_USER" 'cat > upload.bin && sha256sum upload.bin' <"$PL_TMP/up.bin" >"$PL_TMP/up.sum" 2>"$PL_TMP/up.err"
t1=$(date +%s.%N)
pl_check "upload of $MB MB: the device's sha256 matches" grep -q "^$want " "$PL_TMP/up.sum"
pl_ssh "$PL_USER" 'cat upload.bin' >"$PL_TMP/down.bin" 2>"$PL_TMP/down.err"
t2=$(date +%s.%N)
got=$(sha256sum "$PL_TMP/down.bin" | cut -d' ' -f1)
pl_check "download of $MB MB: sha256 matches" test "$got" = "$want"
echo "upload $(echo "scale=1; $MB * 8 / ($t1 - $t0)" | bc) Mbit/s, download $(echo "scale=1; $MB * 8 / ($t2 - $t1)" | bc) Mbit/s (including ssh set-up)"

sleep 0.5
kill "$TCPDUMP" 2>/dev/null
wait "$TCPDUMP" 2>/dev/null
size=$(stat -c %s "$PL_TMP/relay.pcap")
pl_check "the relay capture holds the transfer ($size bytes)" test "$size" -gt $((MB * 1024 * 1024))
pl_check "no SSH-2.0 banner in any packet at the relay" bash -c "! grep -aq 'SSH-2.0' '$PL_TMP/relay.pcap'"
pl_check "no plaintext marker at the relay" bash -c "! grep -aq 'PORTLESS-PLAINTEXT-MARKER' '$PL_TMP/relay.pcap'"
kill "$TCPDUMP_TUN" 2>/dev/null
wait "$TCPDUMP_TUN" 2>/dev/null
pl_check "control: the device's TUN ($DEVTUN) shows the SSH-2.0 banner in the clear" \
	grep -aq 'SSH-2.0' "$PL_TMP/tun.pcap"
pl_finish
