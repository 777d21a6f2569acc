#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 300) with ASan+UBSan: the record decoder (with
# the table and JSON lines behind it), the recording reader, and the API's query parsing and
# rendering. Builds build-fuzz/ with clang (-DSYNFIN_FUZZ=ON) first (libFuzzer comes with
# libclang-rt-dev, which setup.sh installs).
#   bench/fuzz.sh [seconds] [target...]        targets: decoder recording api
# Seeds come from tests/fuzz/corpus/TARGET; what the fuzzer learns goes to
# build-fuzz/corpus/TARGET; a crash lands in build-fuzz/findings/TARGET/. Commit a crashing input
# to tests/fuzz/corpus/TARGET/ with its fix: ctest replays every committed input in every build.
# Prints runs, coverage and findings per target; it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(decoder recording api)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNFIN_FUZZ=ON > /dev/null
cmake --build build-fuzz -j2 --target "${targets[@]/#/synfin_fuzz_}" > /dev/null

for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target
  findings=build-fuzz/findings/$target
  mkdir -p "$corpus" "$findings"
  log=build-fuzz/fuzz-$target.log
  started=build-fuzz/findings/.started-$target
  touch "$started"  # findings newer than this are this run's
  set +e
  build-fuzz/tests/fuzz/synfin_fuzz_"$target" "$corpus" tests/fuzz/corpus/"$target" \
    -max_total_time="$seconds" -artifact_prefix="$findings/" -print_final_stats=1 \
    -rss_limit_mb=2048 > "$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  found=$(find "$findings" -type f -newer "$started" | wc -l)
  echo "$target: ${seconds} s, ${runs} runs, ${coverage:-cov: ?}, corpus $(ls "$corpus" | wc -l) inputs, exit $status, $found findings in $findings"
done
