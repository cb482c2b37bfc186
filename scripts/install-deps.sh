#!/usr/bin/env bash
# Install every Debian package portless needs to build, test, run the demo and
# the benchmarks. Idempotent; quiet on success; run as root.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libsodium-dev libssl-dev libev-dev libnl-3-dev libnl-route-3-dev libmnl-dev
  libcmocka-dev libsqlite3-dev libinih-dev libsystemd-dev
  libseccomp-dev libcap-ng-dev
  openssh-server openssh-client iproute2 iputils-ping netcat-openbsd
  procps tcpdump jq socat iperf3 coreutils util-linux kmod bc passwd pv
  wireguard-go wireguard-tools nebula fastd linux-perf python3 nftables
  sqlite3 scdoc man-db
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed for: ${missing[*]}" >&2
  exit 1
fi
