# shellcheck shell=bash
# Shared by scripts/demo.sh, scripts/bench.sh and tests/e2e: a three-host
# topology in network namespaces, processes tracked by PID, and cleanup.
# Sources scripts/lib/loop.sh (bookkeeping, temp dir, PIDs, waits), so every
# pl_* helper of that file is here too.
#
#   client ns  --veth--  pub ns (portless-cp, portless-sr; routes)  --veth--  device ns
#   192.0.2.2/24       192.0.2.1/24 | 198.51.100.1/24                      198.51.100.2/24
#
# Addresses come from the documentation ranges (RFC 5737) and exist only
# inside these namespaces. pub forwards between the two links like the
# Internet would, so the client *could* reach the device's physical address;
# the tests show nothing listens there.

# shellcheck source=scripts/lib/loop.sh
. "$(dirname "${BASH_SOURCE[0]}")/loop.sh"

PL_NS_PUB="${PL_ID}-pub"
PL_NS_DEV="${PL_ID}-dev"
PL_NS_CLI="${PL_ID}-cli"
PL_PUB_CLI_IP=192.0.2.1
PL_CLI_IP=192.0.2.2
PL_PUB_DEV_IP=198.51.100.1
PL_DEV_IP=198.51.100.2
PL_USERS=()

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

pl_cleanup() {
	local ns u
	pl_stop_all
	for ns in "$PL_NS_CLI" "$PL_NS_DEV" "$PL_NS_PUB"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for u in "${PL_USERS[@]}"; do
		userdel -r "$u" >/dev/null 2>&1 || true
	done
	PL_USERS=()
	pl_rm_tmp
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
	pl_bg "$name" ip netns exec "$ns" "$@"
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

# pl_user NAME: create a throw-away local user (removed at cleanup).
pl_user() {
	local u=$1
	if ! id "$u" >/dev/null 2>&1; then
			useradd -m -s /bin/bash "$u"
		PL_USERS+=("$u")
	fi
	usermod -p '*' "$u" # no password, not locked: public keys only
}

# pl_sshd NS LISTEN_ADDRS...: a real OpenSSH sshd in NS listening only on
# the given addresses (port 22), its own host key, no passwords, logs to
# $PL_TMP/sshd.log. Sets PL_SSHD_HOSTKEY to the public host key path.
pl_sshd_hostkey() {
	mkdir -p "$PL_TMP/sshd" /run/sshd
	[ -f "$PL_TMP/sshd/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$PL_TMP/sshd/host_ed25519"
	PL_SSHD_HOSTKEY="$PL_TMP/sshd/host_ed25519.pub"
}

pl_sshd() {
	local ns=$1
	shift
	pl_sshd_hostkey
	{
		# PL_SSHD_EXTRA: lines of the test's own (e.g. AuthorizedKeysCommand); the
		# first of a keyword wins in sshd_config, so they come first
		printf '%s\n' "${PL_SSHD_EXTRA:-}"
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
		# sshd's default (10:30:100) refuses some of >10 logins in progress
		# at once; flow_concurrent starts 20
		echo "MaxStartups 64"
		echo "Subsystem sftp internal-sftp" # scp speaks SFTP (OpenSSH >= 9)
	} >"$PL_TMP/sshd/sshd_config"
	pl_start sshd "$ns" /usr/sbin/sshd -D -e -f "$PL_TMP/sshd/sshd_config"
	PL_SSHD_PID=$PL_LAST_PID
}

# pl_world: control plane and relay in pub, enrolled @relay, @device, @alice
# (plus any extra handles given), a device user, configs written. Sets
# PL_CP_KEY and PL_CODES. Call after pl_topology_up.
pl_world() {
	local extra=("$@") h
	PL_CP_KEY=$("$PL_BIN/portless-cp" init --data "$PL_TMP/cp")
	"$PL_BIN/portless-cp" add @relay @device @alice "${extra[@]}" --data "$PL_TMP/cp" >"$PL_TMP/codes"
	pl_start cp "$PL_NS_PUB" "$PL_BIN/portless-cp" serve --data "$PL_TMP/cp" \
		--listen 0.0.0.0:7443 --advertise "$PL_PUB_CLI_IP:7443"
	PL_CP_PID=$PL_LAST_PID
	pl_wait_tcp "$PL_NS_PUB" "$PL_PUB_CLI_IP" 7443
	pl_enroll "$PL_NS_PUB" @relay "$PL_TMP/relay"
	pl_enroll "$PL_NS_DEV" @device "$PL_TMP/device"
	pl_enroll "$PL_NS_CLI" @alice "$PL_TMP/alice"
	for h in "${extra[@]}"; do
		pl_enroll "$PL_NS_CLI" "$h" "$PL_TMP/${h#@}"
	done
	pl_sr_start
}

# pl_sr_start [VAR=VALUE...]: portless-sr in the public ns (environment for it
# in the arguments, e.g. PORTLESS_SR_NO_SPLICE=1). Sets PL_SR_PID.
pl_sr_start() {
	pl_start sr "$PL_NS_PUB" env "$@" "$PL_BIN/portless-sr" --keys "$PL_TMP/relay" \
		--tcp "$PL_PUB_CLI_IP:7444" --udp "$PL_PUB_CLI_IP:7444" --advertise "$PL_PUB_CLI_IP"
	PL_SR_PID=$PL_LAST_PID
	pl_wait_tcp "$PL_NS_PUB" "$PL_PUB_CLI_IP" 7444
}

# pl_enroll NS HANDLE KEYDIR
pl_enroll() {
	local code
	code=$(pl_code "$2")
	ip netns exec "$1" "$PL_BIN/portless" enroll "$2" --cp "$PL_PUB_CLI_IP:7443" \
		--server-key "$PL_CP_KEY" --code "$code" --keys "$3" >/dev/null
}

# pl_device USER [ALLOWED_HANDLE]: device config + portlessd + sshd on loopback and
# the virtual address. Sets PL_DEV_VIP, PL_DEV_VIP6 and PL_DEV_PID. PL_CONF_EXTRA: more
# config lines (e.g. an [interface] section), here and in pl_client;
# PL_DEV_EXTRA: more [device] lines; PL_DEV_USERS: the allowed users (default USER).
pl_device() {
	local user=$1 allow=${2:-@alice}
	pl_sshd_hostkey
	cat >"$PL_TMP/device.conf" <<CONF
[identity]
keys = $PL_TMP/device

[device]
enabled = yes
sshd-host-keys = $PL_SSHD_HOSTKEY
idle-timeout = ${PL_IDLE:-10m}
max-duration = ${PL_MAXDUR:-1h}
authorized-keys-users = ${PL_DEV_USERS:-$user}
${PL_DEV_EXTRA:-}

[allow $allow]
users = ${PL_DEV_USERS:-$user}
${PL_CONF_EXTRA:-}
CONF
	pl_start portlessd-dev "$PL_NS_DEV" "$PL_BIN/portlessd" -c "$PL_TMP/device.conf"
	PL_DEV_PID=$PL_LAST_PID
	pl_wait_log "$PL_TMP/portlessd-dev.log" "ready" 15
	PL_DEV_VIP=$(sed -n 's/.*device role: @device is \([0-9.]*\) on .*/\1/p' "$PL_TMP/portlessd-dev.log" | head -1)
	PL_DEV_VIP6=$(sed -n 's/.*device role: @device is .* (IPv6 \([0-9a-f:]*\)).*/\1/p' "$PL_TMP/portlessd-dev.log" | head -1)
	[ -n "$PL_DEV_VIP" ] || { echo "no virtual address in the device log" >&2; return 1; }
	if [ -z "${PL_SSHD_PID:-}" ]; then
		# PL_SSHD_V6=1: sshd listens on the device's IPv6 (ULA) virtual address too
		pl_sshd "$PL_NS_DEV" 127.0.0.1 "$PL_DEV_VIP" ${PL_SSHD_V6:+"$PL_DEV_VIP6"}
		pl_wait_tcp "$PL_NS_DEV" "$PL_DEV_VIP" 22
	fi
}

# pl_client [KEYDIR]: client-role portlessd in the client namespace. Sets PL_SOCK.
pl_client() {
	local keys=${1:-$PL_TMP/alice} name
	name=$(basename "$keys")
	PL_SOCK="$PL_TMP/run-$name/portlessd.sock"
	cat >"$PL_TMP/client-$name.conf" <<CONF
[identity]
keys = $keys

[client]
enabled = yes
socket = $PL_SOCK
sr = @relay
${PL_CONF_EXTRA:-}
CONF
	pl_start "portlessd-$name" "$PL_NS_CLI" "$PL_BIN/portlessd" -c "$PL_TMP/client-$name.conf"
	PL_CLI_PID=$PL_LAST_PID
	pl_wait_log "$PL_TMP/portlessd-$name.log" "ready" 15
}

# pl_up NAME: `portless up $PL_USER@@device` from the client namespace in the
# background, until it prints the ssh command; output in $PL_TMP/NAME.out and
# NAME.err. Sets PL_UP_PID.
pl_up() {
	ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" timeout 60 \
		"$PL_BIN/portless" up "$PL_USER@@device" >"$PL_TMP/$1.out" 2>"$PL_TMP/$1.err" &
	PL_UP_PID=$!
	pl_track "$PL_UP_PID"
	pl_wait_log "$PL_TMP/$1.out" "ssh -i" 20
}

# pl_ssh USER CMD...: `portless ssh USER@@device -- CMD` from the client namespace.
pl_ssh() {
	local user=$1
	shift
	ip netns exec "$PL_NS_CLI" env PORTLESS_SOCKET="$PL_SOCK" \
		timeout 120 "$PL_BIN/portless" ssh "$user@@device" -- "$@"
}

# Test bookkeeping (pl_ok, pl_fail, pl_check, pl_finish), pl_tmp, pl_log and
# pl_wait_log: scripts/lib/loop.sh.

# Number of TUN interfaces named pl* in namespace NS.
pl_tun_count() {
	ip -n "$1" -o link show 2>/dev/null | grep -c ': pl[0-9]*:' || true
}

# Lines with the portless marker in USER's authorized_keys.
pl_key_lines() {
	local home
	local n
	home=$(getent passwd "$1" | cut -d: -f6)
	n=$(grep -c 'portless-session:' "$home/.ssh/authorized_keys" 2>/dev/null)
	echo "${n:-0}"
}

# Standard e2e set-up: root check, build dir, temp dir, cleanup trap,
# topology, control plane + relay, device user + sshd + portlessd, client.
pl_e2e_setup() {
	pl_need_root
	pl_find_build || exit 1
	pl_tmp
	trap pl_cleanup EXIT
	trap 'exit 130' INT TERM
	PL_USER=${PL_USER:-pl$$u}
	pl_topology_up
	pl_world "$@"
	pl_user "$PL_USER"
	pl_device "$PL_USER"
	pl_client
}
