#!/usr/bin/env bash
# Install portless: binaries, systemd units, manual pages, bash completion,
# documentation, example configs, the system user, and (on request) the sshd
# drop-in for a device. Idempotent: files are only rewritten when they
# differ, and nothing is started, enabled or restarted unless asked.
#
#   scripts/install.sh [--role cp|sr|device|client] [--build DIR] [--prefix /usr/local]
#                      [--destdir DIR] [--sshd [--virtual-ip ADDR]] [--enable] [--start]
#
#   --role ROLE       install only what ROLE needs (default: every role):
#                       cp      portless-cp and its unit (DynamicUser: no user made)
#                       sr      portless-sr, portless (to enroll it), its unit, user portless
#                       device  portlessd, portless, its unit, user portless (run-as default)
#                       client  portlessd, portless, its unit (runs as root: no user made)
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
ROLE=
VIP=
ENABLE=0
START=0
CHANGED=0

die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --role) ROLE=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --prefix) PREFIX=${2:?}; shift 2 ;;
    --destdir) DESTDIR=${2:?}; shift 2 ;;
    --sshd) SSHD=1; shift ;;
    --virtual-ip) VIP=${2:?}; shift 2 ;;
    --enable) ENABLE=1; shift ;;
    --start) START=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$DESTDIR" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or stage with --destdir)"
if [ -n "$VIP" ]; then
  [[ $VIP =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $VIP =~ ^[0-9a-fA-F:]+$ ]] || die "bad --virtual-ip $VIP"
fi
case $ROLE in
  '') PROGS="portless portless-cp portless-sr portlessd"; USERS="portless" ;;
  cp) PROGS="portless-cp"; USERS="" ;;
  sr) PROGS="portless portless-sr"; USERS="portless" ;;
  device) PROGS="portless portlessd"; USERS="portless" ;;
  client) PROGS="portless portlessd"; USERS="" ;;
  *) die "unknown --role $ROLE (cp, sr, device or client)" ;;
esac
command -v scdoc >/dev/null || die "scdoc is needed for the manual pages (scripts/install-deps.sh installs it)"
BINDIR=$PREFIX/bin
DOCDIR=$PREFIX/share/doc/portless
MANDIR=$PREFIX/share/man
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

# has PROG: is PROG part of the role(s) being installed?
has() { [[ " $PROGS " == *" $1 "* ]]; }

units=()
for prog in $PROGS; do
  bin=$BUILD/cli/$prog
  if [ -x "$bin" ]; then
    put 755 "$bin" "$BINDIR/$prog"
  else
    echo "install.sh: $bin not built, skipped" >&2
  fi
  [ "$prog" = portless ] && continue
  put_subst 644 "$SRC/scripts/systemd/$prog.service" "/etc/systemd/system/$prog.service"
  [ -x "$bin" ] && units+=("$prog")
done

# man_page SRC: the page generated from its scdoc source (the date is the
# source's commit date, so a rerun generates the same bytes).
man_page() {
  local src=$1 name sect tmp epoch
  name=$(basename "$src" .scd)
  sect=${name##*.}
  epoch=$(git -C "$SRC" log -1 --format=%ct -- "$src" 2>/dev/null || true)
  tmp=$(mktemp)
  SOURCE_DATE_EPOCH=${epoch:-$(stat -c %Y "$src")} scdoc <"$src" >"$tmp" || die "scdoc failed on $src"
  put 644 "$tmp" "$MANDIR/man$sect/$name"
  rm -f "$tmp"
}
for page in "$SRC"/docs/man/*.scd; do
  man_page "$page"
done
has portless && put 644 "$SRC/scripts/portless.bash-completion" "$PREFIX/share/bash-completion/completions/portless"
for doc in "$SRC"/docs/*.md; do
  put 644 "$doc" "$DOCDIR/$(basename "$doc")"
done

install -d -m 755 "$D/etc/portless"
if has portlessd; then
  # Interface scripts ([interface] ifup/ifdown in portlessd.conf point here).
  for s in portless-ifup portless-ifdown; do
    put 755 "$SRC/scripts/$s" "$PREFIX/lib/portless/$s"
  done
  put 644 "$SRC/scripts/portlessd.conf.example" "/etc/portless/portlessd.conf.example"
fi
has portless-cp && keep 644 <(printf '%s\n' '# portless-cp options (portless-cp(8)), e.g.:' \
  'PORTLESS_CP_ARGS=--listen 0.0.0.0:7443 --advertise cp.example.org:7443') \
  "/etc/portless/portless-cp.env"
has portless-sr && keep 644 <(printf '%s\n' '# portless-sr options (portless-sr(8)), e.g.:' \
  '# bind the address you advertise: a UDP reply leaves from the bound address, and' \
  '# on a host with several addresses 0.0.0.0 may answer from the wrong one.' \
  'PORTLESS_SR_ARGS=--tcp 192.0.2.20:7444 --udp 192.0.2.20:7444 --advertise 192.0.2.20') \
  "/etc/portless/portless-sr.env"

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

# The unprivileged user: portless-sr's unit runs as it, and portless-cp,
# portless-sr and portlessd (run-as) become it when started as root
# (PRIVDROP_DEFAULT_USER in cli/common/privdrop.h). The control plane's unit
# uses DynamicUser, the client role stays root: those roles make no user.
# A sysusers.d entry says so for packaging; without systemd-sysusers, useradd.
if [ -n "$USERS" ]; then
  put 644 "$SRC/scripts/systemd/portless.sysusers" "/etc/sysusers.d/portless.conf"
fi
for u in $USERS; do
  [ -z "$D" ] || continue
  getent passwd "$u" >/dev/null && continue
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers /etc/sysusers.d/portless.conf
  else
    useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin "$u"
  fi
  echo "created system user $u"
done

if [ -z "$D" ] && [ -d /run/systemd/system ]; then
  [ "$CHANGED" = 1 ] && systemctl daemon-reload
  [ "$ENABLE" = 1 ] && [ ${#units[@]} -gt 0 ] && systemctl enable "${units[@]/%/.service}"
  [ "$START" = 1 ] && [ ${#units[@]} -gt 0 ] && systemctl start "${units[@]/%/.service}"
elif [ "$ENABLE" = 1 ] || [ "$START" = 1 ]; then
  echo "install.sh: systemd is not running here (or --destdir): not enabling/starting" >&2
fi
[ "$CHANGED" = 1 ] || echo "install.sh: everything already up to date"
