#!/usr/bin/env bash
# The one test command: installs dependencies, builds a normal and a
# sanitizer (ASan+UBSan) build, runs every test through ctest in both, and a
# short libFuzzer smoke round when clang is present. Exits non-zero on any
# failure. Run as root for the network-namespace end-to-end tests (they are
# skipped, not passed, without root).
#
# Environment: PORTLESS_FUZZ_SECONDS (default 10 per harness, 30 for the key
# file and envelope parsers; 0 skips the fuzz round), PORTLESS_TEST_JOBS
# (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
jobs=${PORTLESS_TEST_JOBS:-2}
fuzz_secs=${PORTLESS_FUZZ_SECONDS:-10}

bash scripts/install-deps.sh

build() { # dir, extra cmake args...
	local dir=$1; shift
	cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null 2>"$dir.log" || { cat "$dir.log" >&2; return 1; }
}

status=0
echo "== format (clang-format, .clang-format)"
if ! git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror 2>"build-format.log"; then
	head -40 build-format.log >&2
	echo "format: run clang-format -i on the files above" >&2
	status=1
fi
echo "== normal build"
build build
echo "== tests (normal build)"
ctest --test-dir build --output-on-failure || status=1

echo "== sanitizer build (ASan + UBSan)"
build build-asan -DPORTLESS_SANITIZE=ON
echo "== tests (sanitizer build)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure || status=1

if [ "$fuzz_secs" != 0 ] && command -v clang >/dev/null; then
	echo "== fuzz smoke (${fuzz_secs}s per harness)"
	CC=clang build build-fuzz -DPORTLESS_FUZZ=ON
	# the parsers of what lives on disk and what every notification carries: 30 s each
	PORTLESS_FUZZ_ONLY='^(keyfile|envelope)$' bash scripts/fuzz.sh "$((fuzz_secs * 3))" build-fuzz ||
		status=1
	PORTLESS_FUZZ_SKIP='^(keyfile|envelope)$' bash scripts/fuzz.sh "$fuzz_secs" build-fuzz || status=1
fi

if [ $status -ne 0 ]; then
	echo "FAILED" >&2
fi
exit $status
