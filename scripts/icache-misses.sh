#!/usr/bin/env bash
# Instruction-cache misses per iteration of the `stack` and `tcp` benchmark
# bodies, Lamina's against smoltcp's, from cachegrind's simulation of a
# 32 KiB, 8-way L1 instruction cache (the size of this machine's). Where
# a body's code does not fit, it misses on every iteration (a loop over
# more lines than the cache holds evicts each before its next use): this
# shows it without hardware counters, which shared VMs often lack. The
# simulation has no prefetcher, so a miss here costs less on a real CPU;
# the count says whether code size, not instruction count, is what a body
# pays for. Also printed: instructions per iteration, as
# `scripts/instr-ratios.sh` counts them.
#
# usage: scripts/icache-misses.sh [FUNCTION...]
#   FUNCTION: a function name of the groups without its stack, e.g.
#   stack/ping or tcp/handshake; all of them by default.
#
# Needs valgrind (apt-get install -y valgrind). Each body runs N and 2N
# times after its set-up; the difference over N is one iteration.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "icache-misses: needs valgrind (apt-get install -y valgrind)" >&2; exit 1; }

cargo build --release -q -p lamina-benches --example workload
bin="${CARGO_TARGET_DIR:-target}/release/examples/workload"

iterations() {
  case "$1" in
    stack/idle-poll) echo 20000 ;;
    tcp/bulk-*) echo 2 ;;
    stack/udp-*) echo 500 ;;
    *) echo 1000 ;;
  esac
}

count() { # NAME N -> "instructions I1-misses" of the whole run
  valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 \
    --LL=1048576,16,64 --cachegrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
    | awk '/I *refs:/ {gsub(",", "", $4); i=$4} /I1 *misses:/ {gsub(",", "", $4); m=$4} END {print i, m}'
}

per_iteration() { # NAME N -> "instructions misses" per iteration
  local a b
  read -r ai am < <(count "$1" "$2")
  read -r bi bm < <(count "$1" $(($2 * 2)))
  echo $(((bi - ai) / $2)) $(((bm - am) / $2))
}

if [ $# -gt 0 ]; then
  functions=("$@")
else
  mapfile -t functions < <("$bin" --list | sed -n 's#^\([a-z]*\)/lamina/#\1/#p')
fi

printf '%-18s %12s %10s %12s %10s\n' function "lamina ins" "I1 miss" "smoltcp ins" "I1 miss"
for f in "${functions[@]}"; do
  group=${f%%/*}
  name=${f#*/}
  n=$(iterations "$f")
  read -r li lm < <(per_iteration "$group/lamina/$name" "$n")
  read -r si sm < <(per_iteration "$group/smoltcp/$name" "$n")
  printf '%-18s %12s %10s %12s %10s\n' "$f" "$li" "$lm" "$si" "$sm"
done
