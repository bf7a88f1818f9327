#!/usr/bin/env bash
# A fuzzing campaign over the cargo-fuzz targets in fuzz/: each target runs
# for SECONDS (default 900) on one core, starting from the committed seeds
# in fuzz/corpus/TARGET plus a working corpus kept outside the repository
# (WORK, default /tmp/lamina-fuzz), which is then minimized (cargo fuzz
# cmin). Prints one line per target with its executions; crashes land in
# fuzz/artifacts/TARGET and make the script exit non-zero. The targets are
# optimized and keep debug assertions and overflow checks (`-O -a`): an
# arithmetic overflow that bad input can cause is a crash here, as it is
# in a user's debug build.
#
#   scripts/fuzz-campaign.sh [-t SECONDS] [-w WORK] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain, or
# RUSTC_BOOTSTRAP=1 on stable (used when no nightly is installed).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=900
work=/tmp/lamina-fuzz
while getopts t:w: opt; do
  case $opt in
    t) secs=$OPTARG ;;
    w) work=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
if rustup toolchain list | grep -q nightly; then
  fuzz=(cargo +nightly fuzz)
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi
mkdir -p "$work"
status=0
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "$work/logs"
  log="$work/logs/$t.log"
  "${fuzz[@]}" build -O -a "$t" >/dev/null 2>&1
  start=$SECONDS
  if "${fuzz[@]}" run -O -a "$t" "$corpus" "corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
  fi
  ran=$((SECONDS - start))
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  # Keep the working corpus small: only inputs that add coverage.
  "${fuzz[@]}" cmin -O -a "$t" "$corpus" >/dev/null 2>&1 || true
  files=$(find "$corpus" -type f | wc -l)
  printf '%-14s %-5s %12s execs in %ss, corpus %s inputs\n' "$t" "$result" "${execs:-?}" "$ran" "$files"
done
exit $status
