#!/usr/bin/env bash
# The sshkey module's formats against the real OpenSSH tools: ssh-keygen must
# load our private key file, derive the same public line from it, and print
# the same SHA256 fingerprints as we do (for our keys and for ssh-keygen's own
# Ed25519, ECDSA and RSA keys). Needs no root.
set -euo pipefail
# shellcheck source=scripts/lib/loop.sh
. "$(dirname "$0")/../../scripts/lib/loop.sh"
B=${PORTLESS_BUILD:?}
GEN=$B/tests/sshkey_gen
command -v ssh-keygen >/dev/null || { echo "skip: no ssh-keygen"; exit 77; }
[ -x "$GEN" ] || { echo "missing $GEN"; exit 1; }
pl_loop_setup
T=$PL_TMP

for i in 1 2 3 4 5; do
  comment="portless-session:$(printf '%032x' "$i") test $i"
  fpr=$("$GEN" "$T/k$i" "$comment")
  [ "$(stat -c %a "$T/k$i")" = 600 ] || pl_die "private key mode"
  head -1 "$T/k$i" | grep -qx -- '-----BEGIN OPENSSH PRIVATE KEY-----' || pl_die "armour"
  # ssh-keygen -y re-derives the public key from our private file.
  derived=$(ssh-keygen -y -f "$T/k$i") || pl_die "ssh-keygen -y rejected our private key"
  ours=$(cut -d' ' -f1,2 "$T/k$i.pub")
  [ "$(echo "$derived" | cut -d' ' -f1,2)" = "$ours" ] || pl_die "public mismatch: $derived vs $ours"
  # ssh-keygen -l on both files: same fingerprint as ours, comment preserved.
  lpub=$(ssh-keygen -l -E sha256 -f "$T/k$i.pub")
  lpriv=$(ssh-keygen -l -E sha256 -f "$T/k$i")
  [ "$lpub" = "256 $fpr $comment (ED25519)" ] || pl_die "ssh-keygen -l pub: '$lpub' vs '$fpr'"
  [ "$(echo "$lpriv" | cut -d' ' -f2)" = "$fpr" ] || pl_die "ssh-keygen -l private: $lpriv"
  # The comment stored inside the private key is ours (ssh-keygen -l prints it).
  [ "$lpriv" = "256 $fpr $comment (ED25519)" ] || pl_die "private comment: $lpriv"
done

# Host keys of every type: our fingerprint parser against ssh-keygen's.
for t in ed25519 ecdsa rsa; do
  ssh-keygen -q -t "$t" -N '' -C "host-$t" -f "$T/host_$t"
  want=$(ssh-keygen -l -E sha256 -f "$T/host_$t.pub" | cut -d' ' -f2)
  got=$("$GEN" --fpr "$T/host_$t.pub")
  [ "$want" = "$got" ] || pl_die "$t fingerprint: ssh-keygen $want, ours $got"
done
echo "sshkey_roundtrip: 5 generated keys and 3 host key types agree with ssh-keygen"
