#!/usr/bin/env bash
# The whole portless flow on this one machine, in network namespaces:
#   pub    : portless-cp (directory + homes) and portless-sr (relay)
#   device : a real OpenSSH sshd on loopback + the device's virtual IP only,
#            portlessd (device role); no port open on its physical interface
#   client : portlessd (client role) and `portless ssh` -> plain ssh
# Installs dependencies and builds first. Run as root. Cleans up on exit/Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates network namespaces and a TUN per side)" >&2
	exit 1
fi
bash scripts/install-deps.sh
echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null

# shellcheck source=scripts/lib/topo.sh
. scripts/lib/topo.sh
pl_find_build
pl_tmp
trap pl_cleanup EXIT
trap 'exit 130' INT TERM
USER_NAME=pldemo

echo "== network namespaces: $PL_NS_CLI ($PL_CLI_IP) -- $PL_NS_PUB -- $PL_NS_DEV ($PL_DEV_IP)"
pl_topology_up
echo "== control plane + relay in $PL_NS_PUB; enrolling @relay, @device, @alice on their own hosts"
pl_world
echo "   control-plane key (pinned by every identity): $PL_CP_KEY"
pl_user "$USER_NAME"
echo "== device: portlessd (device role) and sshd"
pl_device "$USER_NAME"
echo "   @device's virtual address: $PL_DEV_VIP"
echo "== client: portlessd (client role)"
pl_client

echo
echo "== client\$ portless ssh $USER_NAME@@device -- 'hostname; id; uname -r'"
t0=$(date +%s.%N)
ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" \
	"$PL_BIN/portless" ssh "$USER_NAME@@device" -- 'hostname; id; uname -r'
t1=$(date +%s.%N)
printf '== whole command took %.0f ms\n' "$(echo "($t1 - $t0) * 1000" | bc)"

echo
echo "== listening sockets on the device (ss -ltnu): only loopback and the virtual address"
ip netns exec "$PL_NS_DEV" ss -ltnu
echo
echo "== a TCP connect to port 22 of the device's physical address $PL_DEV_IP from the client:"
if ip netns exec "$PL_NS_CLI" timeout 3 bash -c "exec 3<>/dev/tcp/$PL_DEV_IP/22" 2>/dev/null; then
	echo "   CONNECTED (unexpected!)"
	exit 1
else
	echo "   refused: nothing listens there"
fi
echo
echo "== demo done; cleaning up"
