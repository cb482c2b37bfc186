#!/usr/bin/env bash
# Type=notify readiness: portless-cp tells systemd READY=1 (through
# $NOTIFY_SOCKET, libsystemd's sd_notify) only once it accepts connections,
# so `systemctl start` returns when the service really serves. portless-sr
# and portlessd use the same helper (cli_notify_ready).
set -u
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
CP=$B/cli/portless-cp
if ! ldd "$CP" | grep -q libsystemd; then
	echo "SKIP: built without libsystemd"
	exit 77
fi
pl_loop_setup
T=$PL_TMP
PORT=$(pl_free_port tcp)
"$CP" init --data "$T/data" >/dev/null 2>&1 || { echo "init failed"; exit 1; }
# The notify socket: record each datagram and whether the port accepted a connection then.
cat >"$T/notify.py" <<'PY'
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
pl_bg notify python3 "$T/notify.py" "$T/notify.sock" "$PORT"
LIS=$PL_LAST_PID
pl_until 50 0.1 test -S "$T/notify.sock"
pl_bg srv env NOTIFY_SOCKET="$T/notify.sock" "$CP" serve --data "$T/data" --listen "127.0.0.1:$PORT"
pl_reap "$LIS"
cat "$T/notify.log"
grep -q "READY=1.* serving=True" "$T/notify.log" && pl_ok "READY=1 sent, and the port accepted connections by then" ||
	pl_fail "READY=1 not sent, or before the port served"
grep -q "STATUS=" "$T/notify.log" && pl_ok "a STATUS line for systemctl status" || pl_fail "no STATUS"
pl_finish
