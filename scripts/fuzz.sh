#!/usr/bin/env bash
# Run every libFuzzer harness for SECONDS each, with its checked-in seed
# corpus (tests/fuzz/corpus/<name>/). New inputs go to a scratch directory,
# not the repository. Prints executions per second for each harness.
# usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR]
# Environment: PORTLESS_FUZZ_ONLY=REGEX runs only harnesses whose name
# (without fuzz_) matches, PORTLESS_FUZZ_SKIP=REGEX skips those that match;
# PORTLESS_FUZZ_RUNS=N stops each after N executions.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
dir=${2:-build-fuzz}
if [ ! -d "$dir/tests" ]; then
	CC=clang cmake -S . -B "$dir" -DPORTLESS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$dir" -j2 >/dev/null
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
# The harnesses are the sources in tests/fuzz/; a stale or helper binary in
# the build directory that happens to share the prefix is not one.
for src_file in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src_file" .c)
	f="$dir/tests/$name"
	if [ ! -x "$f" ]; then
		echo "fuzz: $name FAILED: $f was not built" >&2
		status=1
		continue
	fi
	if [ -n "${PORTLESS_FUZZ_ONLY:-}" ] && ! [[ ${name#fuzz_} =~ $PORTLESS_FUZZ_ONLY ]]; then
		continue
	fi
	if [ -n "${PORTLESS_FUZZ_SKIP:-}" ] && [[ ${name#fuzz_} =~ $PORTLESS_FUZZ_SKIP ]]; then
		continue
	fi
	corpus="tests/fuzz/corpus/${name#fuzz_}"
	mkdir -p "$scratch/$name"
	args=("$scratch/$name")
	[ -d "$corpus" ] && args+=("$corpus")
	if ! "$f" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
		-runs="${PORTLESS_FUZZ_RUNS:--1}" \
		-artifact_prefix="$scratch/" "${args[@]}" >"$scratch/$name.log" 2>&1; then
		echo "fuzz: $name FAILED" >&2
		tail -40 "$scratch/$name.log" >&2
		status=1
		continue
	fi
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$name.log" | grep -o '[0-9]*$' || echo 0)
	cov=$(grep -o 'cov: [0-9]*' "$scratch/$name.log" | tail -1 || true)
	echo "fuzz: $name ok: $runs runs in ${secs}s ($((runs / secs))/s), $cov"
done
exit $status
