#!/usr/bin/env bash
# scripts/install.sh staged into a temporary --destdir: the files land with the
# right modes and substitutions, a second run changes nothing, admin-edited env
# files are kept, and systemd-analyze accepts the units. Touches nothing outside
# the staging directory.
set -euo pipefail
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
S=${PORTLESS_SRC:?}
B=${PORTLESS_BUILD:?}
pl_loop_setup
T=$PL_TMP

bash "$S/scripts/install.sh" --build "$B" --destdir "$T/root" --prefix /opt/pl --sshd --virtual-ip 100.64.9.9 >"$T/out1" 2>&1 \
  || { cat "$T/out1"; pl_die "first run"; }
for f in etc/systemd/system/portlessd.service etc/systemd/system/portless-cp.service \
  etc/systemd/system/portless-sr.service etc/portless/portlessd.conf.example \
  etc/ssh/sshd_config.d/portless.conf etc/systemd/system/ssh.service.d/portless.conf \
  etc/sysctl.d/60-portless.conf; do
  [ -f "$T/root/$f" ] || pl_die "missing $f"
  [ "$(stat -c %a "$T/root/$f")" = 644 ] || pl_die "mode of $f"
done
grep -qx 'ExecStart=/opt/pl/bin/portlessd --config /etc/portless/portlessd.conf' \
  "$T/root/etc/systemd/system/portlessd.service" || pl_die "BINDIR not substituted"
grep -qx 'ListenAddress 100.64.9.9' "$T/root/etc/ssh/sshd_config.d/portless.conf" || pl_die "VIP"
grep -q '@' "$T/root/etc/ssh/sshd_config.d/portless.conf" && pl_die "placeholder left"
for b in portless-cp portless-sr portlessd; do
  if [ -x "$B/cli/$b" ]; then
    [ "$(stat -c %a "$T/root/opt/pl/bin/$b")" = 755 ] || pl_die "binary $b"
  fi
done

for s in portless-ifup portless-ifdown; do
  [ "$(stat -c %a "$T/root/opt/pl/lib/portless/$s")" = 755 ] || pl_die "interface script $s"
done

for f in share/man/man1/portless.1 share/man/man8/portless-cp.8 share/man/man8/portless-sr.8 \
  share/man/man8/portlessd.8 share/man/man5/portlessd.conf.5 share/bash-completion/completions/portless \
  share/doc/portless/OPERATIONS.md share/doc/portless/FAULTS.md; do
  [ "$(stat -c %a "$T/root/opt/pl/$f" 2>/dev/null)" = 644 ] || pl_die "missing or mode of /opt/pl/$f"
done
grep -q '^PORTLESS_SR_ARGS=.*0\.0\.0\.0' "$T/root/etc/portless/portless-sr.env" && pl_die "sr env binds 0.0.0.0"
grep -q '^\[controlplane\]' "$T/root/etc/portless/portlessd.conf.example" && pl_die "example overrides cp.conf"

echo 'PORTLESS_CP_ARGS=--listen 127.0.0.1:1' >"$T/root/etc/portless/portless-cp.env"
bash "$S/scripts/install.sh" --build "$B" --destdir "$T/root" --prefix /opt/pl --sshd --virtual-ip 100.64.9.9 >"$T/out2" 2>&1
grep -q 'everything already up to date' "$T/out2" || { cat "$T/out2"; pl_die "second run changed files"; }
grep -qx 'PORTLESS_CP_ARGS=--listen 127.0.0.1:1' "$T/root/etc/portless/portless-cp.env" || pl_die "env file overwritten"

# Without --virtual-ip the drop-in keeps loopback only.
bash "$S/scripts/install.sh" --build "$B" --destdir "$T/r2" --sshd >/dev/null 2>&1
[ "$(grep -c '^ListenAddress' "$T/r2/etc/ssh/sshd_config.d/portless.conf")" = 1 ] || pl_die "loopback-only drop-in"

if command -v systemd-analyze >/dev/null; then
  mkdir "$T/units"
  for u in portless-cp portless-sr portlessd; do
    sed "s|/opt/pl/bin/$u|/bin/true|" "$T/root/etc/systemd/system/$u.service" >"$T/units/$u.service"
  done
  out=$(cd "$T/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
    ./portless-cp.service ./portless-sr.service ./portlessd.service 2>&1 || true)
  echo "$out" | grep -Ei 'unknown|invalid|failed to parse|ignoring' && pl_die "systemd-analyze: $out"
fi
echo "install_script: staged install correct, idempotent, units verified"
