#!/usr/bin/env bash
# Type=notify readiness: portless-cp tells systemd READY=1 (through
# $NOTIFY_SOCKET, libsystemd's sd_notify) only once it accepts connections,
# so `systemctl start` returns when the service really serves. portless-sr
# and portlessd use the same helper (cli_notify_ready).
set -u
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
T=$(mktemp -d /tmp/sdn.XXXXXX)
SRV= LIS=
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	[ -n "$LIS" ] && kill "$LIS" 2>/dev/null && wait "$LIS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
if ! ldd "$CP" | grep -q libsystemd; then
	echo "SKIP: built without libsystemd"
	exit 77
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CP" init --data "$T/data" >/dev/null 2>&1 || { echo "init failed"; exit 1; }
# The notify socket: record each datagram and whether the port accepted a connection then.
python3 - "$T/notify.sock" "$PORT" >"$T/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        c = socket.socket()
        serving = c.connect_ex(("127.0.0.1", int(sys.argv[2]))) == 0
        c.close()
        print("got %r serving=%s" % (msg, serving), flush=True)
        if "READY=1" in msg:
            break
except socket.timeout:
    print("timeout", flush=True)
PY
LIS=$!
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$T/notify.sock" "$CP" serve --data "$T/data" --listen "127.0.0.1:$PORT" >"$T/srv.log" 2>&1 &
SRV=$!
wait "$LIS"
LIS=
cat "$T/notify.log"
fails=0
grep -q "READY=1.* serving=True" "$T/notify.log" && echo "ok   READY=1 sent, and the port accepted connections by then" ||
	{ echo "FAIL READY=1 not sent, or before the port served"; fails=1; }
grep -q "STATUS=" "$T/notify.log" && echo "ok   a STATUS line for systemctl status" ||
	{ echo "FAIL no STATUS"; fails=1; }
exit $fails
