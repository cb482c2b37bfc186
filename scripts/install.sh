#!/usr/bin/env bash
# Install portless: binaries, systemd units, example configs, and (on request) the
# sshd drop-in for a device. Idempotent: files are only rewritten when they
# differ, and nothing is started, enabled or restarted unless asked.
#
#   scripts/install.sh [--build DIR] [--prefix /usr/local] [--destdir DIR]
#                      [--sshd [--virtual-ip ADDR]] [--enable] [--start]
#
#   --build DIR       build directory holding cli/portless* (default: build)
#   --prefix DIR      where bin/ and share/doc/portless go (default: /usr/local)
#   --destdir DIR     stage everything under DIR (packaging, tests); no systemctl
#   --sshd            also install the sshd drop-in, its ssh.service ordering and
#                     the ip_nonlocal_bind sysctl (device hosts)
#   --virtual-ip ADDR the device's virtual address for sshd's ListenAddress
#   --enable          systemctl enable the units whose binaries were installed
#   --start           systemctl start them (portless-cp/sr need their env files)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build
PREFIX=/usr/local
DESTDIR=
SSHD=0
VIP=
ENABLE=0
START=0
CHANGED=0

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --destdir) DESTDIR=${2:?}; shift 2 ;;
    --sshd) SSHD=1; shift ;;
    --virtual-ip) VIP=${2:?}; shift 2 ;;
    --enable) ENABLE=1; shift ;;
    --start) START=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$DESTDIR" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or stage with --destdir)"
if [ -n "$VIP" ]; then
  [[ $VIP =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $VIP =~ ^[0-9a-fA-F:]+$ ]] || die "bad --virtual-ip $VIP"
fi
BINDIR=$PREFIX/bin
DOCDIR=$PREFIX/share/doc/portless
D=$DESTDIR

# put MODE SRC DEST: install only when the content or mode differs.
put() {
  local mode=$1 src=$2 dst=$D$3
  if [ -f "$dst" ] && cmp -s "$src" "$dst" && [ "$(stat -c %a "$dst")" = "$mode" ]; then
    return 0
  fi
  install -D -m "$mode" "$src" "$dst"
  echo "installed $3"
  CHANGED=1
}

# put_subst MODE SRC DEST: like put, with @BINDIR@ @DOCDIR@ @VIRTUAL_IP@ filled in.
put_subst() {
  local tmp
  tmp=$(mktemp)
  sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@DOCDIR@|$DOCDIR|g" "$2" >"$tmp"
  if [ -n "$VIP" ]; then
    sed -i "s|@VIRTUAL_IP@|$VIP|g" "$tmp"
  else
    sed -i '/@VIRTUAL_IP@/d' "$tmp"
  fi
  put "$1" "$tmp" "$3"
  rm -f "$tmp"
}

# keep MODE SRC DEST: install only when DEST does not exist (configs the admin edits).
keep() {
  [ -e "$D$3" ] && return 0
  install -D -m "$1" "$2" "$D$3"
  echo "installed $3"
  CHANGED=1
}

units=()
for prog in portless portless-cp portless-sr portlessd; do
  bin=$BUILD/cli/$prog
  if [ -x "$bin" ]; then
    put 755 "$bin" "$BINDIR/$prog"
    [ "$prog" = portless ] || units+=("$prog")
  else
    echo "install.sh: $bin not built, skipped" >&2
  fi
done

for u in portless-cp portless-sr portlessd; do
  put_subst 644 "$SRC/scripts/systemd/$u.service" "/etc/systemd/system/$u.service"
done
# Interface scripts ([interface] ifup/ifdown in portlessd.conf point here).
for s in portless-ifup portless-ifdown; do
  put 755 "$SRC/scripts/$s" "$PREFIX/lib/portless/$s"
done
install -d -m 755 "$D/etc/portless"
put 644 "$SRC/scripts/portlessd.conf.example" "/etc/portless/portlessd.conf.example"
keep 644 <(printf '%s\n' '# portless-cp options, e.g.:' \
  'PORTLESS_CP_ARGS=--listen 0.0.0.0:7443 --advertise cp.example.org:7443') \
  "/etc/portless/portless-cp.env"
keep 644 <(printf '%s\n' '# portless-sr options, e.g.:' \
  'PORTLESS_SR_ARGS=--tcp 0.0.0.0:7444 --udp 0.0.0.0:7444 --advertise sr.example.org') \
  "/etc/portless/portless-sr.env"
[ -f "$SRC/docs/ENDPOINT.md" ] && put 644 "$SRC/docs/ENDPOINT.md" "$DOCDIR/ENDPOINT.md"

if [ "$SSHD" = 1 ]; then
  [ -n "$VIP" ] || echo "install.sh: no --virtual-ip: sshd drop-in listens on 127.0.0.1 only" >&2
  put_subst 644 "$SRC/scripts/sshd-portless.conf" "/etc/ssh/sshd_config.d/portless.conf"
  put 644 "$SRC/scripts/systemd/ssh-after-portlessd.conf" "/etc/systemd/system/ssh.service.d/portless.conf"
  put 644 "$SRC/scripts/sysctl-portless.conf" "/etc/sysctl.d/60-portless.conf"
  if [ -z "$D" ]; then
    sysctl -q -p /etc/sysctl.d/60-portless.conf || true
    if command -v sshd >/dev/null && ! sshd -t; then
      die "sshd -t rejects the configuration; fix it before restarting ssh"
    fi
  fi
fi

# Users for the relay (the control plane uses DynamicUser).
if [ -z "$D" ] && ! getent passwd portless-sr >/dev/null; then
  useradd --system --no-create-home --home-dir /var/lib/portless-sr --shell /usr/sbin/nologin portless-sr
  echo "created system user portless-sr"
fi

if [ -z "$D" ] && [ -d /run/systemd/system ]; then
  [ "$CHANGED" = 1 ] && systemctl daemon-reload
  [ "$ENABLE" = 1 ] && [ ${#units[@]} -gt 0 ] && systemctl enable "${units[@]/%/.service}"
  [ "$START" = 1 ] && [ ${#units[@]} -gt 0 ] && systemctl start "${units[@]/%/.service}"
elif [ "$ENABLE" = 1 ] || [ "$START" = 1 ]; then
  echo "install.sh: systemd is not running here (or --destdir): not enabling/starting" >&2
fi
[ "$CHANGED" = 1 ] || echo "install.sh: everything already up to date"
