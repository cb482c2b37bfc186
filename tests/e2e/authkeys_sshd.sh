#!/usr/bin/env bash
# authkeys + sshkey against a real sshd (OpenSSH on 127.0.0.1, a scratch user):
# our key line lets exactly the session in (with a pty), from= and
# expiry-time= are honoured by sshd, removal locks the key out again, and the
# user's own lines survive. Needs root (user creation, sshd); skips otherwise.
set -euo pipefail
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || { echo "skip: no sshd"; exit 77; }
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
GEN=$B/tests/sshkey_gen
TOOL=$B/tests/authkeys_tool
pl_loop_setup 755
T=$PL_TMP
U=plak$$
U=${U:0:16}
deluser() { userdel -r "$U" >/dev/null 2>&1 || true; }
PL_CLEANUP_HOOK=deluser # after sshd stopped, before the temp dir goes

useradd -m -d "$T/home" -s /bin/sh "$U"
usermod -p '*' "$U" # no password, not locked: public keys only
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
PORT=$(pl_free_port tcp)
cat >"$T/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/hostkey
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
AllowUsers $U
CFG
pl_bg sshd "$SSHD" -D -e -f "$T/sshd_config"
pl_wait_lo_tcp "$PORT" 5 || true

try() { # key, command...
  local k=$1
  shift
  timeout 20 ssh -F none -i "$k" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$PORT" "$U@127.0.0.1" "$@"
}

# The user's own line must survive everything we do.
mkdir -m 700 "$T/home/.ssh"
printf '# own key\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3ec2nrpX2bt4aFEfJHaCBTvg8GUeMT3h2e8ffRf6Hu mine' \
  >"$T/home/.ssh/authorized_keys"
chown -R "$U:$U" "$T/home/.ssh"
chmod 600 "$T/home/.ssh/authorized_keys"

now=$(date +%s)
S1=00112233445566778899aabbccddeeff
S2=0000000000000000000000000000000a
S3=0000000000000000000000000000000b
"$GEN" "$T/k1" c1 >/dev/null
"$GEN" "$T/k2" c2 >/dev/null
"$GEN" "$T/k3" c3 >/dev/null
line=$("$TOOL" install "$U" 127.0.0.1 $((now + 600)) $S1 "$T/k1.pub")
echo "installed: $line"
"$TOOL" install "$U" 127.0.0.2 $((now + 600)) $S2 "$T/k2.pub" >/dev/null   # wrong from=
"$TOOL" install "$U" 127.0.0.1 $((now - 60)) $S3 "$T/k3.pub" >/dev/null    # expired
[ "$(stat -c '%U %a' "$T/home/.ssh/authorized_keys")" = "$U 600" ] || pl_die "owner/mode"

out=$(try "$T/k1" 'echo in-as-$(id -un)') || pl_die "session key refused: $(tail -5 "$T/sshd.log")"
[ "$out" = "in-as-$U" ] || pl_die "unexpected output $out"

# knownhosts: HostKeyAlias=@dev with our file verifies sshd's real host key, no prompt;
# the same file holding another key makes ssh refuse.
"$GEN" --known-hosts @dev "$T/hostkey.pub" "$T/kh"
strict() {
  timeout 20 ssh -F none -i "$T/k1" -o IdentitiesOnly=yes -o BatchMode=yes -o HostKeyAlias=@dev \
    -o UserKnownHostsFile="$1" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
    -o LogLevel=ERROR -p "$PORT" "$U@127.0.0.1" true
}
strict "$T/kh" || pl_die "host key not verified through HostKeyAlias=@dev"
"$GEN" --known-hosts @dev "$T/k2.pub" "$T/kh-wrong"
strict "$T/kh-wrong" 2>/dev/null && pl_die "a wrong host key was accepted"
tty=$(try "$T/k1" -tt tty | tr -d '\r') || pl_die "pty refused"
case $tty in /dev/pts/*) ;; *) pl_die "no pty: $tty" ;; esac
try "$T/k2" true 2>/dev/null && pl_die "from= not honoured"
try "$T/k3" true 2>/dev/null && pl_die "expiry-time= not honoured"
# restrict: no port forwarding
if timeout 10 ssh -F none -i "$T/k1" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes -o LogLevel=ERROR -p "$PORT" \
  -W 127.0.0.1:$PORT "$U@127.0.0.1" </dev/null >/dev/null 2>&1; then
  pl_die "restrict did not stop forwarding"
fi

[ "$("$TOOL" remove "$U" $S1)" = 1 ] || pl_die "remove count"
try "$T/k1" true 2>/dev/null && pl_die "key still works after removal"
[ "$("$TOOL" remove-all "$U" nosuchuser-pl)" = 2 ] || pl_die "remove-all count"
grep -q portless-session "$T/home/.ssh/authorized_keys" && pl_die "portless line left"
printf '# own key\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3ec2nrpX2bt4aFEfJHaCBTvg8GUeMT3h2e8ffRf6Hu mine\n' \
  | cmp - "$T/home/.ssh/authorized_keys" || pl_die "user's own lines changed"
echo "authkeys_sshd: sshd accepted the session key with a pty, ssh verified the host key via HostKeyAlias=@dev, refused wrong from=, expired key, forwarding, and the removed key"
