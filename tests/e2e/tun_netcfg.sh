#!/bin/bash
# SPDX-License-Identifier: MIT
# tun_netcfg: netcfg against the real kernel in a throw-away namespace
# (addresses, routes, error sentences, MTU, link, snapshot, sysctl restore).
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip"; exit 77; }
BIN=${PORTLESS_BUILD:?}/tests/tun_cfgcheck
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
N=pltuncfg$$
trap 'ip netns del "$N" 2>/dev/null' EXIT
ip netns add "$N" || { echo "SKIP: cannot create a network namespace"; exit 77; }
timeout 60 ip netns exec "$N" "$BIN"
