#!/usr/bin/env bash
# bench-aead.sh: single-thread AES-256-GCM throughput of the data plane's two
# backends (OpenSSL EVP, libsodium), seal and open in place with the 15-byte
# header as AAD, at 64, 1420, 16384 and 65536 bytes.
#
#   scripts/bench-aead.sh BUILD_DIR [SECONDS_PER_FIGURE]   (default 1)
#
# Runs tests/test_dp_aead --bench; nothing else is started. Use an optimised
# build (RelWithDebInfo or Release) and a quiet machine: the figures are
# per core, so anything else running on it lowers them.
set -eu
B=${1:-${PORTLESS_BUILD:-}}
[ -n "$B" ] || { echo "usage: $0 BUILD_DIR [SECONDS]"; exit 2; }
T=$B/tests/test_dp_aead
[ -x "$T" ] || { echo "missing $T (build the tree first)"; exit 1; }
exec "$T" --bench "${2:-1}"
