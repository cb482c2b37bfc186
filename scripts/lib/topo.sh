# shellcheck shell=bash
# Shared by scripts/demo.sh, scripts/bench.sh and tests/e2e: a three-host
# topology in network namespaces, processes tracked by PID, and cleanup.
#
#   client ns  --veth--  pub ns (portless-cp, portless-sr; routes)  --veth--  device ns
#   192.0.2.2/24       192.0.2.1/24 | 198.51.100.1/24                      198.51.100.2/24
#
# Addresses come from the documentation ranges (RFC 5737) and exist only
# inside these namespaces. pub forwards between the two links like the
# Internet would, so the client *could* reach the device's physical address;
# the tests show nothing listens there.

PL_ID=${PL_ID:-pl$$}
PL_NS_PUB="${PL_ID}-pub"
PL_NS_DEV="${PL_ID}-dev"
PL_NS_CLI="${PL_ID}-cli"
PL_PUB_CLI_IP=192.0.2.1
PL_CLI_IP=192.0.2.2
PL_PUB_DEV_IP=198.51.100.1
PL_DEV_IP=198.51.100.2
PL_PIDS=()
PL_USERS=()
PL_TMP=${PL_TMP:-}

pl_log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

pl_need_root() {
	if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: needs root, /dev/net/tun and network namespaces" >&2
		exit 77
	fi
}

# Find the build directory with the programs (PORTLESS_BUILD, else build/).
pl_find_build() {
	local src
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	PL_SRC=${PORTLESS_SRC:-$src}
	PL_BUILD=${PORTLESS_BUILD:-$PL_SRC/build}
	PL_BIN=$PL_BUILD/cli
	for p in portless portless-cp portless-sr portlessd; do
		[ -x "$PL_BIN/$p" ] || { echo "missing $PL_BIN/$p (build first)" >&2; return 1; }
	done
}

pl_tmp() {
	[ -n "$PL_TMP" ] || PL_TMP=$(mktemp -d "/tmp/${PL_ID}.XXXXXX")
	chmod 755 "$PL_TMP"
}

pl_cleanup() {
	local pid ns u
	for pid in "${PL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PL_PIDS[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	PL_PIDS=()
	for ns in "$PL_NS_CLI" "$PL_NS_DEV" "$PL_NS_PUB"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for u in "${PL_USERS[@]}"; do
		userdel -r "$u" >/dev/null 2>&1 || true
	done
	PL_USERS=()
	if [ -n "$PL_TMP" ] && [ -z "${PL_KEEP:-}" ]; then
		rm -rf "$PL_TMP"
	fi
}

pl_topology_up() {
	ip netns add "$PL_NS_PUB"
	ip netns add "$PL_NS_DEV"
	ip netns add "$PL_NS_CLI"
	for ns in "$PL_NS_PUB" "$PL_NS_DEV" "$PL_NS_CLI"; do
		ip -n "$ns" link set lo up
	done
	ip link add "${PL_ID}c" netns "$PL_NS_CLI" type veth peer name "${PL_ID}pc" netns "$PL_NS_PUB"
	ip link add "${PL_ID}d" netns "$PL_NS_DEV" type veth peer name "${PL_ID}pd" netns "$PL_NS_PUB"
	ip -n "$PL_NS_CLI" addr add "$PL_CLI_IP/24" dev "${PL_ID}c"
	ip -n "$PL_NS_PUB" addr add "$PL_PUB_CLI_IP/24" dev "${PL_ID}pc"
	ip -n "$PL_NS_DEV" addr add "$PL_DEV_IP/24" dev "${PL_ID}d"
	ip -n "$PL_NS_PUB" addr add "$PL_PUB_DEV_IP/24" dev "${PL_ID}pd"
	ip -n "$PL_NS_CLI" link set "${PL_ID}c" up
	ip -n "$PL_NS_PUB" link set "${PL_ID}pc" up
	ip -n "$PL_NS_DEV" link set "${PL_ID}d" up
	ip -n "$PL_NS_PUB" link set "${PL_ID}pd" up
	ip -n "$PL_NS_CLI" route add default via "$PL_PUB_CLI_IP"
	ip -n "$PL_NS_DEV" route add default via "$PL_PUB_DEV_IP"
	ip netns exec "$PL_NS_PUB" sysctl -qw net.ipv4.ip_forward=1
}

# pl_start NAME NS CMD...: run CMD in namespace NS in the background, output
# to $PL_TMP/NAME.log; the PID is remembered for cleanup and put in PL_LAST_PID.
pl_start() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$PL_TMP/$name.log" 2>&1 &
	PL_LAST_PID=$!
	PL_PIDS+=("$PL_LAST_PID")
}

# pl_wait_tcp NS IP PORT [SECONDS]: wait until something listens there.
pl_wait_tcp() {
	local ns=$1 ip=$2 port=$3 secs=${4:-10} i
	for i in $(seq 1 $((secs * 20))); do
		ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timeout waiting for $ip:$port in $ns" >&2
	return 1
}

# pl_wait_log FILE PATTERN [SECONDS]
pl_wait_log() {
	local f=$1 pat=$2 secs=${3:-10} i
	for i in $(seq 1 $((secs * 20))); do
		grep -q -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timeout waiting for '$pat' in $f" >&2
	tail -20 "$f" >&2 || true
	return 1
}

# pl_user NAME: create a throw-away local user (removed at cleanup).
pl_user() {
	local u=$1
	if ! id "$u" >/dev/null 2>&1; then
		useradd -m -s /bin/bash "$u"
		PL_USERS+=("$u")
	fi
	passwd -d "$u" >/dev/null 2>&1 || true
	usermod -p '*' "$u" 2>/dev/null || true
}

# pl_sshd NS LISTEN_ADDRS...: a real OpenSSH sshd in NS listening only on
# the given addresses (port 22), its own host key, no passwords, logs to
# $PL_TMP/sshd.log. Sets PL_SSHD_HOSTKEY to the public host key path.
pl_sshd() {
	local ns=$1
	shift
	mkdir -p "$PL_TMP/sshd" /run/sshd
	[ -f "$PL_TMP/sshd/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$PL_TMP/sshd/host_ed25519"
	{
		for a in "$@"; do echo "ListenAddress $a"; done
		echo "HostKey $PL_TMP/sshd/host_ed25519"
		echo "PidFile $PL_TMP/sshd/sshd.pid"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "PubkeyAuthentication yes"
		echo "AuthorizedKeysFile .ssh/authorized_keys"
		echo "UsePAM no"
		echo "PermitRootLogin no"
		echo "StrictModes yes"
		echo "LogLevel VERBOSE"
	} >"$PL_TMP/sshd/sshd_config"
	PL_SSHD_HOSTKEY="$PL_TMP/sshd/host_ed25519.pub"
	pl_start sshd "$ns" /usr/sbin/sshd -D -e -f "$PL_TMP/sshd/sshd_config"
	PL_SSHD_PID=$PL_LAST_PID
}
